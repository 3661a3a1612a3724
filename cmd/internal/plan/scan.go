package plan

import (
	"cmp"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Found is one entry a Scan visits.
type Found struct {
	Entry
	// Info is the entry's lstat result; nil for a Problem.
	Info fs.FileInfo
	// Target is what a symlink points to, as read.
	Target string
	// Err is set when the entry could not be walked (an unreadable
	// directory, an entry that vanished, a link that cannot be read): the
	// entry is a Problem at Rel, and the walk goes on. A directory that
	// cannot be listed is visited once as a Dir and once as a Problem.
	Err error
}

// Scan walks the directory root, below which nothing is followed, and
// calls visit for every entry in path order: the order of the entries'
// relative paths with '/' separators compared byte by byte, as sorted
// hash lists and cvv hash list them. A directory is visited before what
// it holds (the root first, as Rel ""). What o leaves out is not visited;
// Scan returns how many entries the user's exclude patterns left out.
//
// Scan holds the entries of the directories it is in (one listing per
// level of depth), never the tree: memory is proportional to the depth
// times the size of a directory, not to the number of files. It holds
// those directories open too, up to heldDirs levels: each entry's lstat
// is taken from its directory's descriptor, never by its path. An error
// from visit, or ctx done, stops the walk and is returned.
func Scan(ctx context.Context, root string, o WalkOptions, visit func(*Found) error) (excluded int, err error) {
	fi, err := os.Stat(root)
	if err != nil {
		return 0, err
	}
	s := &scanner{ctx: ctx, root: root, opts: o, visit: visit}
	if err := s.visit(&Found{Entry: EntryOf("", fi), Info: fi}); err != nil {
		return 0, err
	}
	err = s.dir("", 0)
	return s.excluded, err
}

type scanner struct {
	ctx      context.Context
	root     string
	opts     WalkOptions
	visit    func(*Found) error
	excluded int
}

// heldDirs bounds the directories a Scan holds open, one a level: below
// that depth, a directory is closed before the walk descends from it,
// and the rest of its entries are looked up by path.
const heldDirs = 64

// dir visits what the directory at rel, depth levels below the root,
// holds, descending into each subdirectory where its name falls in path
// order.
func (s *scanner) dir(rel string, depth int) error {
	if err := s.ctx.Err(); err != nil {
		return err
	}
	dir := filepath.Join(s.root, rel)
	l, des, err := openListing(dir)
	defer l.close()
	if err != nil {
		// What could be read is still visited.
		if err := s.visit(&Found{Entry: Entry{Rel: rel}, Err: err}); err != nil {
			return err
		}
	}
	slices.SortFunc(des, comparePathOrder)
	for _, de := range des {
		r := joinRel(rel, de.Name())
		slash := filepath.ToSlash(r)
		if s.opts.Skip != nil && s.opts.Skip(slash) {
			continue
		}
		if s.opts.Excludes.Match(slash, de.IsDir()) {
			s.excluded++
			continue
		}
		f, err := s.found(l, dir, r, de)
		if err == nil {
			err = s.visit(f)
		}
		if err != nil {
			return err
		}
		if f.Err == nil && f.Kind == Dir {
			if depth >= heldDirs {
				l.close()
			}
			if err := s.dir(r, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// found describes the entry de of the directory dir (listed in l), at
// rel.
func (s *scanner) found(l *listing, dir, rel string, de fs.DirEntry) (*Found, error) {
	fi, err := l.lstat(de)
	if err != nil {
		return &Found{Entry: Entry{Rel: rel}, Err: err}, nil
	}
	f := &Found{Entry: EntryOf(rel, fi), Info: fi}
	if f.Kind == Symlink {
		if f.Target, err = os.Readlink(filepath.Join(dir, de.Name())); err != nil {
			return &Found{Entry: Entry{Rel: rel}, Err: err}, nil
		}
	}
	return f, nil
}

// joinRel is the relative path of the entry name of the directory at
// rel: filepath.Join's result without its Clean (a tenth of a walk's
// user CPU), which has nothing to do, as rel is clean and a name a
// directory lists holds no separator and is never "", "." or "..".
func joinRel(rel, name string) string {
	if rel == "" {
		return name
	}
	return rel + string(filepath.Separator) + name
}

// comparePathOrder orders the entries of one directory as their paths
// sort: a directory's contents follow its name and a '/', so "a.txt"
// (0x2e) comes before what "a/" holds, and that before "a0".
func comparePathOrder(a, b fs.DirEntry) int {
	an, bn := a.Name(), b.Name()
	n := min(len(an), len(bn))
	if c := strings.Compare(an[:n], bn[:n]); c != 0 {
		return c
	}
	return cmp.Compare(keyAt(an, a.IsDir(), n), keyAt(bn, b.IsDir(), n))
}

// keyAt is the byte at i of name, followed by '/' for a directory; -1
// past the end.
func keyAt(name string, dir bool, i int) int {
	switch {
	case i < len(name):
		return int(name[i])
	case i == len(name) && dir:
		return '/'
	}
	return -1
}
