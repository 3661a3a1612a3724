package manifest

import (
	"errors"
	"iter"
)

// FileSpool holds the files of a Record that are too many to keep in
// memory: they are added one at a time, in any order (in path order they
// cost least), and kept sorted by path in an unlinked temporary file in
// $TMPDIR, with at most about 2 MiB of them in memory (see sortEntries).
// Write reads them back as a stream, as many times as it needs. The zero
// value is not usable: make one with NewFileSpool, and Close it.
type FileSpool struct {
	sorter *entrySorter
	sorted *sortedEntries
	err    error // of finishing the sort
	// blank is true when a file has no Action (Write decides it against
	// the history).
	blank bool
}

// NewFileSpool returns an empty spool.
func NewFileSpool() *FileSpool {
	return &FileSpool{sorter: newEntrySorter(func(p string) error { return invalidf("%q recorded twice", p) })}
}

// errSpoolRead is the error of adding to a spool already read.
var errSpoolRead = errors.New("manifest: file added to a spool already read")

// Add adds f. It fails when the temporary file cannot be written, or when
// the spool was already read (by Write).
func (s *FileSpool) Add(f File) error {
	if s.sorter == nil {
		return errSpoolRead
	}
	if f.Action == "" {
		s.blank = true
	}
	return s.sorter.add(Entry{Path: f.Path, Size: f.Size, ModTime: f.ModTime,
		Hashes: []Hash{{Value: f.Hash, Action: f.Action, Date: f.HashDate}}})
}

// finish sorts the files: a path added twice is an error wrapping
// ErrInvalid. No file can be added after.
func (s *FileSpool) finish() error {
	for _, err := range s.files() {
		return err
	}
	return nil
}

// files yields the files in path order; a path added twice is an error
// wrapping ErrInvalid. No file can be added after the first call.
func (s *FileSpool) files() iter.Seq2[File, error] {
	if s.sorter != nil {
		s.sorted, s.err = s.sorter.finish()
		s.sorter = nil
	}
	return func(yield func(File, error) bool) {
		if s.err != nil {
			yield(File{}, s.err)
			return
		}
		for e, err := range s.sorted.all() {
			f := File{Path: e.Path, Size: e.Size, ModTime: e.ModTime}
			if len(e.Hashes) == 1 {
				h := e.Hashes[0]
				f.Hash, f.Action, f.HashDate = h.Value, h.Action, h.Date
			}
			if !yield(f, err) || err != nil {
				return
			}
		}
	}
}

// Close releases the temporary file.
func (s *FileSpool) Close() error {
	if s.sorter != nil {
		s.sorter.close()
		s.sorter = nil
	}
	return s.sorted.close()
}
