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

// entrySorter sorts the entries added to it by path in bounded memory
// (limit). Entries that come nearly in path order (a walk's, settled by
// parallel workers: each a few thousand places from its own) are written
// to one run and need no merge: when those held reach the limit, the new
// ones are sorted and merged with those kept from before, and the
// smallest eighth goes to the run, the rest is kept to meet the entries
// still to come. An entry that comes after the run went past it
// starts a new run; finish merges the runs. Runs are merged mergeFanIn at
// a time as they come (a level of runs that fills is merged into one run
// of the next level), so that the descriptors open stay bounded too.
type entrySorter struct {
	// kept are entries held in path order, none before the run's last
	// (in keptBuf, from which the first are written); fresh those added
	// since, in any order.
	kept, keptBuf, fresh []Entry
	held                 int
	// merged is the buffer kept and fresh are merged into.
	merged []Entry
	// run is the run being written (the last of runs), w its writer,
	// last the path written last.
	run   *os.File
	w     *bufio.Writer
	last  string
	runs  []sortRun
	twice func(p string) error
	// limit is what the entries held may take (entrySize) before some go
	// to a run.
	limit int
}

// sortRun is one sorted run and its level: how many merges made it.
type sortRun struct {
	f     *os.File
	level int
}

func newEntrySorter(twice func(p string) error) *entrySorter {
	return &entrySorter{twice: twice, limit: sortChunkBytes}
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

// add adds e; past the limit the smaller half of the entries held goes
// to a run.
func (s *entrySorter) add(e Entry) error {
	s.fresh = append(s.fresh, e)
	if s.held += entrySize(e); s.held >= s.limit {
		return s.spill(false)
	}
	return nil
}

// hold sorts the fresh entries and merges them with the kept ones (into
// kept): a path there twice is s.twice's error. The kept entries before
// the first fresh one, most of them when the entries come nearly in
// order, are moved in one copy.
func (s *entrySorter) hold() error {
	slices.SortFunc(s.fresh, compareEntryPath)
	m := s.merged[:0]
	i, j := 0, 0
	if len(s.fresh) > 0 {
		i, _ = slices.BinarySearchFunc(s.kept, s.fresh[0].Path, func(e Entry, p string) int { return strings.Compare(e.Path, p) })
		m = append(m, s.kept[:i]...)
	}
	for i < len(s.kept) || j < len(s.fresh) {
		var e Entry
		if j == len(s.fresh) || i < len(s.kept) && s.kept[i].Path < s.fresh[j].Path {
			e, i = s.kept[i], i+1
		} else {
			e, j = s.fresh[j], j+1
		}
		if len(m) > 0 && m[len(m)-1].Path == e.Path {
			return s.twice(e.Path)
		}
		m = append(m, e)
	}
	clear(s.keptBuf)
	clear(s.fresh)
	s.merged, s.keptBuf = s.keptBuf[:0], m
	s.kept, s.fresh = m, s.fresh[:0]
	return nil
}

// spill writes the smallest eighth of the entries held (all of them with
// all set) to the run, after a new one is started when the smallest
// comes before what the run holds. The seven eighths kept meet entries
// that come late: in the re-run of 200,000 files settled by parallel
// workers, up to about 4,000 places after their own.
func (s *entrySorter) spill(all bool) error {
	if err := s.hold(); err != nil {
		return err
	}
	if len(s.kept) == 0 {
		return nil
	}
	switch first := s.kept[0].Path; {
	case s.run != nil && first == s.last:
		return s.twice(first)
	case s.run == nil || first < s.last:
		if err := s.newRun(); err != nil {
			return err
		}
	}
	n := len(s.kept)
	if !all {
		n = 0
		for s.held > s.limit-s.limit/8 && n < len(s.kept) {
			s.held -= entrySize(s.kept[n])
			n++
		}
	}
	for _, e := range s.kept[:n] {
		writeEntry(s.w, e)
	}
	s.last = s.kept[n-1].Path
	clear(s.kept[:n])
	s.kept = s.kept[n:]
	if all {
		s.held = 0
	}
	return nil
}

// newRun ends the run being written and starts another; a level of runs
// that fills is merged first.
func (s *entrySorter) newRun() error {
	if err := s.endRun(); err != nil {
		return err
	}
	for k := len(s.runs); k >= mergeFanIn; k = len(s.runs) {
		level := s.runs[k-1].level
		if s.runs[k-mergeFanIn].level != level {
			break
		}
		batch := s.runs[k-mergeFanIn:]
		files := make([]*os.File, len(batch))
		for i, r := range batch {
			files[i] = r.f
		}
		out, _, err := mergeRuns(files, s.twice)
		closeAll(files)
		s.runs = s.runs[:k-mergeFanIn]
		if err != nil {
			return err
		}
		s.runs = append(s.runs, sortRun{f: out, level: level + 1})
	}
	f, err := tempFile()
	if err != nil {
		return err
	}
	s.run, s.runs = f, append(s.runs, sortRun{f: f})
	if s.w == nil {
		s.w = bufio.NewWriterSize(f, 64<<10)
	} else {
		s.w.Reset(f)
	}
	return nil
}

// endRun flushes the run being written.
func (s *entrySorter) endRun() error {
	if s.run == nil {
		return nil
	}
	s.run = nil
	return s.w.Flush()
}

// close releases the runs of a sorter not finished.
func (s *entrySorter) close() {
	for _, r := range s.runs {
		r.f.Close()
	}
	s.runs, s.run, s.kept, s.keptBuf, s.fresh, s.merged = nil, nil, nil, nil, nil, nil
}

// finish returns the entries sorted; the sorter is then spent. A path
// added twice is s.twice's error.
func (s *entrySorter) finish() (*sortedEntries, error) {
	defer s.close()
	if len(s.runs) == 0 {
		if err := s.hold(); err != nil {
			return nil, err
		}
		mem := s.kept
		s.kept = nil
		return &sortedEntries{mem: mem}, nil
	}
	if err := s.spill(true); err != nil {
		return nil, err
	}
	if err := s.endRun(); err != nil {
		return nil, err
	}
	runs := make([]*os.File, len(s.runs))
	for i, r := range s.runs {
		runs[i] = r.f
	}
	s.runs = nil
	if len(runs) == 1 {
		// One run throughout: it is the result.
		size, err := runs[0].Seek(0, io.SeekCurrent)
		if err != nil {
			closeAll(runs)
			return nil, err
		}
		return &sortedEntries{file: runs[0], size: size}, nil
	}
	for len(runs) > mergeFanIn {
		var next []*os.File
		for len(runs) > 0 {
			k := min(mergeFanIn, len(runs))
			out, _, err := mergeRuns(runs[:k], s.twice)
			closeAll(runs[:k])
			runs = runs[k:]
			if err != nil {
				closeAll(next)
				closeAll(runs)
				return nil, err
			}
			next = append(next, out)
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
