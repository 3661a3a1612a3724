package manifest

import (
	"errors"
	"fmt"
	"iter"
	"os"

	"github.com/cvv-project/cvv/hashing"
)

// SumsList is a sums or xxh list opened for reading in path order, in
// bounded memory (OpenSums).
type SumsList struct {
	// Alg is the algorithm of every hash.
	Alg    hashing.Algorithm
	name   string
	sorted *sortedEntries
}

// OpenSums reads and checks the sums or xxh list name as ParseSums does
// (alg as there), line by line, without holding its entries: Sums reads
// them again, in path order. A list not in path order (sha256sum run
// over find's output) is sorted once, in bounded memory, into an
// unlinked temporary file; Close releases it.
func OpenSums(name string, alg *hashing.Algorithm) (*SumsList, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var order pathOrder
	l := &SumsList{name: name}
	l.Alg, err = scanSums(f, alg, func(line int, s Sum) error {
		if order.see(s.Path) {
			return corrupt(line, fmt.Sprintf("%q listed twice", s.Path))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !order.sorted {
		if l.sorted, err = sortEntries(sumEntries(l.read())); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// Close releases the sorted copy of a list that was not in path order.
func (l *SumsList) Close() error {
	if l == nil {
		return nil
	}
	err := l.sorted.close()
	l.sorted = nil
	return err
}

// Sums yields the list's entries in path order.
func (l *SumsList) Sums() iter.Seq2[Sum, error] {
	if l.sorted == nil {
		return l.read()
	}
	return func(yield func(Sum, error) bool) {
		for e, err := range l.sorted.all() {
			var s Sum
			if err == nil {
				s = Sum{Path: e.Path, Hash: e.Hashes[0].Value}
			}
			if !yield(s, err) || err != nil {
				return
			}
		}
	}
}

// read yields the entries of the list's file in file order, reading it
// again.
func (l *SumsList) read() iter.Seq2[Sum, error] {
	return func(yield func(Sum, error) bool) {
		f, err := os.Open(l.name)
		if err != nil {
			yield(Sum{}, err)
			return
		}
		defer f.Close()
		_, err = scanSums(f, &l.Alg, func(_ int, s Sum) error {
			if !yield(s, nil) {
				return errStopScan
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStopScan) {
			yield(Sum{}, fmt.Errorf("%s: %w", l.name, err))
		}
	}
}

// sumEntries turns sums into Entries, for sortEntries.
func sumEntries(sums iter.Seq2[Sum, error]) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		for s, err := range sums {
			if !yield(Entry{Path: s.Path, Size: -1, Hashes: []Hash{{Value: s.Hash}}}, err) {
				return
			}
		}
	}
}

// pathOrder follows the paths of a list as they are read: whether they
// are in path order so far.
type pathOrder struct {
	last   string
	n      int
	sorted bool
}

// see records the next path p; it reports whether p repeats the one
// before it (a path listed twice).
func (o *pathOrder) see(p string) (twice bool) {
	defer func() { o.last, o.n = p, o.n+1 }()
	if o.n == 0 {
		o.sorted = true
		return false
	}
	if p <= o.last {
		o.sorted = false
	}
	return p == o.last
}
