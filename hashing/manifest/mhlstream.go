package manifest

import (
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
	"io"
	"iter"
	"os"
	"path/filepath"
	"slices"

	"github.com/cvv-project/cvv/hashing"
	"github.com/cvv-project/cvv/hashing/manifest/c4"
)

// OpenHistory is ReadHistory without holding the generations' files:
// each generation is read and checked once, in bounded memory, and its
// Files stay nil; Generation.Entries and History.ExpectedFiles read them
// again, in path order, as they are consumed. A generation not written in
// path order (by another tool) is sorted once, in bounded memory, into an
// unlinked temporary file. Close releases those.
//
// What is held per generation is its header and references: nothing per
// file or directory. Its directory entries are kept in path order in
// bounded memory (a temporary file past about 2 MiB), and Dirs stays nil.
func OpenHistory(root string) (*History, error) {
	return readHistory(root, openGenerations)
}

// Close releases what OpenHistory holds for the generations not in path
// order. The History is not usable after.
func (h *History) Close() error {
	if h == nil {
		return nil
	}
	var errs []error
	for _, g := range h.Generations {
		errs = append(errs, g.sorted.close(), g.dirSums.close())
		g.sorted, g.dirSums = nil, nil
	}
	return errors.Join(errs...)
}

// openGenerations reads and checks every generation file among ents, the
// entries of the history directory dir, without keeping their files.
func openGenerations(dir string, ents []os.DirEntry) (map[int]*Generation, error) {
	return openGenerationsWith(dir, ents, nil)
}

// openGenerationsWith is openGenerations with newest, unless nil, reading
// the generation file with the highest number instead of openGeneration.
func openGenerationsWith(dir string, ents []os.DirEntry, newest func(p string) (*Generation, error)) (map[int]*Generation, error) {
	top := -1
	for _, e := range ents {
		if n, ok := generationNumber(e.Name()); ok {
			top = max(top, n)
		}
	}
	byNum := map[int]*Generation{}
	fail := func(err error) (map[int]*Generation, error) {
		for _, g := range byNum {
			g.sorted.close()
			g.dirSums.close()
		}
		return nil, err
	}
	for _, e := range ents {
		n, ok := generationNumber(e.Name())
		if !ok {
			continue
		}
		if byNum[n] != nil {
			return fail(fmt.Errorf("%w: %s: generation %d exists twice", ErrCorrupt, dir, n))
		}
		p := filepath.Join(dir, e.Name())
		open := openGeneration
		if n == top && newest != nil {
			open = newest
		}
		g, err := open(p)
		if err != nil {
			return fail(fmt.Errorf("%s: %w", p, err))
		}
		g.Number = n
		byNum[n] = g
	}
	return byNum, nil
}

// openGeneration reads and checks the generation file p in one pass:
// its C4 ID, its entries, whether they are in path order (else it sorts
// them), its directory entries (kept, sorted, in bounded memory) and, for
// one cvv wrote, its directory hashes.
func openGeneration(p string) (*Generation, error) {
	g, sorted, err := scanChecked(p, nil)
	if err != nil {
		return nil, err
	}
	sums := g.dirSums
	if !sorted {
		if g.sorted, err = sortEntries(g.read()); err != nil {
			sums.close()
			return nil, err
		}
	}
	// As ParseGeneration checks them: cvv's own directory hashes.
	if g.Tool == ToolName && len(g.References) == 0 {
		if err := sums.check(g.Entries); err != nil {
			g.sorted.close()
			sums.close()
			return nil, err
		}
	}
	return g, nil
}

// scanChecked reads the generation file p in one pass (scanGenerationFile)
// and refuses a path recorded twice; each file entry also goes to file,
// unless it is nil. It returns the generation with its C4 ID and its
// directory entries (Generation.dirSums) and whether its entries came in
// path order.
func scanChecked(p string, file func(Entry) error) (*Generation, bool, error) {
	order := pathOrder{sorted: true}
	sums := newDirSums()
	g, id, err := scanGenerationFile(p, scanVisitor{file: func(e Entry) error {
		if order.see(e.Path) {
			return fmt.Errorf("%w: %q recorded twice", ErrCorrupt, e.Path)
		}
		if file != nil {
			return file(e)
		}
		return nil
	}, dir: sums.add}, sums)
	if err == nil {
		err = sums.finish()
	}
	if err != nil {
		sums.close()
		return nil, false, err
	}
	g.File, g.C4, g.dirSums = p, id, sums
	return g, order.sorted, nil
}

