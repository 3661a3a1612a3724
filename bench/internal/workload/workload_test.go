package workload

import (
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func treeSpec(seed uint64) Spec {
	return Spec{Kind: "tree", Seed: seed, Files: 300, MinFile: 4 << 10, MaxFile: 64 << 10, Large: 2, LargeMax: 1 << 20}
}

func TestPlanTree(t *testing.T) {
	s := treeSpec(7)
	a, err := s.Plan()
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Plan()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a, b) {
		t.Fatal("Plan is not deterministic")
	}
	if len(a) != 302 {
		t.Fatalf("%d files, want 300 + 2 large", len(a))
	}
	paths := map[string]bool{}
	sizes := map[int64]bool{}
	depths := map[int]bool{}
	var small, large int
	for _, f := range a {
		if paths[f.Path] {
			t.Fatalf("path %s twice", f.Path)
		}
		paths[f.Path] = true
		sizes[f.Size] = true
		if strings.HasPrefix(f.Path, "large/") {
			large++
			if f.Size < 512<<10 || f.Size > 1<<20 {
				t.Errorf("large file %s size %d outside [8 x 64K, 1M]", f.Path, f.Size)
			}
			continue
		}
		small++
		if f.Size < 4<<10 || f.Size > 64<<10 {
			t.Errorf("%s size %d outside [4K, 64K]", f.Path, f.Size)
		}
		depths[strings.Count(f.Path, "/")] = true
	}
	if small != 300 || large != 2 {
		t.Errorf("%d ordinary and %d large files", small, large)
	}
	if len(depths) != 3 {
		t.Errorf("directory depths %v, want 1, 2 and 3", depths)
	}
	// Log-uniform sizes are nearly all distinct and both halves of the
	// range in log scale are populated.
	if len(sizes) < 290 {
		t.Errorf("only %d distinct sizes", len(sizes))
	}
	var below int
	for _, f := range a[:300] {
		if f.Size < 16<<10 { // geometric middle of 4K..64K
			below++
		}
	}
	if below < 100 || below > 200 {
		t.Errorf("%d of 300 sizes below the geometric middle; not log-uniform", below)
	}
	c, _ := treeSpec(8).Plan()
	if slices.Equal(a, c) {
		t.Error("a different seed planned the same tree")
	}
}

func TestValidate(t *testing.T) {
	for _, s := range []Spec{
		{Kind: "huge"},
		{Kind: "big", Size: -1},
		{Kind: "tree", Files: 0, MaxFile: 1},
		{Kind: "tree", Files: 1, MinFile: 10, MaxFile: 5},
		{Kind: "tree", Files: 1, MinFile: 1, MaxFile: 1 << 20, Large: 1, LargeMax: 1 << 10},
		{Kind: "seq", Files: 0, Size: 1},
		{Kind: "seq", Files: 3, Size: -1},
	} {
		if err := s.Validate(); err == nil {
			t.Errorf("Validate(%+v) passed", s)
		}
		if _, _, err := Generate(t.TempDir(), s); err == nil {
			t.Errorf("Generate(%+v) passed", s)
		}
	}
}

// TestSeq checks that an image sequence is Files frames of Size bytes in
// one directory, named in frame order, with different contents.
func TestSeq(t *testing.T) {
	root := filepath.Join(t.TempDir(), "seq")
	s := Spec{Kind: "seq", Seed: 5, Files: 4, Size: 10000}
	st, fresh, err := Generate(root, s)
	if err != nil || !fresh {
		t.Fatalf("Generate: fresh %v, %v", fresh, err)
	}
	if st.Files != 4 || st.Bytes != 40000 || st.Dirs != 0 {
		t.Errorf("stats %+v, want 4 files, 40000 bytes, no directories", st)
	}
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, e := range ents {
		b, err := os.ReadFile(filepath.Join(root, e.Name()))
		if err != nil || len(b) != 10000 {
			t.Fatalf("%s: %d bytes, %v", e.Name(), len(b), err)
		}
		if want := fmt.Sprintf("A001C003.%07d.exr", 86400+i); e.Name() != want {
			t.Errorf("frame %d is %s, want %s", i, e.Name(), want)
		}
		seen[string(b[:64])] = true
	}
	if len(ents) != 4 || len(seen) != 4 {
		t.Errorf("%d frames, %d distinct contents; want 4 and 4", len(ents), len(seen))
	}
}

// digest hashes every file below root with its relative path.
func digest(t *testing.T, root string) (string, int64, int) {
	t.Helper()
	h := sha256.New()
	var total int64
	var n int
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		io.WriteString(h, rel+"\x00")
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		m, err := io.Copy(h, f)
		total += m
		n++
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil)), total, n
}

