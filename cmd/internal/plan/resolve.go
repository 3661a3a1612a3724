package plan

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/cvv-project/cvv/cmd/internal/usage"
	"github.com/cvv-project/cvv/internal/fserr"
)

// Dest is one destination of the plan.
type Dest struct {
	// Arg is the destination as given on the command line.
	Arg string
	// Path is the absolute destination: the root directory of the copy for
	// a directory source, the target file for a file source.
	Path string
	// Missing lists the directories that do not exist yet and must be
	// created, outermost first (for a file source: the target's parents).
	// Without ResolveOptions.MkPath it holds at most the destination itself
	// (or, for a file source, the directory DEST/ the file goes into).
	Missing []string
	// place is where Path leads, for the overlap checks.
	place place
}

// Root returns the directory the destination's files are relative to: the
// root of the copy for a directory source, the directory holding the target
// for a file source.
func (d Dest) Root(sourceIsDir bool) string {
	if sourceIsDir {
		return d.Path
	}
	return filepath.Dir(d.Path)
}

// Plan is a validated command line: one source, its destinations.
type Plan struct {
	// Arg is the source as given.
	Arg string
	// Source is the absolute, symlink-resolved source path.
	Source string
	// IsDir reports whether the source is a directory.
	IsDir bool
	// Dests are the destinations, in command-line order.
	Dests []Dest
	// source is where Source leads, for the overlap checks.
	source place
}

// ResolveOptions change what Resolve accepts.
type ResolveOptions struct {
	// MkPath lets a destination have missing parents (they are created);
	// otherwise only its last component may be missing.
	MkPath bool
}

// Name is the name of the source as given: the base name of Arg. A file
// source is reported under this name, even when Arg is a symlink.
func (p *Plan) Name() string { return filepath.Base(filepath.Clean(p.Arg)) }

// Target returns the path under destination i of the entry at rel (see
// Entry.Rel). For a file source it is the destination's target file.
func (p *Plan) Target(i int, rel string) string {
	if !p.IsDir || rel == "" {
		return p.Dests[i].Path
	}
	return filepath.Join(p.Dests[i].Path, rel)
}

// Resolve validates the source and the destinations without writing
// anything. It returns an error wrapping usage.ErrUsage for: a missing or
// unsupported source, no destination, a destination that overlaps the source
// (the same directory, inside it or holding it) or another destination (the
// same, or nested), a directory source onto an existing non-directory, a file
// source onto an existing directory's subdirectory of the same name, a
// destination with a missing parent (unless o.MkPath), and a destination
// whose missing directories cannot be created (a non-directory in the way,
// no write permission, a read-only filesystem).
//
// Overlaps are decided by device and inode (see place), never by spelling:
// symlinks, "..", trailing slashes and bind mounts do not hide one.
//
// For a file source, a destination that is an existing directory (or that
// ends in a path separator) receives DEST/<basename>; otherwise it is the
// target file path.
func Resolve(src string, dests []string, o ResolveOptions) (*Plan, error) {
	if src == "" {
		return nil, usage.Errorf("no source given")
	}
	if len(dests) == 0 {
		return nil, usage.Errorf("no destination given (usage: cvv [flags] SOURCE DEST...)")
	}
	abs, err := filepath.Abs(src)
	if err != nil {
		return nil, usage.Errorf("source %s: %v", src, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, usage.Errorf("source %s does not exist", src)
		}
		return nil, usage.Errorf("source %s: %v", src, fserr.Strip(err))
	}
	if !fi.IsDir() && !fi.Mode().IsRegular() {
		return nil, usage.Errorf("source %s is not a regular file or a directory", src)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, usage.Errorf("source %s: %v", src, fserr.Strip(err))
	}
	p := &Plan{Arg: src, Source: real, IsDir: fi.IsDir()}
	if p.source, err = placeOf(real); err != nil {
		return nil, usage.Errorf("source %s: %v", src, err)
	}
	for _, arg := range dests {
		d, err := p.resolveDest(arg, filepath.Base(abs), o)
		if err != nil {
			return nil, err
		}
		for _, prev := range p.Dests {
			if err := destOverlap(prev, d); err != nil {
				return nil, err
			}
		}
		p.Dests = append(p.Dests, d)
	}
	return p, nil
}

// sourceOverlap refuses a destination d that is the source, lies inside a
// directory source, or holds the source.
func (p *Plan) sourceOverlap(d Dest) error {
	switch {
	case d.place.self == p.source.self:
		return usage.Errorf("destination %s is the source", d.Arg)
	case p.IsDir && d.place.within(p.source):
		return usage.Errorf("destination %s is inside the source %s", d.Arg, p.Arg)
	case p.IsDir && p.source.within(d.place):
		return usage.Errorf("destination %s holds the source %s (it would write into the source)", d.Arg, p.Arg)
	}
	return nil
}

