package manifest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cvv-project/cvv/hashing"
)

// Current reports whether the manifests of formats in rec.Root already
// record rec, so that Write would only repeat them: a sums or xxh list
// holding exactly the bytes Write would write, and an ASC MHL history
// without child histories whose newest generation lists exactly rec's
// files (paths, sizes, hashes in rec.Alg, none failed) and directories,
// and has every ignore pattern of rec. A classic MHL file records one run:
// with MHL1 among formats, nothing is current.
//
// It only compares records; whether the files still hold what they say
// is for the caller to know (cvv asks only when every file of the run was
// skipped with the hash of its verification record).
func Current(rec Record, formats []Format) bool {
	return len(formats) > 0 && len(CurrentFormats(rec, formats)) == len(formats)
}

// CurrentFormats returns those of formats whose manifests in rec.Root
// already record rec (Current of each alone), in the order of formats.
// The formats are checked side by side, one goroutine each: every check
// streams rec's files by itself and holds nothing per file.
func CurrentFormats(rec Record, formats []Format) []Format {
	return currentFormats(rec, formats, nil)
}

// currentFormats is CurrentFormats, with what ReadAhead found of the ASC
// MHL history when ahead is not nil.
func currentFormats(rec Record, formats []Format, ahead *mhlAhead) []Format {
	if len(formats) == 0 || rec.Root == "" {
		return nil
	}
	rec = normalized(rec)
	if rec.Spool != nil && rec.Spool.finish() != nil {
		// Sorted once here, before the checks read it side by side; a
		// spool that cannot be read records nothing.
		return nil
	}
	current := make([]bool, len(formats))
	var wg sync.WaitGroup
	for i, f := range formats {
		wg.Go(func() { current[i] = currentFormat(rec, f, ahead) })
	}
	wg.Wait()
	var out []Format
	for i, f := range formats {
		if current[i] {
			out = append(out, f)
		}
	}
	return out
}

// currentFormat reports whether the manifest of f in rec.Root records
// rec, normalized.
func currentFormat(rec Record, f Format, ahead *mhlAhead) bool {
	switch f {
	case Sums, XXH:
		return fileHolds(FileName(rec.Root, f, rec.Alg), func(w io.Writer) error { return writeSums(w, rec, f) })
	case MHL:
		if ahead != nil {
			if current, sure := ahead.current(rec); sure {
				return current
			}
		}
		return mhlCurrent(rec)
	}
	return false
}

// fileHolds reports whether the file at p holds exactly what render
// writes, compared as it is written: neither is held whole in memory.
func fileHolds(p string, render func(io.Writer) error) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	c := &compareWriter{r: bufio.NewReaderSize(f, 64<<10)}
	if err := render(c); err != nil {
		return false
	}
	_, err = c.r.ReadByte()
	return errors.Is(err, io.EOF)
}

// compareWriter compares what is written to it with what r yields; it
// fails the first write that differs.
type compareWriter struct {
	r   *bufio.Reader
	buf []byte
}

var errDiffers = errors.New("differs")

func (c *compareWriter) Write(p []byte) (int, error) {
	if cap(c.buf) < len(p) {
		c.buf = make([]byte, len(p))
	}
	b := c.buf[:len(p)]
	if _, err := io.ReadFull(c.r, b); err != nil || !bytes.Equal(b, p) {
		return 0, errDiffers
	}
	return len(p), nil
}

// normalized is rec as Write records it: without the manifests
// themselves, files sorted by path.
// The caller's slices are not changed; they are used as they are when
// they are in order and list no manifest (a record of a walk in path
// order, which lists a million files: no copy of it). A Spool is sorted
// already; its manifests are left out as it is read.
func normalized(rec Record) Record {
	isManifest := func(f File) bool { return IsManifest(rec.Root, f.Path) }
	if rec.Spool != nil {
		rec.keep = func(f File) (File, bool) { return f, !isManifest(f) }
	}
	byPath := func(a, b File) int { return strings.Compare(a.Path, b.Path) }
	if slices.ContainsFunc(rec.Files, isManifest) || !slices.IsSortedFunc(rec.Files, byPath) {
		files := slices.DeleteFunc(slices.Clone(rec.Files), isManifest)
		slices.SortFunc(files, byPath)
		rec.Files = files
	}
	isManifestDir := func(d string) bool { return IsManifest(rec.Root, d) }
	if slices.ContainsFunc(rec.Dirs, isManifestDir) {
		rec.Dirs = slices.DeleteFunc(slices.Clone(rec.Dirs), isManifestDir)
	}
	return rec
}

