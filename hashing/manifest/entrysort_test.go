package manifest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
)

var errTwice = errors.New("twice")

// sortThrough adds paths to an entrySorter that holds limit, and returns
// what it yields, the most runs it had at once and those it ended with.
func sortThrough(t *testing.T, limit int, paths []string) (out []string, most, runs int, err error) {
	t.Helper()
	s := newEntrySorter(func(string) error { return errTwice })
	s.limit = limit
	defer s.close()
	for _, p := range paths {
		if err := s.add(Entry{Path: p, Size: 1}); err != nil {
			return nil, most, len(s.runs), err
		}
		most = max(most, len(s.runs))
	}
	runs = len(s.runs)
	sorted, err := s.finish()
	if err != nil {
		return nil, most, runs, err
	}
	defer sorted.close()
	for e, err := range sorted.all() {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e.Path)
	}
	return out, most, runs, nil
}

func checkSorted(t *testing.T, got []string, n int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("%d entries out, want %d", len(got), n)
	}
	for i := range got {
		if want := fmt.Sprintf("d/f%06d", i); got[i] != want {
			t.Fatalf("entry %d is %q, want %q", i, got[i], want)
		}
	}
}

// TestEntrySorterNearlySorted: entries each a few places from their own
// (a walk's, settled by parallel workers) go to one run, not merged, with
// far fewer held than there are.
func TestEntrySorterNearlySorted(t *testing.T) {
	const n, window = 20000, 64
	paths := make([]string, n)
	for i := range paths {
		paths[i] = fmt.Sprintf("d/f%06d", i)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i+window <= n; i += window {
		r.Shuffle(window, func(a, b int) { paths[i+a], paths[i+b] = paths[i+b], paths[i+a] })
	}
	limit := 1000 * entrySize(Entry{Path: paths[0]})
	got, _, runs, err := sortThrough(t, limit, paths)
	if err != nil {
		t.Fatal(err)
	}
	if runs != 1 {
		t.Errorf("%d runs, want 1", runs)
	}
	checkSorted(t, got, n)
}

// TestEntrySorterBoundsRuns: entries in reverse order, each in a run of
// its own, are merged a level at a time as the runs come: never more than
// a few levels of mergeFanIn runs are open.
func TestEntrySorterBoundsRuns(t *testing.T) {
	const n = 5000
	paths := make([]string, n)
	for i := range paths {
		paths[i] = fmt.Sprintf("d/f%06d", n-1-i)
	}
	got, most, _, err := sortThrough(t, 1, paths)
	if err != nil {
		t.Fatal(err)
	}
	if most > 3*mergeFanIn {
		t.Errorf("%d runs open at once, want at most %d", most, 3*mergeFanIn)
	}
	checkSorted(t, got, n)
	// Shuffled, with a path twice: found whichever run holds each.
	r := rand.New(rand.NewPCG(3, 4))
	for _, limit := range []int{1, 300, 1 << 20} {
		dup := append([]string(nil), paths...)
		dup = append(dup, dup[r.IntN(n)])
		r.Shuffle(len(dup), func(a, b int) { dup[a], dup[b] = dup[b], dup[a] })
		if _, _, _, err := sortThrough(t, limit, dup); !errors.Is(err, errTwice) {
			t.Errorf("limit %d: a path added twice: %v, want the twice error", limit, err)
		}
	}
}