func TestGenerateTree(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "tree")
	s := treeSpec(3)
	st, fresh, err := Generate(root, s)
	if err != nil || !fresh {
		t.Fatalf("Generate = %v, fresh %v", err, fresh)
	}
	if d, err := Describe(s); err != nil || d != st {
		t.Errorf("Describe = %+v, %v; Generate said %+v", d, err, st)
	}
	sum, total, n := digest(t, root)
	if total != st.Bytes || n != st.Files || n != 302 {
		t.Fatalf("on disk %d bytes in %d files, stats say %d in %d", total, n, st.Bytes, st.Files)
	}
	if st.Dirs < 9 {
		t.Errorf("%d directories", st.Dirs)
	}
	// The stamp is outside the tree, so copying the tree copies data only.
	if _, err := os.Stat(StampPath(root)); err != nil || filepath.Dir(StampPath(root)) != dir {
		t.Errorf("stamp %s: %v", StampPath(root), err)
	}
	// Same spec: kept as is.
	if _, fresh, err := Generate(root, s); err != nil || fresh {
		t.Errorf("second Generate = %v, fresh %v; want it kept", err, fresh)
	}
	// Same spec elsewhere: the same bytes.
	other := filepath.Join(t.TempDir(), "tree")
	if _, _, err := Generate(other, s); err != nil {
		t.Fatal(err)
	}
	if sum2, _, _ := digest(t, other); sum2 != sum {
		t.Error("the same spec generated different bytes")
	}
	// A changed spec regenerates and removes what is not in the new plan.
	if err := os.WriteFile(filepath.Join(root, "stray"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	s2 := s
	s2.Seed = 4
	if _, fresh, err := Generate(root, s2); err != nil || !fresh {
		t.Fatalf("Generate with a new seed = %v, fresh %v", err, fresh)
	}
	if _, err := os.Stat(filepath.Join(root, "stray")); err == nil {
		t.Error("a stray file survived regeneration")
	}
	if sum3, _, _ := digest(t, root); sum3 == sum {
		t.Error("a new seed generated the same bytes")
	}
}

func TestGenerateBigIncompressible(t *testing.T) {
	root := filepath.Join(t.TempDir(), "big")
	const size = 3<<20 + 12345 // an odd tail
	st, _, err := Generate(root, Spec{Kind: "big", Seed: 1, Size: size})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if len(data) != size || st.Bytes != size || st.Files != 1 {
		t.Fatalf("size %d, stats %+v", len(data), st)
	}
	var z bytes.Buffer
	w, err := flate.NewWriter(&z, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if z.Len() < len(data) {
		t.Errorf("deflate shrank the data from %d to %d bytes: not incompressible", len(data), z.Len())
	}
	// No repeated 1 MiB blocks (a generator that reused its buffer would).
	if bytes.Equal(data[:1<<20], data[1<<20:2<<20]) {
		t.Error("block 1 repeats block 0")
	}
}

// TestGenerateScale: a scale workload has the shape it promises (100 to
// 1000 entries per directory but for the last, at most 8 levels), the sizes
// asked for, the stats Describe predicts, and is the same for the same
// spec.
func TestGenerateScale(t *testing.T) {
	s := Spec{Kind: "scale", Seed: 3, Files: 3000, MinFile: 0, MaxFile: 100}
	root := filepath.Join(t.TempDir(), "w")
	st, fresh, err := Generate(root, s)
	if err != nil || !fresh {
		t.Fatalf("Generate: %v, fresh %v", err, fresh)
	}
	want, err := Describe(s)
	if err != nil || want != st {
		t.Fatalf("Describe = %+v, %v; Generate = %+v", want, err, st)
	}
	var files, dirs int
	var bytes int64
	small := 0
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			if rel == "." {
				return nil
			}
			dirs++
			if depth := len(strings.Split(rel, string(filepath.Separator))); depth > scaleMaxDepth {
				t.Errorf("%s is %d levels deep", rel, depth)
			}
			ents, err := os.ReadDir(p)
			if err != nil {
				return err
			}
			if len(ents) < 100 || len(ents) > 1000 {
				small++
			}
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Size() > 100 {
			t.Errorf("%s: %d bytes", rel, fi.Size())
		}
		files++
		bytes += fi.Size()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files != s.Files || dirs != st.Dirs || bytes != st.Bytes {
		t.Errorf("walked %d files, %d dirs, %d bytes; stats say %+v", files, dirs, bytes, st)
	}
	// Only the directories the count ran out in may be smaller.
	if small > scaleMaxDepth+1 {
		t.Errorf("%d directories hold fewer than 100 or more than 1000 entries", small)
	}
	if _, fresh, err := Generate(root, s); err != nil || fresh {
		t.Errorf("Generate again: %v, fresh %v (want kept)", err, fresh)
	}
}
