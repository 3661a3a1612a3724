package plan

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"time"

	"github.com/cvv-project/cvv/internal/spill"
)

// FileList is the regular files of a walked tree, in walk order, kept
// out of memory (spill.File): each is encoded, its path as the bytes it
// does not share with the path before it, then its size, mode and mtime.
// A tree of ten million files costs a few hundred megabytes of temporary
// file and no memory per file. All reads it back as a stream, as many
// times and from as many goroutines as needed; nothing can be added once
// it is read. The zero value is an empty list; Close releases it.
type FileList struct {
	recs spill.File
	last []byte // the path added last
	rec  []byte // Add's encoding buffer
	done bool   // read: nothing more can be added
}

// errFileListRead is the error of adding to a list already read.
var errFileListRead = errors.New("file list: entry added after the list was read")

// Len returns the number of entries added.
func (l *FileList) Len() int { return l.recs.Len() }

// Add appends e.
func (l *FileList) Add(e Entry) error {
	if l.done {
		return errFileListRead
	}
	shared := 0
	for shared < min(len(l.last), len(e.Rel)) && l.last[shared] == e.Rel[shared] {
		shared++
	}
	b := l.rec[:0]
	b = binary.AppendUvarint(b, uint64(shared))
	b = append(b, e.Rel[shared:]...)
	b = append(b, 0)
	b = binary.AppendVarint(b, e.Size)
	b = binary.AppendUvarint(b, uint64(e.Mode))
	b = append(b, byte(e.Kind))
	b = binary.AppendVarint(b, e.ModTime.Unix())
	b = binary.AppendUvarint(b, uint64(e.ModTime.Nanosecond()))
	l.rec = b
	l.last = append(l.last[:0], e.Rel...)
	return l.recs.Append(b)
}

// finish ends the adding. It is called before the list is shared
// between goroutines.
func (l *FileList) finish() error {
	l.done, l.last, l.rec = true, nil, nil
	return l.recs.Err()
}

// All yields the entries in the order they were added, with their
// index. It stops early, recording the error (Err), if the temporary
// file cannot be read back.
func (l *FileList) All() iter.Seq2[int, Entry] {
	if l == nil {
		return func(func(int, Entry) bool) {}
	}
	if !l.done {
		l.finish()
	}
	return func(yield func(int, Entry) bool) {
		var path []byte
		k := 0
		for rec := range l.recs.Records() {
			e, err := decodeEntry(rec, &path)
			if err != nil {
				l.recs.Fail(fmt.Errorf("file list: entry %d: %w", k+1, err))
				return
			}
			if !yield(k, e) {
				return
			}
			k++
		}
	}
}

// Err returns the first error writing the list or reading it back: a
// walk or a pass over the list that met it saw only part of the files.
func (l *FileList) Err() error {
	if l == nil {
		return nil
	}
	return l.recs.Err()
}

// Close releases the temporary file, if any.
func (l *FileList) Close() error {
	if l == nil {
		return nil
	}
	return l.recs.Close()
}

// errCorruptEntry is a record of a FileList that does not decode.
var errCorruptEntry = errors.New("corrupt entry")

// decodeEntry decodes one entry Add encoded; path is the path decoded
// before it, and becomes this one.
func decodeEntry(rec []byte, path *[]byte) (Entry, error) {
	var e Entry
	shared, n := binary.Uvarint(rec)
	if n <= 0 || shared > uint64(len(*path)) {
		return e, errCorruptEntry
	}
	rec = rec[n:]
	end := 0
	for end < len(rec) && rec[end] != 0 {
		end++
	}
	if end == len(rec) {
		return e, errCorruptEntry
	}
	p := append((*path)[:shared], rec[:end]...)
	*path = p
	e.Rel = string(p)
	rec = rec[end+1:]
	var mode, nsec uint64
	var sec int64
	if e.Size, n = binary.Varint(rec); n > 0 {
		rec = rec[n:]
		if mode, n = binary.Uvarint(rec); n > 0 && len(rec) > n {
			e.Kind, rec = Kind(rec[n]), rec[n+1:]
			if sec, n = binary.Varint(rec); n > 0 {
				nsec, n = binary.Uvarint(rec[n:])
			}
		}
	}
	if n <= 0 {
		return e, errCorruptEntry
	}
	e.Mode, e.ModTime = fs.FileMode(mode), time.Unix(sec, int64(nsec))
	return e, nil
}
