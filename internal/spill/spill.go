// Package spill holds a sequence of records too many to keep in memory:
// they are appended one at a time, kept in memory up to a bound and past
// it in an unlinked temporary file in $TMPDIR, and read back in order as
// a stream, as many times as needed. It is how a copy keeps what it knows
// about each file of a tree without holding it (the tree's entries, the
// hashes its manifests need; Table: its state, by index). It never writes anywhere but $TMPDIR, and
// the file goes away with its descriptor, whatever happens to the
// process.
package spill

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"sync"
)

// memoryBytes is how many bytes a File keeps in memory before it moves
// them to its temporary file. A variable so that tests can make it
// small.
var memoryBytes = 256 << 10

// SetMemoryForTest sets the bytes a File keeps in memory and returns a
// function that restores the bound.
func SetMemoryForTest(n int) (restore func()) {
	old := memoryBytes
	memoryBytes = n
	return func() { memoryBytes = old }
}

// File is a sequence of records. The zero value is empty and ready;
// Append is safe for concurrent use, but not while a pass over the
// records (Records) runs. Close releases it.
type File struct {
	mu   sync.Mutex
	n    int
	buf  []byte // records not yet in the file
	file *os.File
	w    *bufio.Writer
	size int64 // bytes written to file
	err  error // the first error writing or reading
}

// Len returns the number of records appended.
func (f *File) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

// Append appends rec (copied).
func (f *File) Append(rec []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.buf = binary.AppendUvarint(f.buf, uint64(len(rec)))
	f.buf = append(f.buf, rec...)
	f.n++
	if len(f.buf) >= memoryBytes {
		f.err = f.spill()
	}
	return f.err
}

// spill moves the records held in memory to the temporary file.
func (f *File) spill() error {
	if f.file == nil {
		t, err := tempFile()
		if err != nil {
			return err
		}
		f.file, f.w = t, bufio.NewWriterSize(t, 64<<10)
	}
	n, err := f.w.Write(f.buf)
	f.size += int64(n)
	f.buf = f.buf[:0]
	if err == nil {
		err = f.w.Flush()
	}
	if err != nil {
		return fmt.Errorf("spill: %w", err)
	}
	return nil
}

// tempFile creates an unlinked temporary file in $TMPDIR: it goes away
// with its descriptor.
func tempFile() (*os.File, error) {
	t, err := os.CreateTemp("", "cvv-spill-*")
	if err != nil {
		return nil, fmt.Errorf("spill: %w", err)
	}
	if err := os.Remove(t.Name()); err != nil {
		t.Close()
		return nil, fmt.Errorf("spill: %w", err)
	}
	return t, nil
}

// Records yields the records in the order they were appended. A record
// is valid until the next one is yielded. The pass stops early,
// recording the error (Err), if the temporary file cannot be read back.
func (f *File) Records() iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		f.mu.Lock()
		n, size, mem, file := f.n, f.size, f.buf, f.file
		if file != nil && len(mem) > 0 {
			// One source to read: what is in memory goes to the file.
			if f.err = f.spill(); f.err == nil {
				size, mem = f.size, nil
			}
		}
		err := f.err
		f.mu.Unlock()
		if err != nil {
			return
		}
		var src io.Reader = bytes.NewReader(mem)
		if file != nil {
			src = io.NewSectionReader(file, 0, size)
		}
		r := bufio.NewReaderSize(src, 64<<10)
		var rec []byte
		for k := range n {
			l, err := binary.ReadUvarint(r)
			if err == nil && l > 1<<24 {
				err = errors.New("corrupt record")
			}
			if err == nil {
				rec = append(rec[:0], make([]byte, l)...)
				_, err = io.ReadFull(r, rec)
			}
			if err != nil {
				if errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				f.Fail(fmt.Errorf("spill: reading record %d of %d: %w", k+1, n, err))
				return
			}
			if !yield(rec) {
				return
			}
		}
	}
}

// Fail records err as the first error reading the records, unless there
// is one: for a record that does not decode.
func (f *File) Fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil {
		f.err = err
	}
}

// Err returns the first error writing the records or reading them back:
// a pass that met it saw only part of them.
func (f *File) Err() error {
	if f == nil {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// Close releases the temporary file, if any.
func (f *File) Close() error {
	if f == nil {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.file == nil {
		return nil
	}
	err := f.file.Close()
	f.file, f.w, f.buf = nil, nil, nil
	return err
}

// truncateHalf cuts the temporary file to half its size: for tests of a
// record file that cannot be read back.
func (f *File) truncateHalf() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.file == nil {
		return errors.New("spill: in memory")
	}
	return f.file.Truncate(f.size / 2)
}
