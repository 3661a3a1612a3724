package plan

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/cvv-project/cvv"
)

// Dest is one destination of the plan.
type Dest struct {
	// Arg is the destination as given on the command line.
	Arg string
	// Path is the absolute destination: the root directory of the copy for
	// a directory source, the target file for a file source.
	Path string
	// Resolved is Path with the symlinks of its existing part resolved; two
	// destinations are the same when their Resolved paths are.
	Resolved string
	// Missing lists the directories that do not exist yet and must be
	// created, outermost first (for a file source: the target's parents).
	Missing []string
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

// usagef returns an error wrapping cvv.ErrUsage whose message is the
// formatted text alone: it is shown to the user as a one-line error.
func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }
func (e *usageError) Unwrap() error { return cvv.ErrUsage }

// Resolve validates the source and the destinations without writing
// anything. It returns an error wrapping cvv.ErrUsage for: a missing or
// unsupported source, no destination, a destination equal to the source or
// inside the source tree, the same destination twice, a directory source onto
// an existing non-directory, a file source onto an existing directory's
// subdirectory of the same name, and a destination whose missing parents
// cannot be created (a non-directory in the way, no write permission, a
// read-only filesystem).
//
// For a file source, a destination that is an existing directory (or that
// ends in a path separator) receives DEST/<basename>; otherwise it is the
// target file path.
func Resolve(src string, dests []string) (*Plan, error) {
	if src == "" {
		return nil, usagef("no source given")
	}
	if len(dests) == 0 {
		return nil, usagef("no destination given (usage: cvv [flags] SOURCE DEST...)")
	}
	abs, err := filepath.Abs(src)
	if err != nil {
		return nil, usagef("source %s: %v", src, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, usagef("source %s does not exist", src)
		}
		return nil, usagef("source %s: %v", src, unwrapPath(err))
	}
	if !fi.IsDir() && !fi.Mode().IsRegular() {
		return nil, usagef("source %s is not a regular file or a directory", src)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, usagef("source %s: %v", src, unwrapPath(err))
	}
	p := &Plan{Arg: src, Source: real, IsDir: fi.IsDir()}
	seen := make(map[string]string)
	for _, arg := range dests {
		d, err := p.resolveDest(arg, filepath.Base(abs))
		if err != nil {
			return nil, err
		}
		if prev, ok := seen[d.Resolved]; ok {
			if prev == arg {
				return nil, usagef("destination %s is given twice", arg)
			}
			return nil, usagef("destinations %s and %s are the same", prev, arg)
		}
		seen[d.Resolved] = arg
		p.Dests = append(p.Dests, d)
	}
	return p, nil
}

func (p *Plan) resolveDest(arg, base string) (Dest, error) {
	if arg == "" {
		return Dest{}, usagef("empty destination path")
	}
	abs, err := filepath.Abs(arg)
	if err != nil {
		return Dest{}, usagef("destination %s: %v", arg, err)
	}
	fi, err := os.Stat(abs)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Dest{}, usagef("destination %s: %v", arg, unwrapPath(err))
	}
	if !p.IsDir && (exists && fi.IsDir() || !exists && strings.HasSuffix(arg, string(filepath.Separator))) {
		abs = filepath.Join(abs, base)
		fi, err = os.Stat(abs)
		exists = err == nil
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return Dest{}, usagef("destination %s: %v", abs, unwrapPath(err))
		}
	}
	if exists {
		switch {
		case p.IsDir && !fi.IsDir():
			return Dest{}, usagef("destination %s exists and is not a directory (the source %s is a directory)", arg, p.Arg)
		case !p.IsDir && fi.IsDir():
			return Dest{}, usagef("destination %s is a directory (the source %s is a file)", abs, p.Arg)
		}
	}
	resolved, missing, err := resolveExisting(abs)
	if err != nil {
		return Dest{}, usagef("destination %s: %v", arg, err)
	}
	d := Dest{Arg: arg, Path: abs, Resolved: resolved}
	if resolved == p.Source {
		return Dest{}, usagef("destination %s is the source", arg)
	}
	if p.IsDir && within(resolved, p.Source) {
		return Dest{}, usagef("destination %s is inside the source %s", arg, p.Arg)
	}
	// The directories to create: all of a directory destination that does
	// not exist, the missing parents of a file target.
	if !p.IsDir && len(missing) > 0 {
		missing = missing[:len(missing)-1]
	}
	if len(missing) > 0 {
		parent := filepath.Dir(missing[0])
		if err := checkCreatable(parent); err != nil {
			return Dest{}, usagef("cannot create destination %s: %v", arg, err)
		}
	} else if err := checkCreatable(filepath.Dir(abs)); err != nil && !exists {
		return Dest{}, usagef("cannot create destination %s: %v", arg, err)
	}
	d.Missing = missing
	return d, nil
}

// within reports whether path is strictly below dir.
func within(path, dir string) bool {
	if dir == string(filepath.Separator) {
		return path != dir
	}
	return strings.HasPrefix(path, dir+string(filepath.Separator))
}

// resolveExisting resolves the symlinks of the longest existing prefix of the
// absolute path abs and appends the rest. missing lists the absolute paths
// (as spelled in abs) of the components that do not exist, outermost first.
func resolveExisting(abs string) (resolved string, missing []string, err error) {
	p := abs
	var rest []string
	for {
		_, err := os.Lstat(p)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", nil, unwrapPath(err)
		}
		parent := filepath.Dir(p)
		if parent == p {
			break
		}
		missing = append([]string{p}, missing...)
		rest = append([]string{filepath.Base(p)}, rest...)
		p = parent
	}
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		// A dangling symlink in the way of a destination.
		return "", nil, unwrapPath(err)
	}
	if len(rest) > 0 {
		if fi, err := os.Stat(r); err == nil && !fi.IsDir() {
			return "", nil, fmt.Errorf("%s is not a directory", p)
		}
	}
	return filepath.Join(append([]string{r}, rest...)...), missing, nil
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
