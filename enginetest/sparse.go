package enginetest

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/hashing"
)

// sparseExtent is data written into a sparse test file.
type sparseExtent struct {
	off int64
	n   int
}

// sparseCases are sparse sources: size and data extents. The data sits at
// offsets that are not block aligned and crosses block boundaries; holes
// lead, trail, and fill a whole file.
var sparseCases = []struct {
	name string
	size int64
	data []sparseExtent
}{
	{"five bytes in 256 MiB", 256 << 20, []sparseExtent{{0, 5}}},
	{"islands", 96<<20 + 777, []sparseExtent{{3<<20 + 100, 70000}, {suiteBlock*40 - 3, 9}, {96 << 20, 777}}},
	{"only a hole", 48 << 20, nil},
}

// testSparse copies sparse files to two destinations: each copy must hold
// the same bytes, keep the holes (allocated blocks, stat's Blocks, close to
// the source's, not the size), and hash alike in the copy and in Hash.
func testSparse(t *testing.T, open NewEngine) {
	e := open(t, cvv.Options{BlockSize: suiteBlock, QueueDepth: 4})
	for _, tc := range sparseCases {
		t.Run(tc.name, func(t *testing.T) {
			src := writeSparse(t, tc.size, tc.data)
			srcBlocks := allocated(t, src)
			if srcBlocks >= tc.size/2 {
				t.Skipf("the filesystem of %s does not keep holes (%d bytes allocated of %d)", src, srcBlocks, tc.size)
			}
			want := hashFile(t, src)
			dests := DestPaths(t, 2, "sparse")
			res := copyOK(t, e, cvv.Job{Source: src, Dests: dests, Hash: hashing.XXH3, NoFsync: true})
			if res.Size != tc.size || res.SourceHash != want {
				t.Fatalf("Copy: %d bytes, xxh3 %s; want %d, %s", res.Size, res.SourceHash, tc.size, want)
			}
			// The O_DIRECT alignment may widen each data extent by up to
			// a page either side.
			slack := int64(2*4096*len(tc.data)) + 4096
			for i, d := range dests {
				if got := hashFile(t, d); got != want {
					t.Errorf("copy %d reads back as xxh3 %s, want %s", i, got, want)
				}
				if got := allocated(t, d); got > srcBlocks+slack {
					t.Errorf("copy %d: %d bytes allocated, source %d: the holes were written", i, got, srcBlocks)
				}
				if res.Dests[i].Bytes >= tc.size {
					t.Errorf("copy %d: %d bytes written of %d", i, res.Dests[i].Bytes, tc.size)
				}
				hr, err := e.Hash(context.Background(), d, hashing.XXH3)
				if err != nil || hr.Size != tc.size || hr.Hash != want {
					t.Errorf("Hash(copy %d) = %d %s, %v; want %d %s", i, hr.Size, hr.Hash, err, tc.size, want)
				}
			}
			AssertNoTemps(t, dests...)
		})
	}
}

// writeSparse creates a file of size bytes holding pseudo-random data at
// the extents and holes everywhere else.
func writeSparse(t *testing.T, size int64, data []sparseExtent) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "sparse")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	for i, x := range data {
		if _, err := f.WriteAt(Data(x.n, uint64(i)+7), x.off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// allocated returns the bytes the filesystem allocated to path.
func allocated(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Blocks * 512
}

// hashFile returns the xxh3 of path as a plain read sees it.
func hashFile(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := hashing.XXH3.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return h.Hex()
}
