package plan

import (
	"fmt"
	"io/fs"
	"slices"
	"testing"
	"time"

	"github.com/cvv-project/cvv/internal/spill"
)

// entries returns the files of tr, read back from its FileList.
func entries(t testing.TB, tr *Tree) []Entry {
	t.Helper()
	var out []Entry
	for _, e := range tr.Files.All() {
		out = append(out, e)
	}
	if err := tr.Files.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// A FileList gives back what was added, in order, to the nanosecond,
// whether it stayed in memory or moved to its temporary file, as many
// times as it is read; nothing can be added once it is read.
func TestFileList(t *testing.T) {
	for _, mem := range []int{1 << 20, 64} {
		t.Run(fmt.Sprint(mem), func(t *testing.T) {
			t.Cleanup(spill.SetMemoryForTest(mem))
			l := &FileList{}
			defer l.Close()
			var want []Entry
			for k := range 500 {
				e := Entry{Rel: fmt.Sprintf("d%d/sub/f%04d.dat", k/100, k), Size: int64(k * 1000), Mode: fs.FileMode(0o600 + k%8),
					ModTime: time.Unix(int64(1700000000+k), int64(k*7919)), Kind: File}
				if k == 3 {
					e.Rel, e.Size, e.ModTime = "", -1, time.Unix(-5, 999999999)
				}
				want = append(want, e)
				if err := l.Add(e); err != nil {
					t.Fatal(err)
				}
			}
			if l.Len() != len(want) {
				t.Fatalf("Len %d, want %d", l.Len(), len(want))
			}
			for range 2 {
				var got []Entry
				for k, e := range l.All() {
					if k != len(got) {
						t.Fatalf("index %d, want %d", k, len(got))
					}
					got = append(got, e)
				}
				if err := l.Err(); err != nil {
					t.Fatal(err)
				}
				if !slices.EqualFunc(got, want, func(a, b Entry) bool {
					return a.Rel == b.Rel && a.Size == b.Size && a.Mode == b.Mode && a.Kind == b.Kind && a.ModTime.Equal(b.ModTime)
				}) {
					t.Fatalf("read back %v\nwant %v", got[:5], want[:5])
				}
			}
			if err := l.Add(want[0]); err == nil {
				t.Error("Add after All succeeded")
			}
		})
	}
}
