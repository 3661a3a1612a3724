package plan

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/cvv-project/cvv/internal/atomicfile"
)

// ErrNameRefused means a destination filesystem cannot hold an entry under
// its name or size: it refuses the name, the file is too big for it, or
// the name is one name there with another (names that differ only in case
// on exFAT, say). The entry fails on that destination only.
var ErrNameRefused = errors.New("the destination filesystem cannot hold this entry")

// refusal is an ErrNameRefused with its reason. top is the refused
// directory an entry is inside of, "" for an entry refused for itself.
type refusal struct{ msg, top string }

func (e *refusal) Error() string { return e.msg }
func (e *refusal) Unwrap() error { return ErrNameRefused }

func refusef(format string, args ...any) error {
	return &refusal{msg: fmt.Sprintf(format, args...)}
}

// Refusals returns, by Rel, the entries of t (files, directories, symlinks)
// that the destination filesystem dfs cannot hold, each with an error
// wrapping ErrNameRefused that says why in one line: a name dfs refuses, a
// file too big for it, two entries whose names are one name there, an
// entry whose name is one name with an existing entry of the destination
// that holds other bytes (the copy would land on it), and everything below
// a refused directory. target is the path of the entry at Rel on the
// destination (Plan.Target). It reads the destination's existing
// directories only where names are folded; it writes nothing. A nil map
// means everything fits.
func Refusals(t *Tree, dfs DestFS, target func(rel string) string) (map[string]error, error) {
	if !dfs.Restricted() {
		return nil, nil
	}
	c := &refuseCheck{dfs: dfs, target: target, out: make(map[string]error)}
	if !t.IsDir {
		// A file source: its name is the target's.
		f := t.File()
		tgt := target(f.Rel)
		c.dirFold = map[string]Fold{"": c.foldOf(filepath.Dir(tgt), FoldNone)}
		c.dirKey = map[string]string{"": ""}
		c.fileName = filepath.Base(tgt)
		c.entry(f.Rel, "", filepath.Base(tgt), f.Kind, f.Size)
		c.existing("", filepath.Dir(tgt))
		return c.result(), nil
	}
	c.dirFold = make(map[string]Fold, len(t.Dirs))
	c.dirKey = make(map[string]string, len(t.Dirs))
	for _, d := range t.Dirs {
		if d.Rel == "" {
			c.dirFold[""] = c.foldOf(target(""), FoldNone)
			c.dirKey[""] = ""
			continue
		}
		parent := parentRel(d.Rel)
		c.entry(d.Rel, parent, filepath.Base(d.Rel), Dir, 0)
		c.dirKey[d.Rel] = c.dirKey[parent] + "/" + c.dirFold[parent].Key(filepath.Base(d.Rel))
		c.dirFold[d.Rel] = c.foldOf(target(d.Rel), c.dirFold[parent])
	}
	for _, f := range t.Files.All() {
		c.entry(f.Rel, parentRel(f.Rel), filepath.Base(f.Rel), File, f.Size)
	}
	for _, l := range t.Links {
		c.entry(l.Rel, parentRel(l.Rel), filepath.Base(l.Rel), Symlink, 0)
	}
	for _, h := range t.HardLinks {
		c.entry(h.Rel, parentRel(h.Rel), filepath.Base(h.Rel), File, h.Size)
	}
	for _, d := range t.Dirs {
		c.existing(d.Rel, target(d.Rel))
	}
	// Parents come before their children in t.Dirs.
	for _, d := range t.Dirs {
		if d.Rel != "" {
			c.inRefused(d.Rel)
		}
	}
	for _, f := range t.Files.All() {
		c.inRefused(f.Rel)
	}
	for _, l := range t.Links {
		c.inRefused(l.Rel)
	}
	return c.result(), nil
}

// refuseCheck is the state of one Refusals call.
type refuseCheck struct {
	dfs    DestFS
	target func(rel string) string
	// dirFold is how each directory of the tree compares names on the
	// destination; dirKey is each directory's path as the destination
	// compares it.
	dirFold map[string]Fold
	dirKey  map[string]string
	// seen maps the key of every entry to its Rel.
	seen map[string]string
	out  map[string]error
	// fileName is the target's name for a file source, "" for a tree.
	fileName string
}

// parentRel returns the Rel of the directory holding rel ("" for the root).
func parentRel(rel string) string {
	p := filepath.Dir(rel)
	if p == "." {
		return ""
	}
	return p
}

// foldOf returns how the destination directory dir compares names: the
// filesystem's folding, or for a filesystem with case-folding directories,
// dir's flag when it exists and inherit (its parent's) when it does not.
func (c *refuseCheck) foldOf(dir string, inherit Fold) Fold {
	if !c.dfs.Casefold {
		return c.dfs.Fold
	}
	folded, err := CaseFolded(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return inherit
	case err != nil:
		return inherit
	case folded:
		return FoldCasefold
	}
	return FoldNone
}

// entry checks one entry named name in the directory parent.
func (c *refuseCheck) entry(rel, parent, name string, kind Kind, size int64) {
	if err := c.dfs.CheckName(name); err != nil {
		c.out[rel] = refusef("%v", err)
	} else if kind == Symlink && c.dfs.NoSymlinks {
		c.out[rel] = refusef("%s cannot hold symbolic links", c.dfs.Type)
	} else if kind == File {
		if err := c.dfs.CheckSize(size); err != nil {
			c.out[rel] = refusef("%v", err)
		}
	}
	fold := c.dirFold[parent]
	if fold == FoldNone {
		return
	}
	if c.seen == nil {
		c.seen = make(map[string]string)
	}
	key := c.dirKey[parent] + "/" + fold.Key(name)
	first, ok := c.seen[key]
	if !ok {
		c.seen[key] = rel
		return
	}
	err := refusef("%s and %s are one name on %s (%s): neither is copied there", first, rel, c.dfs.Type, foldWords(fold))
	c.out[rel] = err
	c.out[first] = err
}

func foldWords(f Fold) string {
	if f == FoldCasefold {
		return "a case-folding directory"
	}
	return "names are compared without case"
}

// existing compares the names in the existing destination directory dir
// (the tree's directory rel) with the tree's: an existing entry whose name
// is one name with a tree entry but holds other bytes would be replaced by
// the copy, or would make the copy land under its name.
func (c *refuseCheck) existing(rel, dir string) {
	fold := c.dirFold[rel]
	if fold == FoldNone || c.out[rel] != nil {
		return
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		return // missing (nothing to collide with) or unreadable (the copy says so)
	}
	for _, de := range des {
		name := de.Name()
		if atomicfile.IsTempName(name) {
			continue
		}
		other, ok := c.seen[c.dirKey[rel]+"/"+fold.Key(name)]
		own := filepath.Base(other)
		if c.fileName != "" {
			own = c.fileName
		}
		if !ok || own == name || c.out[other] != nil {
			continue
		}
		c.out[other] = refusef("the destination holds %s, which is one name with %s on %s (%s): not copied there",
			filepath.Join(dir, name), own, c.dfs.Type, foldWords(fold))
	}
}

// inRefused refuses rel when its directory is refused.
func (c *refuseCheck) inRefused(rel string) {
	p := parentRel(rel)
	if p == "" || c.out[p] == nil || c.out[rel] != nil {
		return
	}
	top := p
	if r, ok := c.out[p].(*refusal); ok && r.top != "" {
		top = r.top
	}
	c.out[rel] = &refusal{msg: fmt.Sprintf("not copied: it is inside %s, which is not", top), top: top}
}

func (c *refuseCheck) result() map[string]error {
	if len(c.out) == 0 {
		return nil
	}
	return c.out
}
