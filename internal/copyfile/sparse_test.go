package copyfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPrealloc: a file of one block or less gets no preallocation (one
// write allocates it), a larger one its size, a sparse one none.
func TestPrealloc(t *testing.T) {
	const block = 1 << 16
	dir := t.TempDir()
	for _, tc := range []struct {
		size   int64
		sparse bool
		want   int64
	}{
		{0, false, 0},
		{4096, false, 0},
		{block, false, 0},
		{block + 1, false, block + 1},
		{4 * block, false, 4 * block},
		{64 * block, true, 0},
	} {
		p := filepath.Join(dir, "f")
		if tc.sparse {
			f, err := os.Create(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Truncate(tc.size); err != nil {
				t.Fatal(err)
			}
			f.Close()
		} else if err := os.WriteFile(p, []byte(strings.Repeat("x", int(tc.size))), 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		l := NewLayout(f, fi)
		if tc.sparse && !l.Sparse() {
			t.Skipf("the filesystem of %s allocated the holes of a truncated file", dir)
		}
		if got := l.Prealloc(block); got != tc.want {
			t.Errorf("size %d (sparse %v): Prealloc = %d, want %d", tc.size, tc.sparse, got, tc.want)
		}
		f.Close()
	}
}
