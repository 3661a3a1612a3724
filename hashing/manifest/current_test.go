package manifest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cvv-project/cvv/hashing"
	"github.com/cvv-project/cvv/hashing/manifest/c4"
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
	if c := currentAhead(t, spooled, formats); c != got {
		t.Errorf("CurrentCheck read ahead: %v, Current: %v", c, got)
	}
	return got
}

// currentAhead is Current(rec, formats) through a CurrentCheck that read
// ahead with no stamp margin (the lists were just written), decided
// by what it read ahead.
func currentAhead(t *testing.T, rec Record, formats []Format) bool {
	t.Helper()
	defer setStampMargin(0)()
	c := NewCurrentCheck(rec, formats)
	defer c.Close()
	c.ReadAhead()
	if c.mhl.racy {
		t.Error("read ahead: racy with no margin")
	}
	got := c.Formats(rec)
	return len(formats) > 0 && len(got) == len(formats)
}

func setStampMargin(d time.Duration) (restore func()) {
	old := stampMargin
	stampMargin = d
	return func() { stampMargin = old }
}

// TestCurrentCheckEditedAfterReadAhead: a history or list edited once
// ReadAhead has read it, while the run goes on, is what Formats judges:
// a forged generation (its chain updated), an edited sums list, a
// generation added, a child history made, all not current. What ReadAhead
// read too recently to stamp is read again at the end.
func TestCurrentCheckEditedAfterReadAhead(t *testing.T) {
	files := map[string]string{"a.mov": "aaa", "b/b.mov": "bbb", "b.txt": "t"}
	for i := range 20 {
		files[fmt.Sprintf("many/f%02d", i)] = fmt.Sprint(i)
	}
	formats := []Format{Sums, MHL}
	setup := func(t *testing.T) Record {
		_, rec := tree(t, "footage", hashing.XXH64, files, "empty")
		if _, err := Write(rec, formats); err != nil {
			t.Fatal(err)
		}
		rec.Start = rec.Start.Add(time.Hour)
		return rec
	}
	zeroed := func(t *testing.T, re string) func(string) string {
		return func(g string) string {
			m := regexp.MustCompile(re).FindStringSubmatch(g)
			if m == nil {
				t.Fatalf("no %s in\n%s", re, g)
			}
			return strings.Replace(g, m[1], strings.Repeat("0", 16), 1)
		}
	}
	for name, c := range map[string]struct {
		edit func(t *testing.T, rec Record)
		want []Format
	}{
		"nothing": {func(*testing.T, Record) {}, formats},
		"directory hash forged with the chain": {func(t *testing.T, rec Record) {
			forgeGeneration(t, rec.Root, 1, true, zeroed(t, `(?s)<path[^>]*>many</path>\s*<content>\s*<xxh64[^>]*>([0-9a-f]+)<`))
		}, []Format{Sums}},
		"file hash forged with the chain": {func(t *testing.T, rec Record) {
			forgeGeneration(t, rec.Root, 1, true, zeroed(t, `(?s)<path[^>]*>a.mov</path>\s*<xxh64[^>]*>([0-9a-f]+)<`))
		}, []Format{Sums}},
		"sums list edited": {func(t *testing.T, rec Record) {
			p := FileName(rec.Root, Sums, rec.Alg)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b[0] ^= 1
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}, []Format{MHL}},
		"generation added": {func(t *testing.T, rec Record) {
			other := rec
			other.Files = rec.Files[1:]
			if _, err := Write(other, []Format{MHL}); err != nil {
				t.Fatal(err)
			}
		}, []Format{Sums}},
		"generation left out of the chain, in a history reached by a symlink": {func(t *testing.T, rec Record) {
			hist := filepath.Join(rec.Root, HistoryDir)
			gens, _ := filepath.Glob(filepath.Join(hist, "0001_*.mhl"))
			b, err := os.ReadFile(gens[0])
			if err != nil {
				t.Fatal(err)
			}
			target, err := os.Readlink(hist)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(target, "0000_footage_unlisted.mhl"), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}, []Format{Sums}},
		"child history made": {func(t *testing.T, rec Record) {
			if err := os.MkdirAll(filepath.Join(rec.Root, "many", HistoryDir), 0o755); err != nil {
				t.Fatal(err)
			}
		}, []Format{Sums}},
	} {
		t.Run(name, func(t *testing.T) {
			rec := setup(t)
			if strings.Contains(name, "symlink") {
				hist := filepath.Join(rec.Root, HistoryDir)
				moved := filepath.Join(t.TempDir(), "elsewhere")
				if err := os.Rename(hist, moved); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(moved, hist); err != nil {
					t.Fatal(err)
				}
			}
			for _, margin := range []time.Duration{0, time.Hour} {
				restore := setStampMargin(margin)
				ch := NewCurrentCheck(rec, formats)
				ch.ReadAhead()
				restore()
				if margin == 0 && (ch.mhl.verdict != aheadDigest || ch.mhl.racy) {
					t.Fatalf("read ahead: verdict %v, racy %v; want a digest, not racy", ch.mhl.verdict, ch.mhl.racy)
				}
				if margin > 0 && !ch.mhl.racy {
					t.Fatal("read ahead within the margin: not racy")
				}
				if margin == 0 {
					c.edit(t, rec)
				}
				got := ch.Formats(rec)
				ch.Close()
				if !slices.Equal(got, c.want) {
					t.Errorf("margin %v: current %v, want %v", margin, got, c.want)
				}
			}
		})
	}
}