// mhlCurrent reports whether the newest generation of rec.Root's history
// records rec (see Current). rec is normalized: its files in path order.
//
// The newest generation is read once (currentScan): as its C4 ID is taken
// and its structure checked, each entry is compared with rec's next file
// and folded into the directory hashes its directories must record, which
// are compared with the recorded ones once it is read. The older ones are
// read as OpenHistory reads them. Where the newest generation file is not
// the newest committed one (an interrupted commit left it), or lists its
// files out of path order (another tool's), or records directory hashes
// in another algorithm, the history is read again by mhlCurrentRead.
func mhlCurrent(rec Record) bool {
	c := &currentScan{rec: rec}
	defer c.close()
	hist, err := readHistory(rec.Root, func(dir string, ents []os.DirEntry) (map[int]*Generation, error) {
		return openGenerationsWith(dir, ents, c.read)
	})
	if err != nil {
		return false
	}
	defer hist.Close()
	g := hist.Generations[len(hist.Generations)-1]
	if g != c.g || c.unsorted {
		return mhlCurrentRead(rec)
	}
	current, sure := c.current()
	if !sure {
		return mhlCurrentRead(rec)
	}
	return current
}

// mhlCurrentRead is mhlCurrent reading the history as OpenHistory does,
// then the newest generation again, beside rec's files.
func mhlCurrentRead(rec Record) bool {
	hist, err := OpenHistory(rec.Root)
	if err != nil {
		return false
	}
	defer hist.Close()
	g := hist.Generations[len(hist.Generations)-1]
	if !newestMatches(rec, g) || !dirsMatch(rec, g) {
		return false
	}
	next, stop := iter.Pull2(rec.files())
	defer stop()
	for e, err := range g.Entries() {
		f, ferr, ok := next()
		if err != nil || ferr != nil || !ok {
			return false
		}
		if e.Path != f.Path || e.Size != f.Size || !recordsHash(e, f, rec.Alg) {
			return false
		}
	}
	_, _, more := next()
	return !more
}

// newestMatches reports whether g, the newest generation, has no child
// histories and every ignore pattern of rec.
func newestMatches(rec Record, g *Generation) bool {
	if len(g.References) > 0 {
		return false
	}
	for _, p := range rec.Ignore {
		if !slices.Contains(g.Ignore, p) {
			return false
		}
	}
	return true
}

// currentScan is the one pass of mhlCurrent over the newest generation
// file: openGeneration's reading and checks, with each entry compared with
// rec's next file while they agree, and folded into the directory hashes
// in rec.Alg of rec's directories (computed), as a walk of rec's files
// and directories visits them (dirMatch's check of child histories too).
type currentScan struct {
	rec Record
	g   *Generation
	// unsorted is set when g's entries are not in path order.
	unsorted bool
	// matching is true while every entry so far is rec's next file.
	matching bool
	next     func() (File, error, bool)
	stop     func()
	walk     *dirWalk
	fold     *dirFold
	root     dirHash
	computed *entrySorter
	// digest, when set, takes each entry instead of rec's files, which
	// are not read (ReadAhead): the entries are compared with them at
	// the end. halt, when set, stops the scan.
	digest *entryDigest
	halt   *atomic.Bool
}

