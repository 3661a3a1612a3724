package faults

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// sparseSources writes sparse files below dir: data after a hole at the
// end, a hole at the end, and only a hole. It returns their names.
func sparseSources(t *testing.T, dir string) []string {
	t.Helper()
	files := map[string]struct {
		size int64
		off  int64
		data string
	}{
		"tail-data.bin": {6<<20 + 5, 6 << 20, "hello"},
		"tail-hole.bin": {20 << 20, 3<<20 + 5, "hello"},
		"hole.bin":      {5 << 20, 0, ""},
	}
	mkdirs(t, dir)
	var names []string
	for name, f := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(p, f.size); err != nil {
			t.Fatal(err)
		}
		g, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := g.WriteAt([]byte(f.data), f.off); err != nil {
			t.Fatal(err)
		}
		if err := g.Close(); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	return names
}

// TestCLISparseToFAT: a sparse source copied to a filesystem that keeps
// no holes (exFAT, FAT) must still get every zero. fusefat refuses to
// extend a file with ftruncate (EPERM), so a copy whose source ends in a
// hole failed there once cvv stopped writing holes; the copy now extends
// by writing its last byte. Both engines, full verification.
func TestCLISparseToFAT(t *testing.T) {
	for _, kind := range []ImageKind{ExFATFuse, FATFuse} {
		for _, engine := range []string{"uring", "fallback"} {
			t.Run(string(kind)+"/"+engine, func(t *testing.T) {
				img := mountImage(t, kind, 96<<20)
				src := filepath.Join(workDir(t, 64<<20), "card")
				names := sparseSources(t, src)
				dst := filepath.Join(img.Dir, "day1")
				r := runCVV(t, runOpts{Env: []string{"CVV_ENGINE=" + engine}}, "-m", "full", src, dst)
				if r.Code != 0 {
					t.Fatalf("exit %d, want 0:\n%v", r.Code, r)
				}
				for _, name := range names {
					want, err := os.ReadFile(filepath.Join(src, name))
					if err != nil {
						t.Fatal(err)
					}
					got, err := os.ReadFile(filepath.Join(dst, name))
					if err != nil || !bytes.Equal(got, want) {
						t.Errorf("%s: %d bytes (%v), differs from the source's %d", name, len(got), err, len(want))
					}
				}
			})
		}
	}
}
