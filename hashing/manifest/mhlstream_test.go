package manifest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cvv-project/cvv/hashing"
)

// threeGenerations writes a history of three generations: b.mov fails in
// the second, c.mov and d/e.mov are added in the second and third, and
// returns its root.
func threeGenerations(t *testing.T) string {
	t.Helper()
	files := map[string]string{"a.mov": "aaa", "b/b.mov": "bbb", "b.txt": "t", "b0": "0"}
	for i := range 30 {
		files[fmt.Sprintf("many/f%02d", i)] = fmt.Sprint(i)
	}
	root, rec := tree(t, "footage", hashing.XXH64, files, "empty")
	if _, err := Write(rec, []Format{MHL}); err != nil {
		t.Fatal(err)
	}
	for i, add := range []string{"c.mov", "d/e.mov"} {
		rec.Start = rec.Start.Add(time.Hour)
		rec.Process = "in-place"
		for k := range rec.Files {
			if rec.Files[k].Path == "b/b.mov" {
				rec.Files[k].Hash = hashing.XXH64.Sum(fmt.Appendf(nil, "changed %d", i))
			}
		}
		rec.Files = append(rec.Files, File{Path: add, Size: int64(i), Hash: hashing.XXH64.Sum([]byte(add))})
		if _, err := Write(rec, []Format{MHL}); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// expectedOf reads root's history both ways and returns what
// ReadHistory's and OpenHistory's Expected give.
func expectedOf(t *testing.T, root string) (loaded, streamed []File) {
	t.Helper()
	h, err := ReadHistory(root)
	if err != nil {
		t.Fatal(err)
	}
	_, loaded, err = h.Expected()
	if err != nil {
		t.Fatal(err)
	}
	o, err := OpenHistory(root)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if o.ExpectedAlg() != h.ExpectedAlg() {
		t.Errorf("ExpectedAlg %v, ReadHistory's %v", o.ExpectedAlg(), h.ExpectedAlg())
	}
	for _, g := range o.Generations {
		if g.Files != nil {
			t.Errorf("OpenHistory holds the files of generation %d", g.Number)
		}
	}
	for f, err := range o.ExpectedFiles() {
		if err != nil {
			t.Fatal(err)
		}
		streamed = append(streamed, f)
	}
	return loaded, streamed
}

func TestOpenHistoryExpected(t *testing.T) {
	root := threeGenerations(t)
	loaded, streamed := expectedOf(t, root)
	if !slices.EqualFunc(loaded, streamed, equalFile) {
		t.Fatalf("OpenHistory expects\n%v\nReadHistory\n%v", streamed, loaded)
	}
	if len(streamed) != 36 || !slices.IsSortedFunc(streamed, compareFilePath) {
		t.Fatalf("expected %d files, sorted %v", len(streamed), slices.IsSortedFunc(streamed, compareFilePath))
	}
	for _, f := range streamed {
		if f.Path == "b/b.mov" && (f.Hash != hashing.XXH64.Sum([]byte("bbb")) || f.Action != "original") {
			t.Errorf("b/b.mov expects %s %s, want its original hash", f.Hash, f.Action)
		}
	}
}

func equalFile(a, b File) bool {
	return a.Path == b.Path && a.Hash == b.Hash && a.Size == b.Size && a.Action == b.Action &&
		a.ModTime.Equal(b.ModTime) && a.HashDate.Equal(b.HashDate)
}

var hashElement = regexp.MustCompile(`(?s)    <hash>.*?</hash>\n`)

// rewriteGeneration replaces generation n of root's history with what
// edit makes of it, as another tool would have written it, and updates
// the chain's C4 ID so that the history is consistent.
func rewriteGeneration(t *testing.T, root string, n int, edit func(string) string) {
	t.Helper()
	forgeGeneration(t, root, n, true, func(g string) string {
		return edit(strings.Replace(g, ">cvv</tool>", ">othertool</tool>", 1))
	})
}

// reverseHashes lists a generation's files in reverse path order.
func reverseHashes(g string) string {
	hs := hashElement.FindAllString(g, -1)
	first := strings.Index(g, hs[0])
	last := strings.LastIndex(g, hs[len(hs)-1]) + len(hs[len(hs)-1])
	slices.Reverse(hs)
	return g[:first] + strings.Join(hs, "") + g[last:]
}

// TestOpenHistoryForeignOrder: generations in another order than path
// order (another tool's) are sorted, in memory or through temporary
// files, and give what ReadHistory gives.
func TestOpenHistoryForeignOrder(t *testing.T) {
	for _, chunk := range []int{sortChunkBytes, 1, 500} {
		t.Run(fmt.Sprint(chunk), func(t *testing.T) {
			old := sortChunkBytes
			sortChunkBytes = chunk
			t.Cleanup(func() { sortChunkBytes = old })
			root := threeGenerations(t)
			rewriteGeneration(t, root, 1, reverseHashes)
			rewriteGeneration(t, root, 3, reverseHashes)
			loaded, streamed := expectedOf(t, root)
			if !slices.EqualFunc(loaded, streamed, equalFile) {
				t.Fatalf("OpenHistory expects\n%v\nReadHistory\n%v", streamed, loaded)
			}
			if !slices.IsSortedFunc(streamed, compareFilePath) {
				t.Fatal("not in path order")
			}
		})
	}
}

// TestOpenHistoryRefuses: a path listed twice, in order or not, and a
// directory hash edited alone (with the chain forged to match) are
// corrupt; so is a generation that changes after it was opened.
func TestOpenHistoryRefuses(t *testing.T) {
	twice := func(reverse bool) func(string) string {
		return func(g string) string {
			hs := hashElement.FindAllString(g, -1)
			g = strings.Replace(g, hs[3], hs[3]+hs[3], 1)
			if reverse {
				g = reverseHashes(g)
			}
			return g
		}
	}
	for _, chunk := range []int{sortChunkBytes, 200} {
		for name, edit := range map[string]func(string) string{"twice in order": twice(false), "twice out of order": twice(true)} {
			t.Run(fmt.Sprint(name, chunk), func(t *testing.T) {
				old := sortChunkBytes
				sortChunkBytes = chunk
				t.Cleanup(func() { sortChunkBytes = old })
				root := threeGenerations(t)
				rewriteGeneration(t, root, 2, edit)
				if h, err := OpenHistory(root); !errors.Is(err, ErrCorrupt) || !strings.Contains(fmt.Sprint(err), "recorded twice") {
					h.Close()
					t.Fatalf("OpenHistory: %v, want ErrCorrupt", err)
				}
			})
		}
	}
	t.Run("directory hash", func(t *testing.T) {
		root := threeGenerations(t)
		gens, _ := filepath.Glob(filepath.Join(root, HistoryDir, "0002_*.mhl"))
		old, _ := os.ReadFile(gens[0])
		content := regexp.MustCompile(`(?s)<path[^>]*>many</path>\s*<content>\s*<xxh64[^>]*>([0-9a-f]+)<`).FindSubmatch(old)
		if content == nil {
			t.Fatalf("no directory hash of many in\n%s", old)
		}
		edited := strings.Replace(string(old), string(content[1]), strings.Repeat("0", 16), 1)
		rewriteGeneration(t, root, 2, func(string) string { return edited })
		if h, err := OpenHistory(root); !errors.Is(err, ErrCorrupt) || !strings.Contains(fmt.Sprint(err), `directory "many"`) {
			h.Close()
			t.Fatalf("OpenHistory: %v, want ErrCorrupt for the directory hash", err)
		}
	})
	t.Run("changed after open", func(t *testing.T) {
		root := threeGenerations(t)
		h, err := OpenHistory(root)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		g := h.Generations[1].File
		data, _ := os.ReadFile(g)
		os.WriteFile(g, []byte(strings.Replace(string(data), "in-place", "transfer", 1)), 0o644)
		var last error
		for _, err := range h.ExpectedFiles() {
			last = err
		}
		if !errors.Is(last, ErrCorrupt) {
			t.Fatalf("reading a generation changed since OpenHistory: %v, want ErrCorrupt", last)
		}
	})
}

// TestWriteActionsFromOpenedHistory: Write opens the existing history
// without reading it into memory and decides the actions of files that
// have none from its generations, one not in path order (sorted through
// temporary files) among them, as ReadHistory's index did.
func TestWriteActionsFromOpenedHistory(t *testing.T) {
	old := sortChunkBytes
	sortChunkBytes = 1
	t.Cleanup(func() { sortChunkBytes = old })
	root := threeGenerations(t)
	rewriteGeneration(t, root, 1, reverseHashes)
	rec := Record{Root: root, Alg: hashing.XXH64, Start: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC), Files: []File{
		{Path: "a.mov", Size: 3, Hash: hashing.XXH64.Sum([]byte("aaa"))},
		{Path: "b/b.mov", Size: 3, Hash: hashing.XXH64.Sum([]byte("bbb"))},
		{Path: "c.mov", Size: 3, Hash: hashing.XXH64.Sum([]byte("not c"))},
		{Path: "new.mov", Size: 3, Hash: hashing.XXH64.Sum([]byte("new"))},
	}}
	if _, err := Write(rec, []Format{MHL}); err != nil {
		t.Fatal(err)
	}
	h, err := ReadHistory(root)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range h.Generations[len(h.Generations)-1].Files {
		got[e.Path] = e.Hashes[0].Action
	}
	want := map[string]string{"a.mov": "verified", "b/b.mov": "verified", "c.mov": "failed", "new.mov": "original"}
	for p, a := range want {
		if got[p] != a {
			t.Errorf("%s: action %q, want %q", p, got[p], a)
		}
	}
}
