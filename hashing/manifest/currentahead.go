package manifest

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cvv-project/cvv/hashing"
)

// CurrentCheck is CurrentFormats split in two, for a record whose files
// are known only at the end of a run (a copy's) while its root, algorithm,
// directories and ignore patterns are known from the start: ReadAhead
// does, while the run goes on, the part of the check that needs no file
// of the record, and Formats the rest once they are known.
//
// Ahead, the ASC MHL history is read and checked as Current reads it (the
// chain, every generation, the newest one's structure and directory
// hashes), and the newest generation's entries, each with no failed hash
// and one in the record's algorithm, are reduced to a SHA-256 digest of
// their paths, sizes and hashes in path order. Formats computes the same
// digest of the record's files: the history records them when the two
// are equal. What ReadAhead read must still be there, unchanged, when
// Formats is called: each file and directory it read is stamped (device,
// inode, size, modification and change time) before it is read, and
// stamped again then; one that changed, or whose change time was too close
// to the read to tell a later change from it (see stampMargin), is read
// again by Formats, as Current does. The sums and xxh lists depend on
// the files alone: Formats compares them.
//
// A CurrentCheck holds nothing per file: the history's directory entries
// in bounded memory, as OpenHistory does, until Close.
type CurrentCheck struct {
	rec     Record // without files: Root, Alg, Dirs and Ignore, normalized
	formats []Format

	mu    sync.Mutex
	state aheadState
	done  chan struct{} // closed when ReadAhead ends
	stop  atomic.Bool   // asks ReadAhead to stop
	mhl   mhlAhead      // ReadAhead's result, once done
}

type aheadState int

const (
	aheadIdle    aheadState = iota // not started: Formats checks everything
	aheadRunning                   // ReadAhead under way
	aheadDone                      // ReadAhead ended (mhl holds its result)
	aheadClosed                    // Formats or Close came first
)

// NewCurrentCheck returns the check of formats in rec.Root for a record
// with rec's Root, Alg, Dirs and Ignore (its files are not read). Nothing
// is read until ReadAhead or Formats; Close releases it.
func NewCurrentCheck(rec Record, formats []Format) *CurrentCheck {
	rec.Files, rec.Spool = nil, nil
	return &CurrentCheck{rec: normalized(rec), formats: slices.Clone(formats), done: make(chan struct{})}
}

// ReadAhead reads what the check needs besides the record's files (see
// CurrentCheck), in the calling goroutine; it returns at once when there
// is nothing to read ahead (no MHL among the formats), when Formats or
// Close came first, or when it was called before. Close stops it.
func (c *CurrentCheck) ReadAhead() {
	c.mu.Lock()
	if c.state != aheadIdle || !slices.Contains(c.formats, MHL) || c.rec.Root == "" {
		c.mu.Unlock()
		return
	}
	c.state = aheadRunning
	c.mu.Unlock()
	m := mhlAheadOf(c.rec, &c.stop)
	c.mu.Lock()
	c.mhl, c.state = m, aheadDone
	if c.stop.Load() {
		// Closed while it read: nobody will ask.
		c.mhl.close()
	}
	c.mu.Unlock()
	close(c.done)
}

// Formats returns those of the check's formats whose manifests record
// rec (CurrentFormats), whose Root, Alg, Dirs and Ignore must be those
// the check was made with. It waits for a ReadAhead under way; what was
// not read ahead, or changed since, is read now.
func (c *CurrentCheck) Formats(rec Record) []Format {
	c.mu.Lock()
	running := c.state == aheadRunning
	if c.state == aheadIdle {
		c.state = aheadClosed
	}
	c.mu.Unlock()
	if running {
		<-c.done
	}
	var ahead *mhlAhead
	c.mu.Lock()
	if c.state == aheadDone && !c.stop.Load() && c.sameDirs(rec) {
		ahead = &c.mhl
	}
	c.mu.Unlock()
	return currentFormats(rec, c.formats, ahead)
}

