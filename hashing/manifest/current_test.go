package manifest

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cvv-project/cvv/hashing"
)

// TestCurrent: a record just written is current in every format it was
// written in; a changed hash, size, file set, directory, ignore pattern or
// sums file, a failed hash, a child history or a classic MHL file makes
// it not. Each answer is the same with the record's files in a Spool.
func TestCurrent(t *testing.T) {
	formats := []Format{Sums, MHL}
	_, base := tree(t, "footage", hashing.XXH64, map[string]string{"a.mov": "aaa", "b/b.mov": "bbb"})
	base.Dirs = []string{"b", "empty"}
	base.Ignore = []string{"*.tmp"}
	if err := os.Mkdir(filepath.Join(base.Root, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	if currentBoth(t, base, formats) {
		t.Fatal("current before anything was written")
	}
	if _, err := Write(base, formats); err != nil {
		t.Fatal(err)
	}
	again := base
	again.Start = base.Start.Add(time.Hour)
	if !currentBoth(t, again, formats) {
		t.Fatal("a record just written is not current")
	}
	if !currentBoth(t, again, []Format{MHL}) || !currentBoth(t, again, []Format{Sums}) {
		t.Error("each format alone should be current")
	}
	mutations := map[string]func(r *Record){
		"other hash":  func(r *Record) { r.Files[0].Hash = hashing.XXH64.Sum([]byte("AAA")) },
		"other size":  func(r *Record) { r.Files[0].Size++ },
		"a file less": func(r *Record) { r.Files = r.Files[1:] },
		"a file more": func(r *Record) {
			r.Files = append(r.Files, File{Path: "c.mov", Size: 1, Hash: hashing.XXH64.Sum([]byte("c"))})
		},
		"a dir more":    func(r *Record) { r.Dirs = append(r.Dirs, "new") },
		"a pattern":     func(r *Record) { r.Ignore = append(r.Ignore, "*.bak") },
		"other alg":     func(r *Record) { r.Alg = hashing.MD5 },
		"classic added": func(r *Record) {},
	}
	for name, mutate := range mutations {
		r := again
		r.Files = append([]File(nil), again.Files...)
		r.Dirs = append([]string(nil), again.Dirs...)
		r.Ignore = append([]string(nil), again.Ignore...)
		mutate(&r)
		fs := formats
		if name == "classic added" {
			fs = []Format{Sums, MHL, MHL1}
		}
		if currentBoth(t, r, fs) {
			t.Errorf("%s: still current", name)
		}
	}
	// The sums list edited on disk.
	sums := FileName(base.Root, Sums, base.Alg)
	b, err := os.ReadFile(sums)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sums, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	if currentBoth(t, again, formats) || !currentBoth(t, again, []Format{MHL}) {
		t.Error("an edited sums list: want not current (the MHL history still is)")
	}
	// A child history below the root.
	child := again
	child.Root = filepath.Join(base.Root, "b")
	child.Files = []File{{Path: "b.mov", Size: 3, Hash: hashing.XXH64.Sum([]byte("bbb"))}}
	child.Dirs, child.Ignore = nil, nil
	if _, err := Write(child, []Format{MHL}); err != nil {
		t.Fatal(err)
	}
	if currentBoth(t, again, []Format{MHL}) {
		t.Error("a child history: want not current")
	}
}

// currentBoth is Current(rec, formats), which must give the same answer
// with rec's files in a Spool, added in reverse order.
func currentBoth(t *testing.T, rec Record, formats []Format) bool {
	t.Helper()
	got := Current(rec, formats)
	s := NewFileSpool()
	defer s.Close()
	for k := len(rec.Files) - 1; k >= 0; k-- {
		if err := s.Add(rec.Files[k]); err != nil {
			t.Fatal(err)
		}
	}
	spooled := rec
	spooled.Files, spooled.Spool = nil, s
	if c := Current(spooled, formats); c != got {
		t.Errorf("Current with the files in a Spool: %v, with Files: %v", c, got)
	}
	return got
}
