package manifest

import (
	"bufio"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/cvv-project/cvv/hashing"
)

// sortChunkBytes bounds the entries held in memory while sorting a list
// that is not in path order (as entrySize counts them: about half of
// what they take): past it, they go to a sorted run in a temporary
// file. A variable so that tests can make it small.
var sortChunkBytes = 1 << 20

// mergeFanIn is how many runs are merged at once; more are merged in
// several passes, so that the read buffers stay bounded too.
const mergeFanIn = 64

// sortedEntries are a list's entries sorted by path: in memory when they
// fit in one chunk, else in an unlinked temporary file, encoded.
type sortedEntries struct {
	mem  []Entry
	file *os.File
	size int64
}

// sortEntries sorts the entries seq yields by path in bounded memory
// (sortChunkBytes, then sorted runs in temporary files merged into one).
// A path given twice is an error wrapping ErrCorrupt; an error from seq
// is returned as it is.
func sortEntries(seq iter.Seq2[Entry, error]) (*sortedEntries, error) {
	s := newEntrySorter(func(p string) error { return fmt.Errorf("%w: %q recorded twice", ErrCorrupt, p) })
	for e, err := range seq {
		if err == nil {
			err = s.add(e)
		}
		if err != nil {
			s.close()
			return nil, err
		}
	}
	return s.finish()
}

// entrySorter sorts the entries added to it by path in bounded memory:
// sortChunkBytes of them at a time, then sorted runs in temporary files,
// merged into one by finish. Entries added in path order (the common
// case: a walk's) go to one run, appended to, that needs no merge.
type entrySorter struct {
	chunk []Entry
	held  int
	runs  []*os.File
	// ascending is true while every entry came after the one before.
	ascending bool
	last      string
	// twice is the error for a path added twice.
	twice func(p string) error
	// limit is what the entries held may take (entrySize) before they go
	// to a run.
	limit int
}

func newEntrySorter(twice func(p string) error) *entrySorter {
	return &entrySorter{ascending: true, twice: twice, limit: sortChunkBytes}
}

// newDirSorter is an entrySorter for directory hashes, which holds an
// eighth of what a file list's does: several lists of them are open at
// once (one per generation read, and the one written), and a list that
// fits its chunk stays in memory.
func newDirSorter(twice func(p string) error) *entrySorter {
	s := newEntrySorter(twice)
	s.limit = max(1, sortChunkBytes/8)
	return s
}

// add adds e; past sortChunkBytes the entries held go to a sorted run.
func (s *entrySorter) add(e Entry) error {
	if s.ascending && (len(s.chunk) > 0 || len(s.runs) > 0) && e.Path <= s.last {
		s.ascending = false
	}
	s.last = e.Path
	s.chunk = append(s.chunk, e)
	if s.held += entrySize(e); s.held >= s.limit {
		return s.spill()
	}
	return nil
}

// spill writes the entries held as a sorted run: appended to the one run
// while the entries come in order, a new run otherwise.
func (s *entrySorter) spill() error {
	var err error
	if s.ascending && len(s.runs) == 1 {
		err = appendRun(s.runs[0], s.chunk)
	} else {
		var run *os.File
		if run, err = writeRun(s.chunk); err == nil {
			s.runs = append(s.runs, run)
		}
	}
	clear(s.chunk)
	s.chunk, s.held = s.chunk[:0], 0
	return err
}

// close releases the runs of a sorter not finished.
func (s *entrySorter) close() {
	closeAll(s.runs)
	s.runs, s.chunk = nil, nil
}