// scanGenerationFile is scanGeneration over the file p; it also returns
// the file's C4 ID, records the algorithm ExpectedAlg reads, and gives
// sums the root hash (unless nil).
func scanGenerationFile(p string, v scanVisitor, sums *dirSums) (*Generation, string, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	h := sha512.New()
	var firstAlg *hashing.Algorithm
	file := v.file
	v.file = func(e Entry) error {
		if firstAlg == nil && len(e.Hashes) > 0 {
			firstAlg = &e.Hashes[0].Alg
		}
		return file(e)
	}
	// (No bufio: the lexer reads in 64 KiB chunks of its own.)
	g, root, err := scanGeneration(io.TeeReader(f, h), v)
	if err != nil {
		return nil, "", err
	}
	// The scan stops at the root element's end: what follows is hashed too.
	if _, err := io.Copy(h, f); err != nil {
		return nil, "", err
	}
	if root != nil && sums != nil {
		sums.setRoot(root)
	}
	g.firstAlg = firstAlg
	return g, c4ID(h), nil
}

func c4ID(h hash.Hash) string {
	var d [sha512.Size]byte
	h.Sum(d[:0])
	return c4.FromDigest(d)
}

// errStopScan stops a scan whose consumer has had enough.
var errStopScan = errors.New("stop")

// read yields the entries of g's file in file order, reading it again; a
// file that no longer has the C4 ID it was opened with is an error
// wrapping ErrCorrupt.
func (g *Generation) read() iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		_, id, err := scanGenerationFile(g.File, scanVisitor{file: func(e Entry) error {
			if !yield(e, nil) {
				return errStopScan
			}
			return nil
		}}, nil)
		switch {
		case errors.Is(err, errStopScan):
		case err != nil:
			yield(Entry{}, fmt.Errorf("%s: %w", g.File, err))
		case id != g.C4:
			yield(Entry{}, fmt.Errorf("%w: %s changed while it was read", ErrCorrupt, g.File))
		}
	}
}

// Entries yields g's file entries in path order: from Files when they
// were read into memory (ReadHistory), else read again from g's file
// (OpenHistory), or from its sorted copy.
func (g *Generation) Entries() iter.Seq2[Entry, error] {
	switch {
	case g.Files != nil:
		files := slices.Clone(g.Files)
		slices.SortFunc(files, compareEntryPath)
		return func(yield func(Entry, error) bool) {
			for _, e := range files {
				if !yield(e, nil) {
					return
				}
			}
		}
	case g.sorted != nil:
		return g.sorted.all()
	}
	return g.read()
}

// ExpectedFiles yields what a verification checks, in path order: every
// file path recorded in any generation, with its reference hash (the
// first non-failed hash, in the algorithm of the newest generation,
// ExpectedAlg) and last recorded size and modification time. A File with
// an empty Hash can only fail. The generations are read side by side,
// one entry of each at a time (a k-way merge).
func (h *History) ExpectedFiles() iter.Seq2[File, error] {
	alg := h.ExpectedAlg()
	return func(yield func(File, error) bool) {
		heads := make([]*entryCursor, len(h.Generations))
		for i, g := range h.Generations {
			heads[i] = newEntryCursor(g.Entries())
			defer heads[i].stop()
		}
		for {
			p, ok, err := smallestPath(heads)
			if err != nil {
				yield(File{}, err)
				return
			}
			if !ok {
				return
			}
			f := File{Path: p}
			var ref *Hash
			for _, c := range heads { // oldest first
				if !c.ok || c.e.Path != p {
					continue
				}
				if ref == nil {
					if i := slices.IndexFunc(c.e.Hashes, func(hh Hash) bool { return hh.Alg == alg && hh.Action != "failed" }); i >= 0 {
						ref = &c.e.Hashes[i]
					}
				}
				f.Size, f.ModTime = c.e.Size, c.e.ModTime
				c.advance()
			}
			if ref != nil {
				f.Hash, f.Action, f.HashDate = ref.Value, ref.Action, ref.Date
			}
			if !yield(f, nil) {
				return
			}
		}
	}
}

// entryCursor is the current entry of one generation's entries.
type entryCursor struct {
	next func() (Entry, error, bool)
	stop func()
	e    Entry
	err  error
	ok   bool
}

func newEntryCursor(seq iter.Seq2[Entry, error]) *entryCursor {
	next, stop := iter.Pull2(seq)
	c := &entryCursor{next: next, stop: stop}
	c.advance()
	return c
}

func (c *entryCursor) advance() { c.e, c.err, c.ok = c.next() }

// smallestPath is the smallest path among the cursors' entries; ok is
// false when every cursor is done.
func smallestPath(cs []*entryCursor) (p string, ok bool, err error) {
	for _, c := range cs {
		if c.ok && c.err != nil {
			return "", false, c.err
		}
		if c.ok && (!ok || c.e.Path < p) {
			p, ok = c.e.Path, true
		}
	}
	return p, ok, nil
}

// dirs yields the directories g records, in walkDirs's order (see
// compareDirKeys).
func (g *Generation) dirs() iter.Seq2[string, error] {
	if g.dirSums != nil {
		return g.dirSums.dirs()
	}
	return dirKeys(g.Dirs)
}
