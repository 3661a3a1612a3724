package manifest

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"

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
	if len(formats) == 0 || rec.Root == "" {
		return false
	}
	rec = normalized(rec)
	for _, f := range formats {
		switch f {
		case Sums, XXH:
			if !fileHolds(FileName(rec.Root, f, rec.Alg), func(w io.Writer) error { return writeSums(w, rec, f) }) {
				return false
			}
		case MHL:
			if !mhlCurrent(rec) {
				return false
			}
		default:
			return false
		}
	}
	return true
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
// The history is read as a stream (OpenHistory), one entry at a time
// beside rec's (Files, or its Spool read as a stream).
func mhlCurrent(rec Record) bool {
	hist, err := OpenHistory(rec.Root)
	if err != nil {
		return false
	}
	defer hist.Close()
	g := hist.Generations[len(hist.Generations)-1]
	if len(g.References) > 0 {
		return false
	}
	for _, p := range rec.Ignore {
		if !slices.Contains(g.Ignore, p) {
			return false
		}
	}
	if !dirsMatch(rec, g) {
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
}

// errNotCurrent ends the walk of dirsMatch at the first difference.
var errNotCurrent = errors.New("not current")

func (m *dirMatch) open(d string) error {
	if st, err := os.Lstat(filepath.Join(m.root, filepath.FromSlash(d), HistoryDir)); err == nil && st.IsDir() {
		return errNotCurrent
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
