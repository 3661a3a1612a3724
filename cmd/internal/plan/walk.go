// Package plan turns a cvv command line into a copy plan: it validates the
// source and the destinations (every bad-input check that must happen before
// anything is written), walks the source tree once so that the total is known
// before the first byte moves, maps every entry to its path under each
// destination, decides which destination files can be skipped, lists what
// each destination's filesystem cannot hold (names, sizes), and groups the
// bytes to write by destination filesystem for the free-space check.
//
// This package reads metadata only (lstat, readdir, readlink, statfs,
// mountinfo, inode flags; to identify a fuseblk filesystem, the boot sector
// of its device). It never creates, writes or removes anything, and it never
// reads file data.
package plan

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Kind is the type of a tree entry.
type Kind uint8

// The entry kinds.
const (
	// File is a regular file: copied through the engine.
	File Kind = iota
	// Dir is a directory: created, then given its mode and mtime after its
	// contents are written.
	Dir
	// Symlink is a symbolic link: recreated as a link, never followed.
	Symlink
	// Special is a FIFO, socket or device: skipped with a warning.
	Special
)

// String names k.
func (k Kind) String() string {
	switch k {
	case File:
		return "file"
	case Dir:
		return "directory"
	case Symlink:
		return "symlink"
	case Special:
		return "special file"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Entry is one thing found under the source. A tree holds one per file,
// so the fields are ordered to leave no padding.
type Entry struct {
	// Rel is the path relative to the source root, with the OS separator.
	// It is "" for the root directory of a directory source; for a file
	// source it is the file's base name.
	Rel string
	// ModTime is the lstat modification time.
	ModTime time.Time
	// Size is the lstat size (bytes of a regular file).
	Size int64
	// Mode is the entry's lstat mode.
	Mode fs.FileMode
	// Kind is what the entry is.
	Kind Kind
}

// Link is a symlink found under the source.
type Link struct {
	Entry
	// Target is what the link points to, as read.
	Target string
}

// HardLink is a path of a regular file whose inode an earlier path of the
// tree (file File of Tree.Files, at First) has: copied once, through that
// path, and linked on each destination, as cp -a and rsync -H do.
type HardLink struct {
	Entry
	// File is the index in Tree.Files of the path that is copied.
	File int
	// First is that path's Rel.
	First string
}

// Problem is an entry that could not be walked (an unreadable directory, a
// link that cannot be read). It is a per-entry failure; the walk goes on.
type Problem struct {
	Rel string
	Err error
}

// Tree is the walked source.
type Tree struct {
	// Root is the absolute, symlink-resolved path of the source.
	Root string
	// IsDir reports whether the source is a directory.
	IsDir bool
	// Dirs are the directories, parents before children; the root ("") first
	// for a directory source.
	Dirs []Entry
	// Files are the regular files in walk order (path order, see Scan),
	// held out of memory (FileList).
	Files *FileList
	// Links are the symlinks.
	Links []Link
	// HardLinks are the further paths of files with several links in the
	// tree (a directory source only); they are not in Files or Bytes.
	HardLinks []HardLink
	// inodes maps the FileID of each file with more than one link to its
	// first path, while walking.
	inodes map[FileID]firstLink
	// Specials are the FIFOs, sockets and devices that are skipped.
	Specials []Entry
	// Problems are the entries that could not be walked.
	Problems []Problem
	// Bytes is the sum of the sizes of Files.
	Bytes int64
	// Excluded counts the entries an exclude pattern left out (a directory
	// counts once, with nothing below it walked).
	Excluded int
	// opts narrow the walk (WalkWith).
	opts WalkOptions
	// file is the one entry of a file source (File).
	file Entry
	// dirIDs maps the FileID (as a string) of every directory walked to
	// its Rel, for CheckTree.
	dirIDs map[string]string
}

// Path returns the source path of the entry at rel.
func (t *Tree) Path(rel string) string {
	if !t.IsDir {
		return t.Root
	}
	if rel == "" {
		return t.Root
	}
	return filepath.Join(t.Root, rel)
}

// Walk walks the source root (already checked by Resolve). Symlinks below
// the root are recorded, never followed; the root itself is followed. For a
// file source the one entry's Rel is the base name of root; name it after
// the command-line argument (Plan.Name) when root was reached through a
// symlink.
// Entries are visited in path order (see Scan) so that runs are repeatable.
// An unreadable directory becomes a Problem; only a root that cannot be
// examined at all is an error.
//
// Walk stops with ctx's error when ctx is done.
func Walk(ctx context.Context, root string) (*Tree, error) {
	return WalkExcluding(ctx, root, nil)
}

// WalkExcluding is Walk leaving out what ex matches below a directory
// root (a file source is never excluded: it was named).
func WalkExcluding(ctx context.Context, root string, ex *Excludes) (*Tree, error) {
	return WalkWith(ctx, root, WalkOptions{Excludes: ex})
}

// WalkOptions narrow a walk. Both leave out what they match below a
// directory root, a directory with everything below it.
type WalkOptions struct {
	// Excludes are the user's exclude patterns: what they leave out is
	// counted in Tree.Excluded.
	Excludes *Excludes
	// Skip leaves out the entries it returns true for (rel with '/'
	// separators) without counting them: cvv verify's own records.
	Skip func(rel string) bool
}

// WalkWith is Walk narrowed by o. It is the one tree walk: the copy,
// cvv verify and cvv hash all list a tree through it.
func WalkWith(ctx context.Context, root string, o WalkOptions) (*Tree, error) {
	fi, err := os.Stat(root)
	if err != nil {
		return nil, err
	}
	t := &Tree{Root: root, opts: o, Files: &FileList{}}
	if !fi.IsDir() {
		e := EntryOf(filepath.Base(root), fi)
		if e.Kind != File {
			return nil, fmt.Errorf("%s is a %s, not a regular file or directory", root, e.Kind)
		}
		t.Files.Add(e) // in memory: it cannot fail
		t.Files.finish()
		t.file = e
		t.Bytes = e.Size
		return t, nil
	}
	t.IsDir = true
	t.dirIDs = map[string]string{}
	t.Excluded, err = Scan(ctx, root, o, t.add)
	if err == nil {
		err = t.Files.finish()
	}
	if err != nil {
		t.Close()
		return nil, err
	}
	t.inodes = nil
	return t, nil
}

// Close releases the temporary file of t's Files.
func (t *Tree) Close() error { return t.Files.Close() }

// File returns the one entry of a file source.
func (t *Tree) File() Entry { return t.file }

// NameFile names the one entry of a file source rel (the name under
// which it is copied): in File and in Files.
func (t *Tree) NameFile(rel string) {
	t.file.Rel = rel
	t.Files = &FileList{}
	t.Files.Add(t.file)
	t.Files.finish()
}

// add records the entry f of the walk.
func (t *Tree) add(f *Found) error {
	if f.Err != nil {
		// What could be read is still copied.
		t.Problems = append(t.Problems, Problem{Rel: f.Rel, Err: f.Err})
		return nil
	}
	switch f.Kind {
	case File:
		return t.addFile(f.Entry, f.Info)
	case Dir:
		t.Dirs = append(t.Dirs, f.Entry)
		t.dirIDs[fileID(t.Path(f.Rel), f.Info).String()] = f.Rel
	case Symlink:
		t.Links = append(t.Links, Link{Entry: f.Entry, Target: f.Target})
	default:
		t.Specials = append(t.Specials, f.Entry)
	}
	return nil
}

// addFile adds the file e (whose lstat is fi) to Files, or to
// HardLinks when an earlier path of the tree has its inode. Only the
// files with several links are remembered, and only they have their
// source path made (a join per file was 5% of a walk's CPU).
func (t *Tree) addFile(e Entry, fi fs.FileInfo) error {
	if links(fi) > 1 {
		id := fileID(t.Path(e.Rel), fi)
		if first, ok := t.inodes[id]; ok {
			t.HardLinks = append(t.HardLinks, HardLink{Entry: e, File: first.k, First: first.rel})
			return nil
		}
		if t.inodes == nil {
			t.inodes = make(map[FileID]firstLink)
		}
		t.inodes[id] = firstLink{k: t.Files.Len(), rel: e.Rel}
	}
	t.Bytes += e.Size
	return t.Files.Add(e)
}

// firstLink is the first path of a file with several links: its index in
// Files and its Rel.
type firstLink struct {
	k   int
	rel string
}

// EntryOf is the Entry at rel that fi describes (an lstat result).
func EntryOf(rel string, fi fs.FileInfo) Entry {
	e := Entry{Rel: rel, Mode: fi.Mode(), Size: fi.Size(), ModTime: fi.ModTime()}
	switch m := fi.Mode(); {
	case m.IsRegular():
		e.Kind = File
	case m.IsDir():
		e.Kind = Dir
		e.Size = 0
	case m&fs.ModeSymlink != 0:
		e.Kind = Symlink
	default:
		e.Kind = Special
		e.Size = 0
	}
	return e
}