// sameDirs reports whether rec is a record of what the check read ahead
// for: its root, algorithm, directories and ignore patterns.
func (c *CurrentCheck) sameDirs(rec Record) bool {
	rec.Files, rec.Spool = nil, nil
	n := normalized(rec)
	return n.Root == c.rec.Root && n.Alg == c.rec.Alg && slices.Equal(n.Dirs, c.rec.Dirs) && slices.Equal(n.Ignore, c.rec.Ignore)
}

// Close stops a ReadAhead under way (without waiting for it) and
// releases what the check holds.
func (c *CurrentCheck) Close() {
	c.stop.Store(true)
	c.mu.Lock()
	defer c.mu.Unlock()
	switch c.state {
	case aheadIdle:
		c.state = aheadClosed
	case aheadDone:
		c.mhl.close()
	}
}

// aheadVerdict is what ReadAhead found.
type aheadVerdict int

const (
	aheadUnread     aheadVerdict = iota // not read (stopped): Formats reads it
	aheadNotCurrent                     // no record of these directories is current
	aheadDigest                         // current for the files of digest
)

// mhlAhead is what ReadAhead found of the ASC MHL history: a verdict,
// the digest of the newest generation's entries, and what Formats checks
// again.
type mhlAhead struct {
	verdict aheadVerdict
	digest  [sha256.Size]byte
	// hist is the history read, kept open for the newest generation's
	// directory entries (the child histories are looked for at the end).
	hist *History
	// stamps are those of everything read, taken before it was read;
	// racy is set when one of them cannot tell a later change.
	stamps []pathStamp
	racy   bool
}

func (m *mhlAhead) close() {
	if m.hist != nil {
		m.hist.Close()
		m.hist = nil
	}
}

// mhlAheadOf reads and checks rec.Root's history as mhlCurrent does, with
// the newest generation's entries reduced to a digest (entryDigest)
// instead of compared with rec's files, which it does not read.
func mhlAheadOf(rec Record, stop *atomic.Bool) mhlAhead {
	var m mhlAhead
	start := time.Now()
	dir := filepath.Join(rec.Root, HistoryDir)
	stampOf := func(p string) {
		s := stampPath(p)
		m.racy = m.racy || s.racy(start)
		m.stamps = append(m.stamps, s)
	}
	// The directory first: a generation added or removed later changes it.
	stampOf(dir)
	ents, err := os.ReadDir(dir)
	if err != nil {
		m.verdict = aheadNotCurrent
		return m
	}
	stampOf(filepath.Join(dir, ChainFile))
	for _, e := range ents {
		if _, ok := generationNumber(e.Name()); ok {
			stampOf(filepath.Join(dir, e.Name()))
		}
	}
	c := &currentScan{rec: rec, halt: stop, digest: newEntryDigest()}
	defer c.close()
	hist, err := readHistory(rec.Root, func(dir string, ents []os.DirEntry) (map[int]*Generation, error) {
		return openGenerationsWith(dir, ents, c.read)
	})
	switch {
	case stop.Load():
		if err == nil {
			hist.Close()
		}
		return m
	case err != nil:
		m.verdict = aheadNotCurrent
		return m
	}
	g := hist.Generations[len(hist.Generations)-1]
	current, sure := false, false
	if g == c.g && !c.unsorted {
		current, sure = c.current()
	}
	digest := c.digest
	if !sure {
		// As mhlCurrentRead: the history read again, whole.
		hist.Close()
		if hist, err = OpenHistory(rec.Root); err != nil {
			m.verdict = aheadNotCurrent
			return m
		}
		g = hist.Generations[len(hist.Generations)-1]
		digest = newEntryDigest()
		current = readDigest(rec, g, digest)
	}
	if !current || stop.Load() {
		hist.Close()
		if !stop.Load() {
			m.verdict = aheadNotCurrent
		}
		return m
	}
	m.verdict, m.hist = aheadDigest, hist
	digest.sum(m.digest[:0])
	return m
}