// finish returns the entries sorted; the sorter is then spent. A path
// added twice is s.twice's error.
func (s *entrySorter) finish() (*sortedEntries, error) {
	runs, chunk := s.runs, s.chunk
	s.runs, s.chunk = nil, nil
	fail := func(err error) (*sortedEntries, error) {
		closeAll(runs)
		return nil, err
	}
	if len(runs) == 0 {
		slices.SortFunc(chunk, compareEntryPath)
		for i := 1; i < len(chunk); i++ {
			if chunk[i].Path == chunk[i-1].Path {
				return nil, s.twice(chunk[i].Path)
			}
		}
		return &sortedEntries{mem: chunk}, nil
	}
	if s.ascending && len(runs) == 1 {
		// In order throughout: the one run is the result.
		if err := appendRun(runs[0], chunk); err != nil {
			return fail(err)
		}
		size, err := runs[0].Seek(0, io.SeekCurrent)
		if err != nil {
			return fail(err)
		}
		return &sortedEntries{file: runs[0], size: size}, nil
	}
	if len(chunk) > 0 {
		run, err := writeRun(chunk)
		if err != nil {
			return fail(err)
		}
		runs = append(runs, run)
	}
	for len(runs) > mergeFanIn {
		var next []*os.File
		for len(runs) > 0 {
			k := min(mergeFanIn, len(runs))
			out, _, err := mergeRuns(runs[:k], s.twice)
			closeAll(runs[:k])
			if err != nil {
				closeAll(next)
				runs = runs[k:]
				return fail(err)
			}
			runs, next = runs[k:], append(next, out)
		}
		runs = next
	}
	out, size, err := mergeRuns(runs, s.twice)
	closeAll(runs)
	if err != nil {
		return nil, err
	}
	return &sortedEntries{file: out, size: size}, nil
}

func compareEntryPath(a, b Entry) int { return strings.Compare(a.Path, b.Path) }

// entrySize estimates the memory e holds.
func entrySize(e Entry) int {
	n := 96 + len(e.Path)
	for _, h := range e.Hashes {
		n += 64 + len(h.Value) + len(h.Action)
	}
	return n
}

func closeAll(fs []*os.File) {
	for _, f := range fs {
		f.Close()
	}
}

