package manifest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cvv-project/cvv/hashing"
)

// TestCompareDirKeys: the directory order walkDirs needs (a directory's
// name and a '/': where what it holds begins in path order) is computed
// without building the keys, and agrees with building them.
func TestCompareDirKeys(t *testing.T) {
	names := []string{"a", "a-b", "a.b", "a/b", "a/b-c", "a/b/c", "a0", "a//", "ab", "b", "a/", "/", "a/b/c/d", "é", "a\x00"}
	for _, a := range names {
		for _, b := range names {
			want := strings.Compare(a+"/", b+"/")
			if got := compareDirKeys(a, b); got != want {
				t.Errorf("compareDirKeys(%q, %q) = %d, want %d", a, b, got, want)
			}
			if got, want := dirKeyBefore(a, b), a+"/" < b; got != want {
				t.Errorf("dirKeyBefore(%q, %q) = %v, want %v", a, b, got, want)
			}
		}
	}
}

// TestWalkDirsOpensEachOnce: every directory, listed or a parent of a
// file or of a listed directory, is opened once, parents first, in path
// order, and closed once, after everything below it.
func TestWalkDirsOpensEachOnce(t *testing.T) {
	files := []File{{Path: "a-b/f"}, {Path: "a/b/c/f"}, {Path: "a/b/f"}, {Path: "a/f"}, {Path: "f"}, {Path: "z/y/f"}}
	dirs := []string{"z/y/x", "e", "a/b/e", "a-b"}
	v := &recordingVisitor{}
	if err := walkDirs(slicesSeq2(files), dirKeys(dirs), v); err != nil {
		t.Fatal(err)
	}
	wantOpen := []string{"a-b", "a", "a/b", "a/b/c", "a/b/e", "e", "z", "z/y", "z/y/x"}
	if !slices.Equal(v.opened, wantOpen) {
		t.Errorf("opened %q, want %q", v.opened, wantOpen)
	}
	wantClose := []string{"a-b", "a/b/c", "a/b/e", "a/b", "a", "e", "z/y/x", "z/y", "z", ""}
	if !slices.Equal(v.closed, wantClose) {
		t.Errorf("closed %q, want %q", v.closed, wantClose)
	}
}

type recordingVisitor struct{ opened, closed []string }

func (v *recordingVisitor) open(d string) error  { v.opened = append(v.opened, d); return nil }
func (v *recordingVisitor) file(File) error      { return nil }
func (v *recordingVisitor) close(d string) error { v.closed = append(v.closed, d); return nil }

func slicesSeq2(files []File) func(func(File, error) bool) {
	return func(yield func(File, error) bool) {
		for _, f := range files {
			if !yield(f, nil) {
				return
			}
		}
	}
}

// TestDirectoryHashesSpilled: with many directories (the sort spilled
// to temporary files), a generation still lists each directory hash once,
// in path order, and OpenHistory reads and checks them back, keeping
// none in memory.
func TestDirectoryHashesSpilled(t *testing.T) {
	defer func(n int) { sortChunkBytes = n }(sortChunkBytes)
	sortChunkBytes = 512
	root := t.TempDir()
	rec := Record{Root: root, Alg: hashing.XXH64}
	for i := range 60 {
		d := filepath.Join("d"+string(rune('a'+i%26)), "s"+strings.Repeat("x", i/26))
		if i%3 == 0 {
			d += "-1"
		}
		rec.Dirs = append(rec.Dirs, filepath.ToSlash(d))
		if i%2 == 0 {
			p := filepath.ToSlash(filepath.Join(d, "f"))
			if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
				t.Fatal(err)
			}
			rec.Files = append(rec.Files, File{Path: p, Hash: hashing.XXH64.Sum([]byte(p))})
		}
	}
	if _, err := Write(rec, []Format{MHL}); err != nil {
		t.Fatal(err)
	}
	h, err := OpenHistory(root)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	g := h.Generations[0]
	if g.Dirs != nil {
		t.Errorf("OpenHistory kept %d directories in memory", len(g.Dirs))
	}
	data, err := os.ReadFile(g.File)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := ParseGeneration(strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.IsSorted(parsed.Dirs) || len(parsed.Dirs) < len(rec.Dirs) {
		t.Errorf("directory entries %q: want every directory once, in path order", parsed.Dirs)
	}
	var walked []string
	for d, err := range g.dirs() {
		if err != nil {
			t.Fatal(err)
		}
		walked = append(walked, d)
	}
	if want := slices.SortedFunc(slices.Values(parsed.Dirs), compareDirKeys); !slices.Equal(walked, want) {
		t.Errorf("OpenHistory's directories %q, want %q", walked, want)
	}
	if !Current(rec, []Format{MHL}) {
		t.Error("the record just written is not current")
	}
}
