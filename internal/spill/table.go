package spill

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// Table is an array of records of one size, read and written by index:
// held in memory up to the bound of a File, past it in an unlinked
// temporary file in $TMPDIR of which only a few pages are held, the ones
// used last. A pass over the records in order, and reads and writes near
// the index it is at, stay in those pages: a table of any length costs a
// bounded amount of memory. Safe for concurrent use. An error of the
// temporary file is recorded (Err): a record then reads as zeros and a
// write is lost.
type Table struct {
	mu   sync.Mutex
	size int // bytes per record
	n    int
	mem  []byte // the records, when held in memory
	file *os.File
	// pageRecs is the number of records in a page; pages the pages
	// held, used the clock of their last use.
	pageRecs int
	pages    []tablePage
	clock    uint64
	err      error
}

// tablePage is a page of a Table's temporary file held in memory.
type tablePage struct {
	no    int
	data  []byte
	dirty bool
	used  uint64
}

// Page geometry: a page holds pageBytes (rounded down to whole records),
// a Table at most maxPages of them.
const (
	pageBytes = 64 << 10
	maxPages  = 8
)

// NewTable returns a table of n records of size bytes, all zeros.
func NewTable(n, size int) (*Table, error) {
	if n < 0 || size <= 0 || size > pageBytes {
		return nil, fmt.Errorf("spill: a table of %d records of %d bytes", n, size)
	}
	t := &Table{size: size, n: n, pageRecs: pageBytes / size}
	if n*size <= memoryBytes {
		t.mem = make([]byte, n*size)
		return t, nil
	}
	f, err := tempFile()
	if err != nil {
		return nil, err
	}
	// Sparse: the records not written read as zeros.
	if err := f.Truncate(int64(n) * int64(size)); err != nil {
		f.Close()
		return nil, fmt.Errorf("spill: %w", err)
	}
	t.file = f
	return t, nil
}

// Len returns the number of records.
func (t *Table) Len() int {
	if t == nil {
		return 0
	}
	return t.n
}

// Get copies record k into rec (len(rec) bytes of it).
func (t *Table) Get(k int, rec []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	copy(rec, t.record(k, false))
}

// Put sets record k to rec.
func (t *Table) Put(k int, rec []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	copy(t.record(k, true), rec[:min(len(rec), t.size)])
}

// record returns record k where it is held, its page marked dirty if
// write: zeros (not held) after an error.
func (t *Table) record(k int, write bool) []byte {
	if k < 0 || k >= t.n {
		panic(fmt.Sprintf("spill: record %d of a table of %d", k, t.n))
	}
	if t.mem != nil {
		return t.mem[k*t.size : (k+1)*t.size]
	}
	p := t.page(k / t.pageRecs)
	if p == nil {
		return make([]byte, t.size)
	}
	p.dirty = p.dirty || write
	off := k % t.pageRecs * t.size
	return p.data[off : off+t.size]
}

// page returns page no, read in if need be in place of the one used
// least recently; nil after an error.
func (t *Table) page(no int) *tablePage {
	if t.err != nil {
		return nil
	}
	t.clock++
	victim := 0
	for i := range t.pages {
		p := &t.pages[i]
		if p.no == no {
			p.used = t.clock
			return p
		}
		if p.used < t.pages[victim].used {
			victim = i
		}
	}
	if len(t.pages) < maxPages {
		t.pages = append(t.pages, tablePage{data: make([]byte, t.pageRecs*t.size)})
		victim = len(t.pages) - 1
	} else if err := t.writePage(&t.pages[victim]); err != nil {
		t.err = err
		return nil
	}
	p := &t.pages[victim]
	p.no, p.used, p.dirty = no, t.clock, false
	clear(p.data)
	if _, err := t.file.ReadAt(p.data, t.offset(no)); err != nil && !errors.Is(err, io.EOF) {
		t.err = fmt.Errorf("spill: reading a table page: %w", err)
		return nil
	}
	return p
}

// offset returns where page no starts in the temporary file.
func (t *Table) offset(no int) int64 { return int64(no) * int64(t.pageRecs) * int64(t.size) }

// writePage writes p to the temporary file if it is dirty (the last page
// only up to the table's end).
func (t *Table) writePage(p *tablePage) error {
	if !p.dirty {
		return nil
	}
	end := min(int64(len(p.data)), int64(t.n)*int64(t.size)-t.offset(p.no))
	if _, err := t.file.WriteAt(p.data[:end], t.offset(p.no)); err != nil {
		return fmt.Errorf("spill: writing a table page: %w", err)
	}
	p.dirty = false
	return nil
}

// Err returns the first error of the temporary file: records read since
// read as zeros, records written since are lost.
func (t *Table) Err() error {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// Close releases the temporary file, if any.
func (t *Table) Close() error {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.mem, t.pages = nil, nil
	if t.file == nil {
		return nil
	}
	err := t.file.Close()
	t.file = nil
	return err
}