// TestCurrentChecksNewestOnce: the one pass over the newest generation
// keeps every check of a history read whole. A directory or root hash
// edited (the chain forged to match), a generation edited behind the
// chain's back, an older generation damaged: not current. The same
// generation in another order (another tool's), or a later one that an
// interrupted commit left: still current, as read whole.
func TestCurrentChecksNewestOnce(t *testing.T) {
	files := map[string]string{"a.mov": "aaa", "b/b.mov": "bbb", "b.txt": "t"}
	for i := range 20 {
		files[fmt.Sprintf("many/f%02d", i)] = fmt.Sprint(i)
	}
	setup := func(t *testing.T) Record {
		_, rec := tree(t, "footage", hashing.XXH64, files, "empty")
		first := rec
		first.Files = rec.Files[1:]
		for _, r := range []Record{first, rec} {
			if _, err := Write(r, []Format{MHL}); err != nil {
				t.Fatal(err)
			}
			rec.Start = rec.Start.Add(time.Hour)
		}
		if !currentBoth(t, rec, []Format{MHL}) {
			t.Fatal("a record just written is not current")
		}
		return rec
	}
	digest := func(t *testing.T, g, re string) string {
		m := regexp.MustCompile(re).FindStringSubmatch(g)
		if m == nil {
			t.Fatalf("no %s in\n%s", re, g)
		}
		return m[1]
	}
	zeroed := func(t *testing.T, re string) func(string) string {
		return func(g string) string {
			return strings.Replace(g, digest(t, g, re), strings.Repeat("0", 16), 1)
		}
	}
	for name, c := range map[string]struct {
		damage  func(t *testing.T, root string)
		current bool
	}{
		"directory content hash": {func(t *testing.T, root string) {
			forgeGeneration(t, root, 2, true, zeroed(t, `(?s)<path[^>]*>many</path>\s*<content>\s*<xxh64[^>]*>([0-9a-f]+)<`))
		}, false},
		"directory structure hash": {func(t *testing.T, root string) {
			forgeGeneration(t, root, 2, true, zeroed(t, `(?s)<path[^>]*>b</path>\s*<content>.*?<structure>\s*<xxh64[^>]*>([0-9a-f]+)<`))
		}, false},
		"root hash": {func(t *testing.T, root string) {
			forgeGeneration(t, root, 2, true, zeroed(t, `(?s)<roothash>\s*<content>\s*<xxh64[^>]*>([0-9a-f]+)<`))
		}, false},
		"a directory less": {func(t *testing.T, root string) {
			forgeGeneration(t, root, 2, true, func(g string) string {
				return regexp.MustCompile(`(?s)    <directoryhash>\s*<path[^>]*>empty</path>.*?</directoryhash>\n`).ReplaceAllString(g, "")
			})
		}, false},
		"edited, chain not": {func(t *testing.T, root string) {
			forgeGeneration(t, root, 2, false, func(g string) string { return strings.Replace(g, "<hostname>", "<hostname>x", 1) })
		}, false},
		"older generation edited": {func(t *testing.T, root string) {
			forgeGeneration(t, root, 1, false, func(g string) string { return strings.Replace(g, "<hostname>", "<hostname>x", 1) })
		}, false},
		"another order": {func(t *testing.T, root string) { rewriteGeneration(t, root, 2, reverseHashes) }, true},
		"uncommitted later generation": {func(t *testing.T, root string) {
			gens, _ := filepath.Glob(filepath.Join(root, HistoryDir, "0001_*.mhl"))
			b, err := os.ReadFile(gens[0])
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, HistoryDir, "0003_footage_interrupted.mhl"), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}, true},
	} {
		t.Run(name, func(t *testing.T) {
			rec := setup(t)
			c.damage(t, rec.Root)
			if got := currentBoth(t, rec, []Format{MHL}); got != c.current {
				t.Errorf("current %v, want %v", got, c.current)
			}
		})
	}
}

// forgeGeneration edits generation n of root's history in place, cvv's
// still, and with chain set updates the chain's C4 ID to match.
func forgeGeneration(t *testing.T, root string, n int, chain bool, edit func(string) string) {
	t.Helper()
	gens, _ := filepath.Glob(filepath.Join(root, HistoryDir, fmt.Sprintf("%04d_*.mhl", n)))
	if len(gens) != 1 {
		t.Fatalf("generation %d: %v", n, gens)
	}
	old, err := os.ReadFile(gens[0])
	if err != nil {
		t.Fatal(err)
	}
	data := edit(string(old))
	if data == string(old) {
		t.Fatal("the edit changed nothing")
	}
	if err := os.WriteFile(gens[0], []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if !chain {
		return
	}
	p := filepath.Join(root, HistoryDir, ChainFile)
	c, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(c), c4.Sum(old), c4.Sum([]byte(data)), 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}
