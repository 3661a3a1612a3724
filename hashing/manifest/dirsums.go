package manifest

import (
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/cvv-project/cvv/hashing"
)

// dirSums are the directory hashes a generation records, gathered as it
// is scanned: the root hash, and the others in bounded memory (an
// entrySorter), keyed by the directory's name and a '/' so that they come
// in the order walkDirs visits the directories. Each Entry holds one Hash
// per recorded digest, its Action "content" or "structure".
type dirSums struct {
	root   *xmlDirSum
	sorter *entrySorter
	list   *sortedEntries
	// algs are the algorithms the digests are recorded in, the root's
	// too, in order of first use.
	algs []hashing.Algorithm
}

func newDirSums() *dirSums {
	return &dirSums{sorter: newDirSorter(func(p string) error {
		return fmt.Errorf("%w: directory %q recorded twice", ErrCorrupt, strings.TrimSuffix(p, "/"))
	})}
}

// digests lists the digests of sum as Hashes, their Action the part.
func (s *dirSums) digests(sum *xmlDirSum) []Hash {
	var out []Hash
	for _, part := range []struct {
		name string
		d    *xmlDigests
	}{{"content", sum.Content}, {"structure", sum.Structure}} {
		if part.d == nil {
			continue
		}
		for _, v := range part.d.each() {
			if v.x == nil {
				continue
			}
			out = append(out, Hash{Alg: v.alg, Action: part.name, Value: strings.ToLower(strings.TrimSpace(v.x.Value))})
			if !slices.Contains(s.algs, v.alg) {
				s.algs = append(s.algs, v.alg)
			}
		}
	}
	return out
}

// setRoot records the root hash.
func (s *dirSums) setRoot(sum *xmlDirSum) {
	s.root = sum
	s.digests(sum)
}

// add records the hashes of the directory p (checked, not the root).
func (s *dirSums) add(p string, sum *xmlDirSum) error {
	return s.sorter.add(Entry{Path: p + "/", Hashes: s.digests(sum)})
}

// finish ends the scan: the directories are then sorted.
func (s *dirSums) finish() error {
	var err error
	s.list, err = s.sorter.finish()
	s.sorter = nil
	return err
}

// close releases the temporary file.
func (s *dirSums) close() error {
	if s == nil {
		return nil
	}
	if s.sorter != nil {
		s.sorter.close()
		s.sorter = nil
	}
	return s.list.close()
}

// dirs yields the recorded directories in walkDirs's order.
func (s *dirSums) dirs() iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		for e, err := range s.list.all() {
			if !yield(strings.TrimSuffix(e.Path, "/"), err) || err != nil {
				return
			}
		}
	}
}

// check recomputes the directory hashes (content and structure) from the
// generation's file entries (in path order; entries gives them again for
// each algorithm) and compares them with the recorded ones, in every
// algorithm they are recorded in where every file has a hash of that
// algorithm. A directory hash edited alone (with the chain's C4 forged to
// match) shows so. It is for generations cvv wrote. One pass over the
// entries per algorithm; the computed hashes go through an entrySorter
// too, and are compared with the recorded ones side by side.
func (s *dirSums) check(entries func() iter.Seq2[Entry, error]) error {
	for _, alg := range s.algs {
		computed, root, err := s.compute(alg, entries())
		if errors.Is(err, errNotComputable) {
			continue
		}
		if err == nil {
			err = s.compare(alg, root, computed)
			computed.close()
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// errNotComputable: a file has no hash in the algorithm.
var errNotComputable = errors.New("not computable")

// compute folds the directory hashes in alg of the files entries yields
// and the recorded directories: the root's, and the others sorted as the
// recorded ones are. A file without a hash in alg is errNotComputable.
func (s *dirSums) compute(alg hashing.Algorithm, entries iter.Seq2[Entry, error]) (*sortedEntries, dirHash, error) {
	files := func(yield func(File, error) bool) {
		for e, err := range entries {
			if err != nil {
				yield(File{}, err)
				return
			}
			i := slices.IndexFunc(e.Hashes, func(h Hash) bool { return h.Alg == alg })
			if i < 0 {
				yield(File{}, errNotComputable)
				return
			}
			if !yield(File{Path: e.Path, Hash: e.Hashes[i].Value}, nil) {
				return
			}
		}
	}
	var root dirHash
	out := newDirSorter(func(p string) error { return fmt.Errorf("directory %q hashed twice", p) })
	err := foldDirectoryHashes(alg, files, s.dirs(), func(d string, h dirHash) error {
		if d == "" {
			root = h
			return nil
		}
		return out.add(dirEntry(d+"/", h))
	})
	if err != nil {
		out.close()
		return nil, root, err
	}
	list, err := out.finish()
	return list, root, err
}

// compare compares the recorded hashes in alg with the computed ones.
func (s *dirSums) compare(alg hashing.Algorithm, root dirHash, computed *sortedEntries) error {
	if s.root != nil {
		if err := compareDirSum("", alg, s.digests(s.root), root); err != nil {
			return err
		}
	}
	next, stop := iter.Pull2(computed.all())
	defer stop()
	c, cerr, more := next()
	for e, err := range s.list.all() {
		if err != nil {
			return err
		}
		for ; more && cerr == nil && c.Path < e.Path; c, cerr, more = next() {
		}
		if cerr != nil {
			return cerr
		}
		var h dirHash
		if more && c.Path == e.Path {
			h = entryDirHash(c)
		}
		if err := compareDirSum(strings.TrimSuffix(e.Path, "/"), alg, e.Hashes, h); err != nil {
			return err
		}
	}
	return nil
}

// compareDirSum compares the recorded digests in alg of the directory p
// ("" is the root) with the computed hash h.
func compareDirSum(p string, alg hashing.Algorithm, recorded []Hash, h dirHash) error {
	for _, r := range recorded {
		if r.Alg != alg {
			continue
		}
		want := h.content
		if r.Action == "structure" {
			want = h.structure
		}
		if r.Value != want {
			return fmt.Errorf("%w: directory %q: recorded %s %s hash %s, its files give %s", ErrCorrupt, dirName(p), alg, r.Action, r.Value, want)
		}
	}
	return nil
}
