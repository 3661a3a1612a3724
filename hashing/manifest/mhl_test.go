package manifest

import (
	"bytes"
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
	"github.com/cvv-project/cvv/hashing/manifest/c4"
)

// schemaDir is the official ASC MHL v2.0 schemas (ascmitc/mhl, MIT), kept
// in testdata/xsd as ../shared/ascmhl/xsd has them.
func schemaDir(t *testing.T) string {
	t.Helper()
	abs, err := filepath.Abs(filepath.Join("testdata", "xsd"))
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// xmllint validates every generation and the chain of root's history.
func xmllint(t *testing.T, root string) {
	t.Helper()
	xsd := schemaDir(t)
	gens, _ := filepath.Glob(filepath.Join(root, HistoryDir, "*.mhl"))
	if len(gens) == 0 {
		t.Fatal("no generation to validate")
	}
	for _, g := range gens {
		if out, err := tool(t, root, "xmllint", "--noout", "--schema", filepath.Join(xsd, "ASCMHL.xsd"), g); err != nil {
			data, _ := os.ReadFile(g)
			t.Fatalf("xmllint rejected %s: %v\n%s\n%s", g, err, out, data)
		}
	}
	chain := filepath.Join(root, HistoryDir, ChainFile)
	if out, err := tool(t, root, "xmllint", "--noout", "--schema", filepath.Join(xsd, "ASCMHLDirectory.xsd"), chain); err != nil {
		t.Fatalf("xmllint rejected %s: %v\n%s", chain, err, out)
	}
}

var mhlName = regexp.MustCompile(`^\d{4}_footage_\d{4}-\d\d-\d\d_\d{6}Z\.mhl$`)

func TestMHLRoundTripEveryAlgorithm(t *testing.T) {
	files := maps(interopFiles, map[string]string{"with\nnewline": "nl", `back\slash`: "bs", "amp & <lt>.txt": "xml"})
	for _, alg := range hashing.Algorithms {
		if alg == hashing.SHA256 || alg == hashing.XXH32 { // not in ASC MHL
			continue
		}
		t.Run(alg.String(), func(t *testing.T) {
			root, rec := tree(t, "footage", alg, files, "empty dir", "sub/also empty")
			written, err := Write(rec, []Format{MHL, Sums})
			if err != nil {
				t.Fatal(err)
			}
			gen := filepath.Join(root, HistoryDir, "0001_footage_2026-11-26_010203Z.mhl")
			if !slices.Contains(written, gen) || !slices.Contains(written, filepath.Join(root, HistoryDir, ChainFile)) {
				t.Fatalf("wrote %v, want %s and the chain", written, gen)
			}
			xmllint(t, root)

			g, err := ReadNewest(root)
			if err != nil {
				t.Fatal(err)
			}
			if g.Number != 1 || g.Process != "transfer" || g.Tool != "cvv" || g.ToolVersion == "" || g.Host == "" || !g.Created.Equal(rec.Start) {
				t.Errorf("generation header %+v", g)
			}
			if len(g.Files) != len(files) {
				t.Fatalf("read %d files, wrote %d", len(g.Files), len(files))
			}
			for _, e := range g.Files {
				data, ok := files[e.Path]
				if !ok {
					t.Errorf("unknown path %q", e.Path)
					continue
				}
				if e.Size != int64(len(data)) || !e.ModTime.Equal(time.Unix(1700000000, 0)) {
					t.Errorf("%q: size %d mtime %v", e.Path, e.Size, e.ModTime)
				}
				if len(e.Hashes) != 1 || e.Hashes[0].Alg != alg || e.Hashes[0].Value != alg.Sum([]byte(data)) || e.Hashes[0].Action != "original" || !e.Hashes[0].Date.Equal(rec.Start) {
					t.Errorf("%q: hashes %+v", e.Path, e.Hashes)
				}
			}
			for _, d := range []string{"empty dir", "sub", "sub/also empty", "sub/dir", "Ünïcødé"} {
				if !slices.Contains(g.Dirs, d) {
					t.Errorf("no directory hash for %q (have %q)", d, g.Dirs)
				}
			}
			data, _ := os.ReadFile(gen)
			// The root hash and the sums file in the ignore list.
			if !bytes.Contains(data, []byte("<roothash>")) || !bytes.Contains(data, []byte("<pattern>footage."+alg.String()+"</pattern>")) {
				t.Errorf("generation lacks roothash or ignore pattern:\n%s", data)
			}
			// No sha256 spelled anywhere; the element is the algorithm's name.
			if !bytes.Contains(data, []byte("<"+alg.String()+" action=\"original\"")) {
				t.Errorf("no <%s action=\"original\"> element", alg)
			}
		})
	}
}

func TestMHLGenerationsChainAndActions(t *testing.T) {
	root, rec := tree(t, "footage", hashing.XXH64, map[string]string{"a.mov": "aaa", "b/b.mov": "bbb"})
	if _, err := Write(rec, []Format{MHL}); err != nil {
		t.Fatal(err)
	}
	first := filepath.Join(root, HistoryDir, "0001_footage_2026-11-26_010203Z.mhl")
	firstData, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}

	// Second run: a.mov unchanged, b.mov changed, c.mov new; actions left
	// for Write to decide.
	rec.Start = rec.Start.Add(time.Hour)
	rec.Process = "in-place"
	for i := range rec.Files {
		if rec.Files[i].Path == "b/b.mov" {
			rec.Files[i].Hash = hashing.XXH64.Sum([]byte("BBB"))
		}
	}
	rec.Files = append(rec.Files, File{Path: "c.mov", Size: 3, Hash: hashing.XXH64.Sum([]byte("ccc"))})
	written, err := Write(rec, []Format{MHL})
	if err != nil {
		t.Fatal(err)
	}
	second := filepath.Join(root, HistoryDir, "0002_footage_2026-11-26_020203Z.mhl")
	if !slices.Contains(written, second) {
		t.Fatalf("wrote %v, want %s", written, second)
	}
	if again, _ := os.ReadFile(first); !bytes.Equal(again, firstData) {
		t.Fatal("the first generation was rewritten")
	}
	xmllint(t, root)

	h, err := ReadHistory(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Generations) != 2 || h.Generations[1].Process != "in-place" {
		t.Fatalf("history %+v", h.Generations)
	}
	if h.Generations[0].C4 != c4.Sum(firstData) {
		t.Errorf("C4 of generation 1 is %s", h.Generations[0].C4)
	}
	actions := map[string]string{}
	for _, e := range h.Generations[1].Files {
		actions[e.Path] = e.Hashes[0].Action
	}
	want := map[string]string{"a.mov": "verified", "b/b.mov": "failed", "c.mov": "original"}
	for p, a := range want {
		if actions[p] != a {
			t.Errorf("%s: action %q, want %q", p, actions[p], a)
		}
	}

	// Expected keeps the original hash of b.mov, not the failed one.
	alg, exp, err := h.Expected()
	if err != nil {
		t.Fatal(err)
	}
	if alg != hashing.XXH64 || len(exp) != 3 {
		t.Fatalf("Expected = %v %v", alg, exp)
	}
	for _, f := range exp {
		if f.Path == "b/b.mov" && f.Hash != hashing.XXH64.Sum([]byte("bbb")) {
			t.Errorf("reference hash of b/b.mov is %s, want the original", f.Hash)
		}
	}

	// A third run with the changed file still fails against the original.
	rec.Start = rec.Start.Add(time.Hour)
	if _, err := Write(rec, []Format{MHL}); err != nil {
		t.Fatal(err)
	}
	g, err := ReadNewest(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range g.Files {
		if e.Path == "b/b.mov" && e.Hashes[0].Action != "failed" {
			t.Errorf("third run: b/b.mov action %q, want failed", e.Hashes[0].Action)
		}
	}
	if g.Number != 3 {
		t.Errorf("newest generation %d, want 3", g.Number)
	}
}

// TestMHLReadsReferenceSample reads the ASC sample generation and chain
// shipped with the schemas (testdata/sample, from ../shared/ascmhl/examples).
func TestMHLReadsReferenceSample(t *testing.T) {
	ex := filepath.Join("testdata", "sample")
	data, err := os.ReadFile(filepath.Join(ex, "0001_TEST01_2019-10-11_155603.mhl"))
	if err != nil {
		t.Fatal(err)
	}
	g, err := ParseGeneration(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Files) != 3 || g.Files[2].Path != "Sidecar.txt" || g.Files[2].Hashes[0].Action != "failed" || g.Process != "in-place" {
		t.Errorf("sample parsed as %+v", g)
	}
	if !slices.Equal(g.Dirs, []string{"Clips"}) {
		t.Errorf("sample dirs %q", g.Dirs)
	}
	f, err := os.Open(filepath.Join(ex, ChainFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chain, err := parseChain(f)
	if err != nil || len(chain) != 1 || chain[0].Seq != 1 {
		t.Errorf("sample chain %v, %v", chain, err)
	}
}

func TestMHLCorruptHistories(t *testing.T) {
	root, rec := tree(t, "footage", hashing.MD5, map[string]string{"a.mov": "aaa", "b/b.mov": "bbb"})
	if _, err := Write(rec, []Format{MHL}); err != nil {
		t.Fatal(err)
	}
	gen := filepath.Join(root, HistoryDir, "0001_footage_2026-11-26_010203Z.mhl")
	chain := filepath.Join(root, HistoryDir, ChainFile)
	good, _ := os.ReadFile(gen)
	goodChain, _ := os.ReadFile(chain)
	md5a := hashing.MD5.Sum([]byte("aaa"))

	cases := map[string]func(gen, chain string) (string, string){
		"truncated": func(g, c string) (string, string) { return g[:len(g)/2], c },
		"wrong namespace": func(g, c string) (string, string) {
			return strings.Replace(g, "urn:ASC:MHL:v2.0", "urn:ASC:MHL:v1.0", 1), c
		},
		"no namespace":  func(g, c string) (string, string) { return strings.Replace(g, ` xmlns="urn:ASC:MHL:v2.0"`, "", 1), c },
		"wrong version": func(g, c string) (string, string) { return strings.Replace(g, `version="2.0"`, `version="1.1"`, 1), c },
		"short hash":    func(g, c string) (string, string) { return strings.Replace(g, md5a, md5a[:30], 1), c },
		"not hex":       func(g, c string) (string, string) { return strings.Replace(g, md5a, "z"+md5a[1:], 1), c },
		"dot dot":       func(g, c string) (string, string) { return strings.Replace(g, ">a.mov<", ">../a.mov<", 1), c },
		"absolute":      func(g, c string) (string, string) { return strings.Replace(g, ">a.mov<", ">/etc/passwd<", 1), c },
		"bad size":      func(g, c string) (string, string) { return strings.Replace(g, `size="3"`, `size="-3"`, 1), c },
		"bad action": func(g, c string) (string, string) {
			return strings.Replace(g, `action="original"`, `action="ok"`, 1), c
		},
		"trailing junk":   func(g, c string) (string, string) { return g + "<hashlist/>", c },
		"not xml":         func(g, c string) (string, string) { return "a.mov  " + md5a + "\n", c },
		"chain truncated": func(g, c string) (string, string) { return g, c[:len(c)-20] },
		"chain wrong ns":  func(g, c string) (string, string) { return g, strings.Replace(c, "DIRECTORY", "DIR", 1) },
		"chain bad c4":    func(g, c string) (string, string) { return g, strings.Replace(c, "<c4>c4", "<c4>c5", 1) },
		// Editing a hash and nothing else: the chain's C4 catches it.
		"tampered hash": func(g, c string) (string, string) {
			return strings.Replace(g, md5a, hashing.MD5.Sum([]byte("AAA")), 1), c
		},
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			g, c := mutate(string(good), string(goodChain))
			if err := os.WriteFile(gen, []byte(g), 0o644); err != nil {
				t.Fatal(err)
			}
			if c == "" {
				os.Remove(chain)
			} else if err := os.WriteFile(chain, []byte(c), 0o644); err != nil {
				t.Fatal(err)
			}
			before := dirList(t, filepath.Join(root, HistoryDir))
			_, err := ReadNewest(root)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("ReadNewest error %v, want ErrCorrupt", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error not one line: %q", err)
			}
			if h, err := OpenHistory(root); !errors.Is(err, ErrCorrupt) {
				h.Close()
				t.Fatalf("OpenHistory error %v, want ErrCorrupt", err)
			}
			// Write refuses to add a generation to a corrupt history.
			if _, err := Write(rec, []Format{MHL}); !errors.Is(err, ErrCorrupt) {
				t.Errorf("Write on a corrupt history: %v, want ErrCorrupt", err)
			}
			if after := dirList(t, filepath.Join(root, HistoryDir)); !slices.Equal(before, after) {
				t.Errorf("Write on a corrupt history changed ascmhl/: %v -> %v", before, after)
			}
		})
	}
	// Restored, the history reads again.
	os.WriteFile(gen, good, 0o644)
	os.WriteFile(chain, goodChain, 0o644)
	if _, err := ReadNewest(root); err != nil {
		t.Fatalf("restored history: %v", err)
	}
	// A generation missing from the chain but older than one it lists
	// is an error too (one newer is an interrupted commit:
	// TestMHLInterruptedCommit).
	os.Rename(gen, filepath.Join(root, HistoryDir, "0002_footage_2026-11-26_010203Z.mhl"))
	os.WriteFile(chain, []byte(strings.Replace(string(goodChain), `sequencenr="1"`, `sequencenr="2"`, 1)), 0o644)
	os.WriteFile(gen, good, 0o644)
	if _, err := ReadNewest(root); !errors.Is(err, ErrCorrupt) {
		t.Errorf("unchained generation older than the chain's last: %v, want ErrCorrupt", err)
	}
}

// TestMHLInterruptedCommit: a crash or power cut between a generation and
// the chain that lists it leaves a generation newer than the chain's last
// (or, at the first commit, no chain at all). That generation is not part
// of the history: the history reads without it, and the next commit
// removes it and adds its own, leaving a valid history.
func TestMHLInterruptedCommit(t *testing.T) {
	for _, first := range []bool{true, false} {
		t.Run(map[bool]string{true: "first commit", false: "later commit"}[first], func(t *testing.T) {
			root, rec := tree(t, "footage", hashing.MD5, map[string]string{"a.mov": "aaa"})
			if _, err := Write(rec, []Format{MHL}); err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(root, HistoryDir)
			chain := filepath.Join(dir, ChainFile)
			orphan := filepath.Join(dir, "0001_footage_2026-11-26_010203Z.mhl")
			if first {
				os.Remove(chain)
			} else {
				goodChain, _ := os.ReadFile(chain)
				rec.Start = rec.Start.Add(time.Second)
				if _, err := Write(rec, []Format{MHL}); err != nil {
					t.Fatal(err)
				}
				os.WriteFile(chain, goodChain, 0o644) // the second chain never made it
				orphan = filepath.Join(dir, "0002_footage_2026-11-26_010204Z.mhl")
			}
			h, err := ReadHistory(root)
			switch {
			case first && !errors.Is(err, ErrNoHistory):
				t.Fatalf("only an uncommitted first generation: %v, want ErrNoHistory", err)
			case !first && (err != nil || len(h.Generations) != 1):
				t.Fatalf("history with an uncommitted generation: %v, %v; want generation 1", h, err)
			}
			rec.Start = rec.Start.Add(time.Minute)
			if _, err := Write(rec, []Format{MHL}); err != nil {
				t.Fatalf("the next commit: %v", err)
			}
			if _, err := os.Stat(orphan); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the uncommitted generation %s is still there: %v", orphan, err)
			}
			h, err = ReadHistory(root)
			if err != nil {
				t.Fatal(err)
			}
			if want := map[bool]int{true: 1, false: 2}[first]; len(h.Generations) != want {
				t.Errorf("%d generations after the next commit, want %d", len(h.Generations), want)
			}
			xmllint(t, root)
		})
	}
}