// readDigest is mhlCurrentRead for ReadAhead: whether g, the newest
// generation of a history OpenHistory read, could record a record of
// rec's directories, its entries added to d.
func readDigest(rec Record, g *Generation, d *entryDigest) bool {
	if !newestMatches(rec, g) {
		return false
	}
	files := func(yield func(File, error) bool) {
		for e, err := range g.Entries() {
			if err != nil {
				yield(File{}, err)
				return
			}
			f, ok := d.add(e, rec.Alg)
			if !ok {
				yield(File{}, errNotCurrent)
				return
			}
			if !yield(f, nil) {
				return
			}
		}
	}
	next, stop := iter.Pull2(g.dirs())
	defer stop()
	if walkDirs(files, dirKeys(rec.Dirs), &dirMatch{next: next, noChildren: true}) != nil {
		return false
	}
	_, _, more := next()
	return !more
}

// current reports, at the end, whether the history ReadAhead read records
// rec: the digest of rec's files is the newest generation's, nothing read
// changed since, and no directory holds a child history.
func (m *mhlAhead) current(rec Record) (current, sure bool) {
	switch m.verdict {
	case aheadUnread:
		return false, false
	case aheadNotCurrent:
		return false, !m.racy && m.unchanged()
	}
	if m.racy || !m.unchanged() {
		return false, false
	}
	d := newEntryDigest()
	for f, err := range rec.files() {
		if err != nil {
			return false, true
		}
		d.addFile(f)
	}
	var sum [sha256.Size]byte
	if d.sum(sum[:0]); sum != m.digest {
		return false, true
	}
	g := m.hist.Generations[len(m.hist.Generations)-1]
	for d, err := range g.dirs() {
		if err != nil {
			return false, true
		}
		if st, err := os.Lstat(filepath.Join(rec.Root, filepath.FromSlash(d), HistoryDir)); err == nil && st.IsDir() {
			return false, true
		}
	}
	return true, true
}

// unchanged reports whether everything ReadAhead read is as it was.
func (m *mhlAhead) unchanged() bool {
	for _, s := range m.stamps {
		if !stampPath(s.path).same(s) {
			return false
		}
	}
	return true
}

// entryDigest is the SHA-256 of a list of files as the newest generation
// and a record both give them, in path order: each file's path, size and
// hash in the record's algorithm (lower case), length-prefixed.
type entryDigest struct {
	h   hash.Hash
	buf []byte
}

func newEntryDigest() *entryDigest { return &entryDigest{h: sha256.New()} }

// add adds the generation entry e and returns it as the File whose hash
// in alg it records; ok is false when no record can match it: it has a
// failed hash, or none in alg (recordsHash).
func (d *entryDigest) add(e Entry, alg hashing.Algorithm) (f File, ok bool) {
	i := -1
	for k, h := range e.Hashes {
		if h.Action == "failed" {
			return f, false
		}
		if h.Alg == alg {
			i = k
		}
	}
	if i < 0 {
		return f, false
	}
	f = File{Path: e.Path, Size: e.Size, Hash: e.Hashes[i].Value}
	d.addFile(f)
	return f, true
}

// addFile adds a record's file.
func (d *entryDigest) addFile(f File) {
	d.buf = binary.AppendUvarint(d.buf, uint64(len(f.Path)))
	d.buf = append(d.buf, f.Path...)
	d.buf = binary.AppendVarint(d.buf, f.Size)
	d.buf = binary.AppendUvarint(d.buf, uint64(len(f.Hash)))
	d.buf = append(d.buf, strings.ToLower(f.Hash)...)
	if len(d.buf) >= 32<<10 {
		d.h.Write(d.buf)
		d.buf = d.buf[:0]
	}
}

// sum appends the digest to b.
func (d *entryDigest) sum(b []byte) []byte {
	d.h.Write(d.buf)
	d.buf = d.buf[:0]
	return d.h.Sum(b)
}

// errStopped ends a ReadAhead that Close stopped.
var errStopped = errors.New("stopped")