// CheckTree refuses a destination that is, or lies below, a directory of
// the walked source tree t: a bind mount of a source directory elsewhere, or
// a mount of the destination inside the source, which the paths alone
// do not show.
func (p *Plan) CheckTree(t *Tree) error {
	for _, d := range p.Dests {
		for key := range d.place.above {
			if rel, ok := t.dirIDs[key]; ok {
				return usage.Errorf("destination %s is inside the source %s (it is the source's directory %q)", d.Arg, p.Arg, filepath.Join(filepath.Base(t.Root), rel))
			}
		}
	}
	return nil
}

// destOverlap refuses two destinations that are the same or nest.
func destOverlap(a, b Dest) error {
	switch {
	case a.place.self == b.place.self && a.Arg == b.Arg:
		return usage.Errorf("destination %s is given twice", a.Arg)
	case a.place.self == b.place.self:
		return usage.Errorf("destinations %s and %s are the same", a.Arg, b.Arg)
	case b.place.within(a.place):
		return usage.Errorf("destination %s is inside destination %s", b.Arg, a.Arg)
	case a.place.within(b.place):
		return usage.Errorf("destination %s is inside destination %s", a.Arg, b.Arg)
	}
	return nil
}

func (p *Plan) resolveDest(arg, base string, o ResolveOptions) (Dest, error) {
	if arg == "" {
		return Dest{}, usage.Errorf("empty destination path")
	}
	abs, err := filepath.Abs(arg)
	if err != nil {
		return Dest{}, usage.Errorf("destination %s: %v", arg, err)
	}
	fi, err := os.Stat(abs)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Dest{}, usage.Errorf("destination %s: %v", arg, fserr.Strip(err))
	}
	// The last component of the destination as given, which cvv may
	// create: the root of a tree copy, the directory DEST/ a file goes
	// into; a file target path has none.
	mayCreate := 1
	if !p.IsDir {
		mayCreate = 0
	}
	if !p.IsDir && (exists && fi.IsDir() || !exists && strings.HasSuffix(arg, string(filepath.Separator))) {
		mayCreate = 1
		abs = filepath.Join(abs, base)
		fi, err = os.Stat(abs)
		exists = err == nil
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return Dest{}, usage.Errorf("destination %s: %v", abs, fserr.Strip(err))
		}
	}
	if exists {
		switch {
		case p.IsDir && !fi.IsDir():
			return Dest{}, usage.Errorf("destination %s exists and is not a directory (the source %s is a directory)", arg, p.Arg)
		case !p.IsDir && fi.IsDir():
			return Dest{}, usage.Errorf("destination %s is a directory (the source %s is a file)", abs, p.Arg)
		}
	}
	missing, err := missingDirs(abs)
	if err != nil {
		return Dest{}, usage.Errorf("destination %s: %v", arg, err)
	}
	d := Dest{Arg: arg, Path: abs}
	if d.place, err = placeOf(abs); err != nil {
		return Dest{}, usage.Errorf("destination %s: %v", arg, err)
	}
	if err := p.sourceOverlap(d); err != nil {
		return Dest{}, err
	}
	// The directories to create: all of a directory destination that does
	// not exist, the missing parents of a file target.
	if !p.IsDir && len(missing) > 0 {
		missing = missing[:len(missing)-1]
	}
	if len(missing) > mayCreate && !o.MkPath {
		return Dest{}, usage.Errorf("destination %s: directory %s does not exist (cvv creates only the last directory of a destination; --mkpath creates the others)", arg, missing[0])
	}
	if len(missing) > 0 {
		parent := filepath.Dir(missing[0])
		if err := checkCreatable(parent); err != nil {
			return Dest{}, usage.Errorf("cannot create destination %s: %v", arg, err)
		}
	} else if err := checkCreatable(filepath.Dir(abs)); err != nil && !exists {
		return Dest{}, usage.Errorf("cannot create destination %s: %v", arg, err)
	}
	d.Missing = missing
	return d, nil
}

// missingDirs lists the absolute paths (as spelled in abs) of the components
// of abs that do not exist, outermost first. A non-directory or a dangling
// symlink in the way is an error.
func missingDirs(abs string) (missing []string, err error) {
	p := abs
	for {
		_, err := os.Lstat(p)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fserr.Strip(err)
		}
		parent := filepath.Dir(p)
		if parent == p {
			break
		}
		missing = append([]string{p}, missing...)
		p = parent
	}
	fi, err := os.Stat(p)
	if err != nil {
		// A dangling symlink in the way of a destination.
		return nil, fserr.Strip(err)
	}
	if len(missing) > 0 && !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", p)
	}
	return missing, nil
}
