package manifest

import (
	"encoding/hex"
	"iter"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/cvv-project/cvv/hashing"
)

// dirHash is the content and structure hash of one directory, and its
// modification time (zero when it could not be read).
type dirHash struct {
	content, structure string
	modTime            time.Time
}

// dirVisitor is what walkDirs calls as it walks a record's directories.
type dirVisitor interface {
	// open is called for each directory below the root, parents first,
	// once, before what it holds.
	open(d string) error
	// file is called for each file, in the innermost open directory.
	file(f File) error
	// close is called for each directory once everything below it was
	// visited; the root ("") last.
	close(d string) error
}

// walkDirs visits the directories of a record in path order, each once,
// with only the directories open on the way to the current file held:
// files (in path order, as they come) and dirs (directories below the
// root, empty ones too, in the order of compareDirKeys, as dirKeys
// yields them; a directory's parents are visited whether listed or not).
// An error from files, dirs or v ends the walk and is returned.
//
// A directory's place in path order is its name and a '/': where what it
// holds begins. Everything below a directory is contiguous in path order,
// so it is opened and closed once, and the directories are opened in the
// order of compareDirKeys.
func walkDirs(files iter.Seq2[File, error], dirs iter.Seq2[string, error], v dirVisitor) error {
	w := newDirWalk(dirs, v)
	defer w.stop()
	for f, err := range files {
		if err == nil {
			err = w.file(f)
		}
		if err != nil {
			return err
		}
	}
	return w.end()
}

// dirWalk is walkDirs handed its files one at a time (file), by a caller
// that reads them from elsewhere, then ended (end); stop releases it.
type dirWalk struct {
	w    dirStack
	next func() (string, error, bool)
	stop func()
	d    string
	derr error
	more bool
}

func newDirWalk(dirs iter.Seq2[string, error], v dirVisitor) *dirWalk {
	w := &dirWalk{w: dirStack{v: v, open: []string{""}}}
	w.next, w.stop = iter.Pull2(dirs)
	w.d, w.derr, w.more = w.next()
	return w
}

// enterDirs opens the listed directories that come before.
func (w *dirWalk) enterDirs(before func(d string) bool) error {
	for ; w.more; w.d, w.derr, w.more = w.next() {
		if w.derr != nil {
			return w.derr
		}
		if !before(w.d) {
			return nil
		}
		if w.d != "" && w.d != "." {
			if err := w.w.enter(w.d); err != nil {
				return err
			}
		}
	}
	return nil
}

// file visits f, the next file in path order.
func (w *dirWalk) file(f File) error {
	if err := w.enterDirs(func(d string) bool { return dirKeyBefore(d, f.Path) }); err != nil {
		return err
	}
	if err := w.w.enter(parentDir(f.Path)); err != nil {
		return err
	}
	return w.w.v.file(f)
}

// end visits the directories left and closes them, the root last.
func (w *dirWalk) end() error {
	if err := w.enterDirs(func(string) bool { return true }); err != nil {
		return err
	}
	if err := w.w.enter(""); err != nil {
		return err
	}
	return w.w.v.close("")
}

// dirKeys yields dirs in the order walkDirs takes them (compareDirKeys),
// sorted on a copy when they are not.
func dirKeys(dirs []string) iter.Seq2[string, error] {
	if !slices.IsSortedFunc(dirs, compareDirKeys) {
		dirs = slices.Clone(dirs)
		slices.SortFunc(dirs, compareDirKeys)
	}
	return func(yield func(string, error) bool) {
		for _, d := range dirs {
			if !yield(d, nil) {
				return
			}
		}
	}
}

// dirStack is the directories walkDirs holds open, from the root down.
type dirStack struct {
	v    dirVisitor
	open []string // open[0] is the root, ""
}

// enter makes d the innermost open directory: the open directories that
// are not d or above it are closed, the missing ones between the
// innermost remaining one and d are opened.
func (w *dirStack) enter(d string) error {
	for len(w.open) > 1 {
		top := w.open[len(w.open)-1]
		if d == top || strings.HasPrefix(d, top+"/") {
			break
		}
		w.open = w.open[:len(w.open)-1]
		if err := w.v.close(top); err != nil {
			return err
		}
	}
	top := w.open[len(w.open)-1]
	if d == top {
		return nil
	}
	rest := d
	if top != "" {
		rest = d[len(top)+1:]
	}
	for name := range strings.SplitSeq(rest, "/") {
		top = path.Join(top, name)
		w.open = append(w.open, top)
		if err := w.v.open(top); err != nil {
			return err
		}
	}
	return nil
}

// compareDirKeys compares the directories a and b by their place in path
// order: a+"/" against b+"/", without building either.
func compareDirKeys(a, b string) int {
	n := min(len(a), len(b))
	if c := strings.Compare(a[:n], b[:n]); c != 0 || len(a) == len(b) {
		return c
	}
	if len(a) < len(b) {
		return compareSlash(b[n:])
	}
	return -compareSlash(a[n:])
}

// compareSlash compares "/" with rest+"/", rest not empty.
func compareSlash(rest string) int {
	if rest[0] > '/' {
		return -1
	}
	if rest[0] < '/' {
		return 1
	}
	return -1 // "/" is a prefix of rest+"/"
}