// tempFile creates a temporary file that is unlinked at once: it goes
// away with its descriptor, whatever happens to the process.
func tempFile() (*os.File, error) {
	f, err := os.CreateTemp("", "cvv-sort-*")
	if err != nil {
		return nil, err
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// writeRun sorts chunk and writes it to a new temporary file.
func writeRun(chunk []Entry) (*os.File, error) {
	slices.SortFunc(chunk, compareEntryPath)
	f, err := tempFile()
	if err != nil {
		return nil, err
	}
	if err := appendRun(f, chunk); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// appendRun writes chunk, in path order, at the end of the run f.
func appendRun(f *os.File, chunk []Entry) error {
	w := bufio.NewWriterSize(f, 64<<10)
	for _, e := range chunk {
		writeEntry(w, e)
	}
	return w.Flush()
}

// mergeRuns merges the sorted runs into one temporary file, refusing a
// path found twice (twice's error), and returns it with its size.
func mergeRuns(runs []*os.File, twice func(p string) error) (*os.File, int64, error) {
	out, err := tempFile()
	if err != nil {
		return nil, 0, err
	}
	fail := func(err error) (*os.File, int64, error) {
		out.Close()
		return nil, 0, err
	}
	h := &runHeap{}
	for _, r := range runs {
		c := &runCursor{r: bufio.NewReaderSize(io.NewSectionReader(r, 0, 1<<62), 16<<10)}
		if ok, err := c.next(); err != nil {
			return fail(err)
		} else if ok {
			h.cs = append(h.cs, c)
		}
	}
	heap.Init(h)
	w := bufio.NewWriterSize(out, 64<<10)
	last, first := "", true
	for h.Len() > 0 {
		c := h.cs[0]
		if !first && c.e.Path == last {
			return fail(twice(last))
		}
		writeEntry(w, c.e)
		last, first = c.e.Path, false
		if ok, err := c.next(); err != nil {
			return fail(err)
		} else if ok {
			heap.Fix(h, 0)
		} else {
			heap.Pop(h)
		}
	}
	if err := w.Flush(); err != nil {
		return fail(err)
	}
	size, err := out.Seek(0, io.SeekCurrent)
	if err != nil {
		return fail(err)
	}
	return out, size, nil
}

// runCursor is the next entry of one sorted run.
type runCursor struct {
	r *bufio.Reader
	e Entry
}

func (c *runCursor) next() (bool, error) {
	e, err := readEntry(c.r)
	if errors.Is(err, io.EOF) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	c.e = e
	return true, nil
}

// runHeap orders the run cursors by their entry's path.
type runHeap struct{ cs []*runCursor }

func (h *runHeap) Len() int           { return len(h.cs) }
func (h *runHeap) Less(i, j int) bool { return h.cs[i].e.Path < h.cs[j].e.Path }
func (h *runHeap) Swap(i, j int)      { h.cs[i], h.cs[j] = h.cs[j], h.cs[i] }
func (h *runHeap) Push(x any)         { h.cs = append(h.cs, x.(*runCursor)) }
func (h *runHeap) Pop() any {
	c := h.cs[len(h.cs)-1]
	h.cs = h.cs[:len(h.cs)-1]
	return c
}

// all yields the sorted entries; it may be called again.
func (s *sortedEntries) all() iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		if s.file == nil {
			for _, e := range s.mem {
				if !yield(e, nil) {
					return
				}
			}
			return
		}
		r := bufio.NewReaderSize(io.NewSectionReader(s.file, 0, s.size), 64<<10)
		for {
			e, err := readEntry(r)
			if errors.Is(err, io.EOF) {
				return
			}
			if !yield(e, err) || err != nil {
				return
			}
		}
	}
}

// close releases the temporary file, if any.
func (s *sortedEntries) close() error {
	if s == nil || s.file == nil {
		return nil
	}
	return s.file.Close()
}

// writeEntry encodes e; errors surface at the writer's Flush. The
// numbers are encoded in w's own free space (AvailableBuffer): nothing
// is allocated per entry.
func writeEntry(w *bufio.Writer, e Entry) {
	writeString(w, e.Path)
	w.Write(binary.AppendVarint(w.AvailableBuffer(), e.Size))
	writeTime(w, e.ModTime)
	w.Write(binary.AppendUvarint(w.AvailableBuffer(), uint64(len(e.Hashes))))
	for _, h := range e.Hashes {
		w.Write(binary.AppendUvarint(w.AvailableBuffer(), uint64(h.Alg)))
		writeString(w, h.Value)
		writeString(w, h.Action)
		writeTime(w, h.Date)
	}
}

func writeString(w *bufio.Writer, s string) {
	w.Write(binary.AppendUvarint(w.AvailableBuffer(), uint64(len(s))))
	w.WriteString(s)
}

func writeTime(w *bufio.Writer, t time.Time) {
	// Its length in one byte (a time takes 15 to 18), then the time.
	b, err := t.AppendBinary(append(w.AvailableBuffer(), 0))
	if err != nil {
		// Only for offsets not in whole minutes: written as no time.
		b = b[:1]
	}
	b[0] = byte(len(b) - 1)
	w.Write(b)
}

// readEntry decodes an entry writeEntry wrote; io.EOF at the end.
func readEntry(r *bufio.Reader) (Entry, error) {
	var e Entry
	p, err := readString(r)
	if err != nil {
		return e, err // io.EOF between entries
	}
	e.Path = p
	var n uint64
	if e.Size, err = binary.ReadVarint(r); err == nil {
		if e.ModTime, err = readTime(r); err == nil {
			n, err = binary.ReadUvarint(r)
		}
	}
	for i := uint64(0); i < n && err == nil; i++ {
		var h Hash
		var alg uint64
		if alg, err = binary.ReadUvarint(r); err != nil {
			break
		}
		h.Alg = hashing.Algorithm(alg)
		if h.Value, err = readString(r); err == nil {
			if h.Action, err = readString(r); err == nil {
				h.Date, err = readTime(r)
			}
		}
		e.Hashes = append(e.Hashes, h)
	}
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return e, err
}

func readString(r *bufio.Reader) (string, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return "", err
	}
	if n <= uint64(r.Size()) {
		// One allocation, the string's, not a buffer besides.
		b, err := r.Peek(int(n))
		if err != nil {
			return "", io.ErrUnexpectedEOF
		}
		s := string(b)
		_, err = r.Discard(int(n))
		return s, err
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", io.ErrUnexpectedEOF
	}
	return string(b), nil
}

// readTime decodes a time writeTime wrote, from r's buffer where it is
// held whole (as it always is: 15 to 17 bytes).
func readTime(r *bufio.Reader) (time.Time, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return time.Time{}, err
	}
	var t time.Time
	if n == 0 {
		return t, nil
	}
	if n > uint64(r.Size()) {
		return t, errors.New("corrupt time")
	}
	b, err := r.Peek(int(n))
	if err != nil {
		return t, io.ErrUnexpectedEOF
	}
	if err := t.UnmarshalBinary(b); err != nil {
		return t, err
	}
	_, err = r.Discard(int(n))
	return t, err
}
