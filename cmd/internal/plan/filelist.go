package plan

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"sync"
	"time"
)

// fileListMemory is how many encoded bytes a FileList keeps in memory
// before it moves them to a temporary file. A variable so that tests
// can make it small.
var fileListMemory = 256 << 10

// FileList is the regular files of a walked tree, in walk order, kept
// out of memory: each is encoded (its path as the bytes it does not share
// with the path before it, then its size, mode and mtime) and, past
// fileListMemory bytes, appended to an unlinked temporary file in
// $TMPDIR. A tree of ten million files costs a few hundred megabytes of
// that file and no memory per file. All reads it back as a stream, as
// many times and from as many goroutines as needed; nothing can be added
// once it is read. The zero value is an empty list; Close releases it.
type FileList struct {
	n    int
	buf  []byte // the encoding, until it moves to file
	file *os.File
	w    *bufio.Writer // appends to file
	size int64         // bytes in file
	last []byte        // the path added last
	done bool          // read: nothing more can be added
	mu   sync.Mutex
	err  error // the first error writing or reading
}

// errFileListRead is the error of adding to a list already read.
var errFileListRead = errors.New("file list: entry added after the list was read")

// Len returns the number of entries added.
func (l *FileList) Len() int { return l.n }

// Add appends e.
func (l *FileList) Add(e Entry) error {
	if l.done {
		return errFileListRead
	}
	if err := l.Err(); err != nil {
		return err
	}
	shared := 0
	for shared < min(len(l.last), len(e.Rel)) && l.last[shared] == e.Rel[shared] {
		shared++
	}
	b := l.buf
	b = binary.AppendUvarint(b, uint64(shared))
	b = binary.AppendUvarint(b, uint64(len(e.Rel)-shared))
	b = append(b, e.Rel[shared:]...)
	b = binary.AppendVarint(b, e.Size)
	b = binary.AppendUvarint(b, uint64(e.Mode))
	b = append(b, byte(e.Kind))
	b = binary.AppendVarint(b, e.ModTime.Unix())
	b = binary.AppendUvarint(b, uint64(e.ModTime.Nanosecond()))
	l.buf = b
	l.last = append(l.last[:0], e.Rel...)
	l.n++
	if len(l.buf) >= fileListMemory {
		if err := l.spill(); err != nil {
			l.fail(err)
			return err
		}
	}
	return nil
}

// spill moves the encoded entries held in memory to the temporary file.
func (l *FileList) spill() error {
	if l.file == nil {
		f, err := os.CreateTemp("", "cvv-files-*")
		if err != nil {
			return fmt.Errorf("file list: %w", err)
		}
		if err := os.Remove(f.Name()); err != nil {
			f.Close()
			return fmt.Errorf("file list: %w", err)
		}
		l.file, l.w = f, bufio.NewWriterSize(f, 64<<10)
	}
	n, err := l.w.Write(l.buf)
	l.size += int64(n)
	l.buf = l.buf[:0]
	if err != nil {
		return fmt.Errorf("file list: %w", err)
	}
	return nil
}

// finish ends the adding: what is buffered for the file is written.
// It is called before the list is shared between goroutines.
func (l *FileList) finish() error {
	if l.done {
		return l.Err()
	}
	l.done = true
	l.last = nil
	if l.file == nil || l.Err() != nil {
		return l.Err()
	}
	if len(l.buf) > 0 {
		if err := l.spill(); err != nil {
			l.fail(err)
			return err
		}
	}
	if err := l.w.Flush(); err != nil {
		l.fail(fmt.Errorf("file list: %w", err))
	}
	l.w, l.buf = nil, nil
	return l.Err()
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
		var src io.Reader = bytes.NewReader(l.buf)
		if l.file != nil {
			src = io.NewSectionReader(l.file, 0, l.size)
		}
		r := bufio.NewReaderSize(src, 64<<10)
		var path []byte
		for k := range l.n {
			e, err := readListEntry(r, &path)
			if err != nil {
				l.fail(fmt.Errorf("file list: reading entry %d of %d: %w", k+1, l.n, err))
				return
			}
			if !yield(k, e) {
				return
			}
		}
	}
}

// fail records err, the first error reading the list.
func (l *FileList) fail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		l.err = err
	}
}

// Err returns the first error writing the list or reading it back: a
// walk or a pass over the list that met it saw only part of the files.
func (l *FileList) Err() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Close releases the temporary file, if any.
func (l *FileList) Close() error {
	if l == nil || l.file == nil {
		return nil
	}
	err := l.file.Close()
	l.file = nil
	return err
}

// readListEntry decodes one entry Add encoded; path is the path decoded
// before it, and becomes this one.
func readListEntry(r *bufio.Reader, path *[]byte) (Entry, error) {
	var e Entry
	shared, err := binary.ReadUvarint(r)
	if err != nil {
		return e, unexpected(err)
	}
	n, err := binary.ReadUvarint(r)
	if err != nil || shared > uint64(len(*path)) || n > 1<<20 {
		return e, corrupt(err)
	}
	p := append((*path)[:shared], make([]byte, n)...)
	if _, err := io.ReadFull(r, p[shared:]); err != nil {
		return e, unexpected(err)
	}
	*path = p
	e.Rel = string(p)
	var mode, nsec uint64
	var sec int64
	var kind byte
	if e.Size, err = binary.ReadVarint(r); err == nil {
		if mode, err = binary.ReadUvarint(r); err == nil {
			if kind, err = r.ReadByte(); err == nil {
				if sec, err = binary.ReadVarint(r); err == nil {
					nsec, err = binary.ReadUvarint(r)
				}
			}
		}
	}
	if err != nil {
		return e, unexpected(err)
	}
	e.Mode, e.Kind, e.ModTime = fs.FileMode(mode), Kind(kind), time.Unix(sec, int64(nsec))
	return e, nil
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func corrupt(err error) error {
	if err != nil {
		return unexpected(err)
	}
	return errors.New("corrupt entry")
}
