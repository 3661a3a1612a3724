package manifest

import (
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cvv-project/cvv/hashing"
)

// spoolOf returns a spool holding files, added in the order given.
func spoolOf(t *testing.T, files []File) *FileSpool {
	t.Helper()
	s := NewFileSpool()
	t.Cleanup(func() { s.Close() })
	for _, f := range files {
		if err := s.Add(f); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// listsOf returns the content of every file below root's ascmhl folders
// and of its lists, by path relative to root.
func listsOf(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if IsManifest(root, filepath.ToSlash(rel)) || strings.HasSuffix(rel, ".mhl") {
			data, err := os.ReadFile(p)
			out[rel] = string(data)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSpoolWritesTheSameBytes: a record whose files come from a FileSpool
// (in path order, shuffled, spilled to temporary files or not, with a
// manifest among them) is written byte for byte as the same record with
// its files in memory: every list, and the generations of nested
// histories.
func TestSpoolWritesTheSameBytes(t *testing.T) {
	formats := []Format{MHL, Sums, XXH, MHL1}
	for _, chunk := range []int{sortChunkBytes, 1, 300} {
		for _, order := range []string{"sorted", "shuffled"} {
			old := sortChunkBytes
			sortChunkBytes = chunk
			rootA, recA := reels(t, hashing.XXH64)
			rootB, recB := reels(t, hashing.XXH64)
			sortChunkBytes = old
			finish := time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)
			for _, r := range []string{rootA, rootB} {
				sameDirTimes(t, r)
			}
			recA.Finish, recB.Finish = finish, finish
			recA.Files[0].Action = "verified"
			slices.SortFunc(recB.Files, compareFilePath)
			if order == "shuffled" {
				rand.New(rand.NewPCG(1, uint64(chunk))).Shuffle(len(recB.Files), swapper(recB.Files))
			}
			for i := range recB.Files {
				if recB.Files[i].Path == recA.Files[0].Path {
					recB.Files[i].Action = "verified"
				}
			}
			// A copied card history is no file of the record.
			recB.Files = append(recB.Files, File{Path: "A001/ascmhl/ascmhl_chain.xml", Size: 1, Hash: strings.Repeat("0", 16)})
			sortChunkBytes = chunk
			spool := spoolOf(t, recB.Files)
			recB.Files = nil
			recB.Spool = spool
			// The cards' first generations were written apart, with
			// their own directory times: only what Write writes is
			// compared (the cards' new generations by their C4 IDs,
			// which the parent's references give).
			before := listsOf(t, rootA)
			if _, err := Write(recA, formats); err != nil {
				t.Fatal(err)
			}
			if _, err := Write(recB, formats); err != nil {
				t.Fatal(err)
			}
			sortChunkBytes = old
			a, b := listsOf(t, rootA), listsOf(t, rootB)
			if len(a) < 8 {
				t.Fatalf("wrote only %v", slices.Sorted(keysOf(a)))
			}
			for name, data := range a {
				if _, ok := before[name]; !ok && b[name] != data {
					t.Errorf("chunk %d, %s: %s differs:\n%s\nwant\n%s", chunk, order, name, b[name], data)
				}
			}
			if len(a) != len(b) {
				t.Errorf("chunk %d, %s: wrote %v, want %v", chunk, order, slices.Sorted(keysOf(b)), slices.Sorted(keysOf(a)))
			}
		}
	}
}

// TestSpoolRefusesAPathTwice: a path added twice to a spool fails the
// Write with ErrInvalid, as it does in Files, and nothing is written;
// a spool read once takes no more files.
func TestSpoolRefusesAPathTwice(t *testing.T) {
	for _, chunk := range []int{sortChunkBytes, 1} {
		old := sortChunkBytes
		sortChunkBytes = chunk
		t.Cleanup(func() { sortChunkBytes = old })
		root, rec := tree(t, "card", hashing.XXH64, map[string]string{"a": "1", "b/c": "2", "d": "3"})
		slices.SortFunc(rec.Files, compareFilePath)
		rec.Spool = spoolOf(t, append(rec.Files, rec.Files[1]))
		rec.Files = nil
		_, err := Write(rec, []Format{MHL, Sums})
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `"b/c" recorded twice`) {
			t.Errorf("chunk %d: Write = %v, want ErrInvalid for b/c recorded twice", chunk, err)
		}
		if got := listsOf(t, root); len(got) != 0 {
			t.Errorf("chunk %d: wrote %v", chunk, slices.Sorted(keysOf(got)))
		}
		if err := rec.Spool.Add(File{Path: "e"}); err == nil {
			t.Error("a spool already read took a file")
		}
	}
}

// sameDirTimes gives every directory below root (root too) one time, so
// that two trees made apart record the same directory times.
func sameDirTimes(t *testing.T, root string) {
	t.Helper()
	when := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			err = os.Chtimes(p, when, when)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func swapper(files []File) func(i, j int) {
	return func(i, j int) { files[i], files[j] = files[j], files[i] }
}

func keysOf(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