// dirKeyBefore reports whether the directory d comes before the file p
// in path order: d+"/" < p.
func dirKeyBefore(d, p string) bool {
	if !strings.HasPrefix(p, d) {
		return d < p
	}
	return len(p) > len(d)+1 && p[len(d)] == '/' || len(p) > len(d) && p[len(d)] > '/'
}

// parentDir is the directory of p relative to the root, "" for the root.
func parentDir(p string) string {
	if d := path.Dir(p); d != "." {
		return d
	}
	return ""
}

// directoryHashes computes the ASC MHL directory hashes of every directory
// of a record, keyed by relative path ("" for the root), as the reference
// implementation (ascmhl/hasher.py, DirectoryHashContext) defines them:
//
//   - content: the hash of the concatenated digests (as bytes) of the
//     children, files and directories, sorted by hex value; a directory
//     child contributes its content hash.
//   - structure: the same over, for each child, the hash of its name
//     (UTF-8) followed by its digest bytes: a file's content hash, a
//     directory's structure hash.
//
// An empty directory hashes the empty input. files are sorted by path
// first if they are not (a foreign generation), on a copy. The hashes are
// held in a map: for a record of known small size (see foldDirectoryHashes
// for one that is not).
func directoryHashes(alg hashing.Algorithm, files []File, dirs []string) map[string]dirHash {
	if !slices.IsSortedFunc(files, compareFilePath) {
		files = slices.Clone(files)
		slices.SortFunc(files, compareFilePath)
	}
	out := map[string]dirHash{}
	_ = foldDirectoryHashes(alg, func(yield func(File, error) bool) {
		for _, f := range files {
			if !yield(f, nil) {
				return
			}
		}
	}, dirKeys(dirs), func(d string, h dirHash) error {
		out[d] = h
		return nil
	})
	return out
}

// foldDirectoryHashes computes the directory hashes of directoryHashes
// over files in path order, as they come, and hands each to done as soon
// as the walk leaves its directory (post-order; the root last): only the
// directories open on the way to the current file hold their children's
// digests. An error from files or done ends the fold and is returned.
func foldDirectoryHashes(alg hashing.Algorithm, files iter.Seq2[File, error], dirs iter.Seq2[string, error], done func(d string, h dirHash) error) error {
	return walkDirs(files, dirs, &dirFold{alg: alg, done: done, stack: []*openDir{{}}})
}

func compareFilePath(a, b File) int { return strings.Compare(a.Path, b.Path) }

// dirFold is the post-order fold of foldDirectoryHashes: the directories
// from the root down to the current one, each with its children's
// digests (a dirVisitor).
type dirFold struct {
	alg   hashing.Algorithm
	done  func(d string, h dirHash) error
	stack []*openDir // stack[0] is the root
	// h and buf hash each entry's name and digest: one hasher and one
	// buffer for the whole fold, not one per file.
	h   hashing.Hasher
	buf []byte
}

type openDir struct {
	path               string
	content, structure []string
}

func (f *dirFold) open(d string) error {
	f.stack = append(f.stack, &openDir{path: d})
	return nil
}

func (f *dirFold) file(file File) error {
	d := strings.ToLower(file.Hash)
	f.addNamed(path.Base(file.Path), d, d)
	return nil
}

// addNamed records a child of the innermost open directory: its name,
// its content digest and the digest its structure entry hashes.
func (f *dirFold) addNamed(name, content, structure string) {
	n := f.stack[len(f.stack)-1]
	n.content = append(n.content, content)
	if f.h == nil {
		f.h = f.alg.New()
	}
	f.buf = append(f.buf[:0], name...)
	f.buf, _ = hex.AppendDecode(f.buf, []byte(structure))
	f.h.Reset()
	f.h.Write(f.buf)
	n.structure = append(n.structure, f.h.Hex())
}

// close hashes the innermost open directory, d, hands it to done and to
// its parent.
func (f *dirFold) close(string) error {
	n := f.stack[len(f.stack)-1]
	f.stack = f.stack[:len(f.stack)-1]
	h := dirHash{content: hashOfHashes(f.alg, n.content), structure: hashOfHashes(f.alg, n.structure)}
	if len(f.stack) > 0 {
		f.addNamed(path.Base(n.path), h.content, h.structure)
	}
	return f.done(n.path, h)
}

// hashOfHashes hashes the sorted hex digests as bytes.
func hashOfHashes(alg hashing.Algorithm, digests []string) string {
	sorted := slices.Clone(digests)
	slices.Sort(sorted)
	h := alg.New()
	for _, d := range sorted {
		raw, _ := hex.DecodeString(d)
		h.Write(raw)
	}
	return h.Hex()
}

// dirEntry is the directory hash h of d as an Entry, for an entrySorter:
// its content and structure hashes in that order.
func dirEntry(d string, h dirHash) Entry {
	return Entry{Path: d, ModTime: h.modTime, Hashes: []Hash{{Value: h.content}, {Value: h.structure}}}
}

// entryDirHash is the directory hash dirEntry made e of.
func entryDirHash(e Entry) dirHash {
	h := dirHash{modTime: e.ModTime}
	if len(e.Hashes) == 2 {
		h.content, h.structure = e.Hashes[0].Value, e.Hashes[1].Value
	}
	return h
}