func TestReadHistoryNone(t *testing.T) {
	root := t.TempDir()
	if _, err := ReadNewest(root); !errors.Is(err, ErrNoHistory) {
		t.Errorf("no ascmhl: %v, want ErrNoHistory", err)
	}
	os.Mkdir(filepath.Join(root, HistoryDir), 0o755)
	if _, err := ReadNewest(root); !errors.Is(err, ErrNoHistory) {
		t.Errorf("empty ascmhl: %v, want ErrNoHistory", err)
	}
	// Generations deleted, chain left: that is a damaged history.
	_, rec := tree(t, "footage", hashing.MD5, map[string]string{"a": "a"})
	if _, err := Write(rec, []Format{MHL}); err != nil {
		t.Fatal(err)
	}
	gens, _ := filepath.Glob(filepath.Join(rec.Root, HistoryDir, "*.mhl"))
	os.Remove(gens[0])
	if _, err := ReadNewest(rec.Root); !errors.Is(err, ErrCorrupt) {
		t.Errorf("chain without generations: %v, want ErrCorrupt", err)
	}
}

func TestMHLNumbersOnFromExistingFiles(t *testing.T) {
	root, rec := tree(t, "footage", hashing.XXH3, map[string]string{"a": "a"})
	if _, err := Write(rec, []Format{MHL}); err != nil {
		t.Fatal(err)
	}
	for i := 2; i <= 3; i++ {
		rec.Start = rec.Start.Add(time.Second)
		if _, err := Write(rec, []Format{MHL}); err != nil {
			t.Fatal(err)
		}
	}
	names := dirList(t, filepath.Join(root, HistoryDir))
	want := []string{"0001_footage_2026-11-26_010203Z.mhl", "0002_footage_2026-11-26_010204Z.mhl", "0003_footage_2026-11-26_010205Z.mhl", ChainFile}
	if !slices.Equal(names, want) {
		t.Errorf("ascmhl/ holds %v, want %v", names, want)
	}
	for _, n := range names[:3] {
		if !mhlName.MatchString(n) {
			t.Errorf("name %s does not follow NNNN_<root>_<date>Z.mhl", n)
		}
	}
	xmllint(t, root)
}

