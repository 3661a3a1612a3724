package plan

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/cvv-project/cvv/internal/fserr"
)

// FileID identifies a file or directory whatever the path that reaches it:
// its device and inode numbers. A bind mount shows a directory under a
// second path with the same FileID.
type FileID struct{ Dev, Ino uint64 }

func (id FileID) String() string { return fmt.Sprintf("%d:%d", id.Dev, id.Ino) }

// place is where a path leads, by identity rather than by spelling, so that
// symlinks, "..", doubled separators and bind mounts cannot make one
// directory look like two.
type place struct {
	// self identifies the path: the FileID of an existing path, the
	// FileID of its deepest existing ancestor followed by the missing
	// names ("dev:ino/a/b") for a path that does not exist yet.
	self string
	// above holds self and the key of every directory above it: the
	// physical ancestors reached through "..", and, across a bind mount,
	// the ancestors of the mounted directory in its own filesystem where
	// this mount namespace shows them (see fsAncestors).
	above map[string]bool
	// existing is the FileID of the deepest existing directory on the
	// path: the path itself when it exists.
	existing FileID
}

// within reports whether p is q or lies below it.
func (p place) within(q place) bool { return p.above[q.self] }

// placeOf finds where the absolute path abs leads. The missing components
// of abs (the ones that do not exist yet) are named below the deepest
// existing directory; a symlink among the existing components is followed,
// and a non-directory in the way is an error.
func placeOf(abs string) (place, error) {
	existing := abs
	var missing []string
	for {
		_, err := os.Lstat(existing)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return place{}, fserr.Strip(err)
		}
		parent := filepath.Dir(existing)
		if parent == existing {
			return place{}, fmt.Errorf("%s: no existing ancestor", abs)
		}
		missing = append([]string{filepath.Base(existing)}, missing...)
		existing = parent
	}
	ids, err := ancestry(existing)
	if err != nil {
		return place{}, err
	}
	p := place{above: make(map[string]bool, len(ids)+len(missing)), existing: ids[0]}
	for _, id := range ids {
		p.above[id.String()] = true
	}
	key := ids[0].String()
	for _, name := range missing {
		key += "/" + name
		p.above[key] = true
	}
	p.self = key
	return p, nil
}

// ancestry returns the FileID of the existing path and of every directory
// above it, the path's own first. A path that is not a directory (a file, a
// dangling symlink) is its own entry followed by its directory's ancestry.
func ancestry(path string) ([]FileID, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fserr.Strip(err)
	}
	if !fi.IsDir() {
		id := fileID(path, fi)
		rest, err := ancestry(filepath.Dir(path))
		if err != nil {
			return nil, err
		}
		return append([]FileID{id}, rest...), nil
	}
	ids, err := dirAncestry(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ids, nil
}
