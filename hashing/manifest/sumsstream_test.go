package manifest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cvv-project/cvv/hashing"
)

// TestOpenSums: a list in path order and one in any other order read
// back in path order, with the entries ParseSums gives; a path listed
// twice is corrupt wherever its lines are.
func TestOpenSums(t *testing.T) {
	var lines []string
	for i := range 200 {
		lines = append(lines, SumLine(hashing.SHA1, hashing.SHA1.Sum(fmt.Append(nil, i)), fmt.Sprintf("d%d/f%03d", i%7, i), false))
	}
	write := func(t *testing.T, lines []string) string {
		p := filepath.Join(t.TempDir(), "list.sha1")
		if err := os.WriteFile(p, []byte(strings.Join(lines, "")), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sorted := slices.Clone(lines)
	slices.SortFunc(sorted, func(a, b string) int { return strings.Compare(a[42:], b[42:]) })
	for _, chunk := range []int{sortChunkBytes, 1000, 1} { // 1: 200 runs, merged in several passes
		old := sortChunkBytes
		sortChunkBytes = chunk
		t.Cleanup(func() { sortChunkBytes = old })
		for name, ls := range map[string][]string{"in order": sorted, "any order": lines} {
			t.Run(fmt.Sprint(name, chunk), func(t *testing.T) {
				p := write(t, ls)
				l, err := OpenSums(p, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer l.Close()
				want, err := ParseSums(strings.NewReader(strings.Join(sorted, "")), nil)
				if err != nil {
					t.Fatal(err)
				}
				var got []Sum
				for s, err := range l.Sums() {
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, s)
				}
				if l.Alg != hashing.SHA1 || !slices.Equal(got, want.Sums) {
					t.Fatalf("OpenSums read %v %d entries, want %d in path order", l.Alg, len(got), len(want.Sums))
				}
			})
			t.Run(fmt.Sprint(name, chunk, " twice"), func(t *testing.T) {
				p := write(t, append(slices.Clone(ls), ls[100]))
				if l, err := OpenSums(p, nil); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "twice") {
					l.Close()
					t.Fatalf("OpenSums: %v, want ErrCorrupt", err)
				}
			})
		}
	}
}