func dirList(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// A Record's Comment is the creatorinfo comment, escaped, and the
// generation stays valid against the ASC MHL schema.
func TestMHLComment(t *testing.T) {
	root, rec := tree(t, "footage", hashing.XXH64, map[string]string{"a.mov": "a"})
	rec.Comment = "cascaded from /mnt/a & <b>"
	if _, err := Write(rec, []Format{MHL}); err != nil {
		t.Fatal(err)
	}
	xmllint(t, root)
	data, err := os.ReadFile(filepath.Join(root, HistoryDir, "0001_footage_2026-11-26_010203Z.mhl"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte("    <comment>cascaded from /mnt/a &amp; &lt;b&gt;</comment>\n  </creatorinfo>")) {
		t.Errorf("no comment at the end of creatorinfo:\n%s", data)
	}
}

// TestHistoryReferenceScales: the reference hash of a path is looked up in
// an index of the history, not by a scan of every generation per path, so
// that checking 100,000 files against a history of two generations of
// them is one pass (it was 10^10 comparisons, minutes), and the answers
// are still the first non-failed hash in generation order.
func TestHistoryReferenceScales(t *testing.T) {
	const n = 100000
	alg := hashing.XXH64
	gen := func(action string, value func(i int) string) *Generation {
		g := &Generation{}
		for i := range n {
			g.Files = append(g.Files, Entry{Path: fmt.Sprintf("d%03d/f%06d", i%997, i), Size: 1,
				Hashes: []Hash{{Alg: alg, Value: value(i), Action: action}}})
		}
		return g
	}
	h := &History{Generations: []*Generation{
		gen("failed", func(i int) string { return "bad" }),
		gen("original", func(i int) string { return fmt.Sprintf("%016x", i) }),
		gen("verified", func(i int) string { return "later" }),
	}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if got, files, err := h.Expected(); err != nil || got != alg || len(files) != n {
			t.Errorf("Expected: %v, %d files", got, len(files))
		}
		for _, i := range []int{0, 4711, n - 1} {
			p := fmt.Sprintf("d%03d/f%06d", i%997, i)
			if a := h.action(p, alg, fmt.Sprintf("%016x", i)); a != "verified" {
				t.Errorf("action(%s) = %s, want verified against the first non-failed hash", p, a)
			}
		}
		if a := h.action("new/file", alg, "00"); a != "original" {
			t.Errorf("action(new) = %s", a)
		}
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("checking 100,000 files against their history takes over a minute: a scan per file")
	}
}