// read reads and checks the generation file p (openGeneration's checks,
// but the directory hashes: current compares them).
func (c *currentScan) read(p string) (*Generation, error) {
	c.next, c.stop = iter.Pull2(c.rec.files())
	c.computed = newDirSorter(func(p string) error { return fmt.Errorf("directory %q hashed twice", p) })
	c.fold = &dirFold{alg: c.rec.Alg, stack: []*openDir{{}}, done: func(d string, h dirHash) error {
		if d == "" {
			c.root = h
			return nil
		}
		return c.computed.add(dirEntry(d+"/", h))
	}}
	c.walk = newDirWalk(dirKeys(c.rec.Dirs), childCheck{root: c.rec.Root, dirFold: c.fold})
	c.matching = true
	g, sorted, err := scanChecked(p, func(e Entry) error {
		if c.matching {
			return c.match(e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.g, c.unsorted = g, !sorted
	return g, nil
}

// match compares e with rec's next file and, while they agree, hands it
// to the walk. A difference ends the matching, not the scan: a generation
// that turns out not to be in path order may still list rec's files. An
// error from the walk (a child history found) ends the scan: rec is not
// current then, whatever the generation holds.
func (c *currentScan) match(e Entry) error {
	if c.halt != nil && c.halt.Load() {
		return errStopped
	}
	if c.digest != nil {
		f, ok := c.digest.add(e, c.rec.Alg)
		if !ok {
			c.matching = false
			return nil
		}
		return c.walk.file(f)
	}
	f, ferr, ok := c.next()
	if ferr != nil || !ok || e.Path != f.Path || e.Size != f.Size || !recordsHash(e, f, c.rec.Alg) {
		c.matching = false
		return nil
	}
	i := slices.IndexFunc(e.Hashes, func(h Hash) bool { return h.Alg == c.rec.Alg })
	return c.walk.file(File{Path: e.Path, Hash: e.Hashes[i].Value})
}

// childCheck is the dirVisitor of currentScan's walk: the fold of the
// directory hashes, which first finds no history folder in a directory
// (as dirMatch).
type childCheck struct {
	root string
	*dirFold
}

func (v childCheck) open(d string) error {
	if st, err := os.Lstat(filepath.Join(v.root, filepath.FromSlash(d), HistoryDir)); err == nil && st.IsDir() {
		return errNotCurrent
	}
	return v.dirFold.open(d)
}

// current reports whether the scanned generation, the newest committed,
// records rec; sure is false where mhlCurrentRead must tell.
func (c *currentScan) current() (current, sure bool) {
	g, sums := c.g, c.g.dirSums
	if !c.matching || !newestMatches(c.rec, g) {
		return false, true
	}
	if _, _, more := c.next(); more {
		return false, true
	}
	if err := c.walk.end(); err != nil {
		return false, true
	}
	computed, err := c.computed.finish()
	c.computed = nil
	if err != nil {
		return false, true
	}
	defer computed.close()
	// As openGeneration checks them: cvv's own directory hashes, in
	// each algorithm they are recorded in.
	check := g.Tool == ToolName
	if check && slices.ContainsFunc(sums.algs, func(a hashing.Algorithm) bool { return a != c.rec.Alg }) {
		return false, false
	}
	if check && sums.root != nil && compareDirSum("", c.rec.Alg, sums.digests(sums.root), c.root) != nil {
		return false, true
	}
	// The directories recorded are those of rec (dirsMatch), with the
	// hashes rec's files give them.
	next, stop := iter.Pull2(computed.all())
	defer stop()
	for e, err := range sums.list.all() {
		h, herr, ok := next()
		if err != nil || herr != nil || !ok || h.Path != e.Path {
			return false, true
		}
		if check && compareDirSum(strings.TrimSuffix(e.Path, "/"), c.rec.Alg, e.Hashes, entryDirHash(h)) != nil {
			return false, true
		}
	}
	_, _, more := next()
	return !more, true
}

// close releases what the scan holds.
func (c *currentScan) close() {
	if c.stop != nil {
		c.stop()
	}
	if c.walk != nil {
		c.walk.stop()
	}
	if c.computed != nil {
		c.computed.close()
	}
}

// dirsMatch reports whether the directory entries a generation of rec
// would list (rec.Dirs and the parents of its files, the root aside) are
// those g lists, and none of them holds an ASC MHL history folder (a
// record with child histories is never current: Write gives each its
// generation). Both are walked side by side, in walkDirs's order.
func dirsMatch(rec Record, g *Generation) bool {
	next, stop := iter.Pull2(g.dirs())
	defer stop()
	err := walkDirs(rec.files(), dirKeys(rec.Dirs), &dirMatch{root: rec.Root, next: next})
	if err != nil {
		return false
	}
	_, _, more := next()
	return !more
}

// dirMatch is the dirVisitor of dirsMatch.
type dirMatch struct {
	root string
	next func() (string, error, bool)
	// noChildren leaves the child histories to the caller.
	noChildren bool
}

// errNotCurrent ends the walk of dirsMatch at the first difference.
var errNotCurrent = errors.New("not current")

func (m *dirMatch) open(d string) error {
	if !m.noChildren {
		if st, err := os.Lstat(filepath.Join(m.root, filepath.FromSlash(d), HistoryDir)); err == nil && st.IsDir() {
			return errNotCurrent
		}
	}
	if got, err, ok := m.next(); err != nil || !ok || got != d {
		return errNotCurrent
	}
	return nil
}

func (m *dirMatch) file(File) error    { return nil }
func (m *dirMatch) close(string) error { return nil }

// recordsHash reports whether e holds f's hash in alg, and no failed
// hash.
func recordsHash(e Entry, f File, alg hashing.Algorithm) bool {
	found := false
	for _, h := range e.Hashes {
		if h.Action == "failed" {
			return false
		}
		if h.Alg == alg && strings.EqualFold(h.Value, f.Hash) {
			found = true
		}
	}
	return found
}
