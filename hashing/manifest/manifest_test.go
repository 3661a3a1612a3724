package manifest

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cvv-project/cvv/hashing"
)

// tree creates files (relative path -> content) and dirs below a new
// directory named name and returns the root and a Record of it in alg.
func tree(t *testing.T, name string, alg hashing.Algorithm, files map[string]string, dirs ...string) (string, Record) {
	t.Helper()
	root := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	rec := Record{Root: root, Alg: alg, Start: time.Date(2026, 11, 26, 1, 2, 3, 0, time.UTC)}
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
		rec.Dirs = append(rec.Dirs, d)
	}
	for p, data := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		rec.Files = append(rec.Files, File{Path: p, Size: int64(len(data)), ModTime: time.Unix(1700000000, 0), Hash: alg.Sum([]byte(data))})
	}
	return root, rec
}

// TestDirectoryHashesPublishedVectors checks the directory hashes against
// the values the ASC MHL reference implementation's own tests assert
// (ascmitc/mhl tests/test_create.py, test_create_directory_hashes, xxh64).
func TestDirectoryHashesPublishedVectors(t *testing.T) {
	rec := func(files map[string]string, dirs ...string) map[string]dirHash {
		var fs []File
		for p, data := range files {
			fs = append(fs, File{Path: p, Hash: hashing.XXH64.Sum([]byte(data))})
		}
		return directoryHashes(hashing.XXH64, fs, dirs)
	}
	check := func(step string, got map[string]dirHash, dir, content, structure string) {
		t.Helper()
		h, ok := got[dir]
		if !ok {
			t.Fatalf("%s: no hash for directory %q", step, dir)
		}
		if content != "" && h.content != content {
			t.Errorf("%s: %q content hash %s, reference implementation says %s", step, dir, h.content, content)
		}
		if structure != "" && h.structure != structure {
			t.Errorf("%s: %q structure hash %s, reference implementation says %s", step, dir, h.structure, structure)
		}
	}

	files := map[string]string{"Stuff.txt": "stuff\n", "A/A1.txt": "A1\n"}
	got := rec(files)
	check("simple", got, "A", "d3904ee76bba3d2a", "3fbe33b2924e26aa")
	check("simple", got, "", "ca56d22f064fdf1b", "2ccca3899111eabb")

	files["B/B1.txt"] = "B1\n"
	files["A/A2.txt"] = "A2\n"
	files["A/AA/AA1.txt"] = "AA1\n"
	empty := []string{"emptyFolderA", "emptyFolderB", "emptyFolderC", "emptyFolderC/emptyFolderCA", "emptyFolderC/emptyFolderCB"}
	got = rec(files, empty...)
	check("more", got, "A", "cc195301a14023a9", "")
	check("more", got, "", "4ccac5e6856ecf04", "")
	check("more", got, "emptyFolderA", "ef46db3751d8e999", "")
	check("more", got, "emptyFolderB", "ef46db3751d8e999", "")
	check("more", got, "emptyFolderC", "cf4b060700272aa6", "949018e6a4932905")

	files["A/A2.txt"] = "A2\n!!"
	got = rec(files, empty...)
	check("altered", got, "", "28ed09733f793dfc", "89e4debdb80cc068")
	check("altered", got, "B", "aab0eba57cd1aca9", "fac2a2ceb0fa0c0b")

	delete(files, "B/B1.txt")
	files["B/B2.txt"] = "B1\n"
	got = rec(files, empty...)
	check("renamed", got, "B", "aab0eba57cd1aca9", "7ae620e883160eb3")
	check("renamed", got, "", "28ed09733f793dfc", "0bba67923d19d36b")
}

// TestDirectoryHashesScenarioLog checks the content hashes the reference
// tool printed for its scenario 01 (ascmitc/mhl examples/scenarios/Output/
// scenario_01/log.txt, ascmhl.py create -h xxh64), from the file hashes it
// printed. The structure hashes in that log were made by an older
// ascmhl.py that hashed the absolute path ("/travel_01/A002R2EC/Clips/...")
// instead of the name; the current rule (the name, as hasher.py and the
// vectors of TestDirectoryHashesPublishedVectors have it) is checked above.
func TestDirectoryHashesScenarioLog(t *testing.T) {
	files := []File{
		{Path: "Clips/A002C006_141024_R2EC.mov", Hash: "0ea03b369a463d9d"},
		{Path: "Clips/A002C007_141024_R2EC.mov", Hash: "7680e5f98f4a80fd"},
		{Path: "Sidecar.txt", Hash: "3ab5a4166b9bde44"},
	}
	got := directoryHashes(hashing.XXH64, files, nil)
	for d, want := range map[string]string{"Clips": "4c226b42e27d7af3", "": "8d02114c32e28cbe"} {
		if got[d].content != want {
			t.Errorf("%q: content hash %s, reference tool printed %s", d, got[d].content, want)
		}
	}
}

var roundTripFiles = map[string]string{
	"clip one.mov":         "frames",
	"Ünïcødé/снимок.r3d":   "raw raw raw",
	"sub/dir/empty":        "",
	"sub/dir/with\nnl":     "newline in the name",
	`sub/back\slash`:       "backslash in the name",
	"sub/crlf\r":           "carriage return",
	"a/b/c/d/e/deep.wav":   "deep",
	"  leading space.txt":  "spaces",
	"trailing space.txt ":  "spaces",
	"sub/dir/ends.md5":     "not a manifest: below the root",
	"name with * star.txt": "star",
}

func TestSumsRoundTripEveryAlgorithm(t *testing.T) {
	for _, alg := range hashing.Algorithms {
		for _, f := range []Format{Sums, XXH} {
			root, rec := tree(t, "footage", alg, roundTripFiles)
			written, err := Write(rec, []Format{f})
			if err != nil {
				t.Fatalf("%v %v: Write: %v", alg, f, err)
			}
			want := FileName(root, f, alg)
			if len(written) != 1 || written[0] != want {
				t.Fatalf("%v %v: wrote %v, want %s", alg, f, written, want)
			}
			got, ok := AlgorithmFromName(want)
			if !ok || got != alg {
				t.Errorf("AlgorithmFromName(%s) = %v, %v", want, got, ok)
			}
			data, err := os.ReadFile(want)
			if err != nil {
				t.Fatal(err)
			}
			list, err := ParseSums(bytes.NewReader(data), &alg)
			if err != nil {
				t.Fatalf("%v %v: ParseSums: %v\n%s", alg, f, err, data)
			}
			if list.Alg != alg || len(list.Sums) != len(rec.Files) {
				t.Fatalf("%v %v: parsed %v with %d entries, want %d", alg, f, list.Alg, len(list.Sums), len(rec.Files))
			}
			for _, s := range list.Sums {
				content, ok := roundTripFiles[s.Path]
				if !ok {
					t.Errorf("%v %v: parsed unknown path %q", alg, f, s.Path)
					continue
				}
				if s.Hash != alg.Sum([]byte(content)) {
					t.Errorf("%v %v: %q hash %s", alg, f, s.Path, s.Hash)
				}
			}
			// Without the algorithm, the tag lines or digest length decide
			// where that is unambiguous.
			if inferred, err := ParseSums(bytes.NewReader(data), nil); err == nil {
				if inferred.Alg != alg && !(alg == hashing.XXH3 && f == XXH) {
					t.Errorf("%v %v: inferred %v", alg, f, inferred.Alg)
				}
			} else if alg.HexLen() != 32 {
				t.Errorf("%v %v: ParseSums without algorithm: %v", alg, f, err)
			}
		}
	}
}

func TestSumsLineFormats(t *testing.T) {
	root, rec := tree(t, "r", hashing.XXH3, map[string]string{"a b": "x", "n\nl": "y"})
	if _, err := Write(rec, []Format{Sums, XXH}); err != nil {
		t.Fatal(err)
	}
	sums, _ := os.ReadFile(FileName(root, Sums, hashing.XXH3))
	want := "XXH3 (a b) = " + hashing.XXH3.Sum([]byte("x")) + "\n\\XXH3 (n\\nl) = " + hashing.XXH3.Sum([]byte("y")) + "\n"
	if string(sums) != want {
		t.Errorf("xxh3 sums:\n%q\nwant\n%q", sums, want)
	}
	xxh, _ := os.ReadFile(FileName(root, XXH, hashing.XXH3))
	want = hashing.XXH3.Sum([]byte("x")) + " *a b\n\\" + hashing.XXH3.Sum([]byte("y")) + " *n\\nl\n"
	if string(xxh) != want {
		t.Errorf("xxh list:\n%q\nwant\n%q", xxh, want)
	}
	if filepath.Base(FileName(root, Sums, hashing.MD5)) != "r.md5" || filepath.Base(FileName(root, XXH, hashing.XXH64)) != "r.xxh64.xxh" {
		t.Errorf("names: %s %s", FileName(root, Sums, hashing.MD5), FileName(root, XXH, hashing.XXH64))
	}
}

func TestParseSumsAcceptsToolOutput(t *testing.T) {
	in := "# comment\n; TeraCopy comment\n\r\n" +
		"XXH3_e6c632b61e964e1f  a\r\n" +
		"XXH3 (./b) = 78AF5F94892F3950\n" +
		"\\XXH3 (c\\\\d) = 2d06800538d394c2\n"
	list, err := ParseSums(strings.NewReader(in), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Sum{{"a", "e6c632b61e964e1f"}, {"b", "78af5f94892f3950"}, {`c\d`, "2d06800538d394c2"}}
	if list.Alg != hashing.XXH3 || !slices.Equal(list.Sums, want) {
		t.Errorf("got %v %v, want xxh3 %v", list.Alg, list.Sums, want)
	}
}

func TestParseSumsRejectsCorrupt(t *testing.T) {
	md5 := hashing.MD5
	h := hashing.MD5.Sum(nil)
	for name, in := range map[string]string{
		"empty":            "",
		"only comments":    "# nothing\n",
		"no separator":     h + "\n",
		"one space":        h + " a\n",
		"short digest":     h[:31] + "  a\n",
		"long digest":      h + "0  a\n",
		"not hex":          strings.Repeat("g", 32) + "  a\n",
		"dot dot":          h + "  ../etc/passwd\n",
		"inner dot dot":    h + "  a/../../b\n",
		"absolute":         h + "  /etc/passwd\n",
		"twice":            h + "  a\n" + h + "  a\n",
		"bad escape":       "\\" + h + "  a\\tb\n",
		"dangling escape":  "\\" + h + "  a\\\n",
		"tag other alg":    "SHA1 (a) = " + hashing.SHA1.Sum(nil) + "\n",
		"unclean":          h + "  a//b\n",
		"malformed tag":    "MD5 (a = " + h + "\n",
		"nul in path":      h + "  a\x00b\n",
		"empty path":       h + "  \n",
		"trailing slash":   h + "  a/\n",
		"dot component":    h + "  a/./b\n",
		"truncated digest": h[:10],
	} {
		_, err := ParseSums(strings.NewReader(in), &md5)
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: error %v, want ErrCorrupt", name, err)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error is not one line: %q", name, err)
		}
	}
	if _, err := ParseSums(strings.NewReader(h+"  a\n"), nil); !errors.Is(err, ErrCorrupt) {
		t.Errorf("32-digit digests without algorithm: %v, want ErrCorrupt", err)
	}
}

func TestAlgorithmFromName(t *testing.T) {
	for name, want := range map[string]hashing.Algorithm{
		"footage.md5": hashing.MD5, "x/footage.xxh3": hashing.XXH3, "f.xxh128.xxh": hashing.XXH128,
		"SHA256SUMS": hashing.SHA256, "MD5SUMS": hashing.MD5, "a.sha1sum": hashing.SHA1, "b.XXH64": hashing.XXH64,
	} {
		if got, ok := AlgorithmFromName(name); !ok || got != want {
			t.Errorf("AlgorithmFromName(%q) = %v, %v; want %v", name, got, ok, want)
		}
	}
	for _, name := range []string{"footage.xxh", "list.txt", "checksum", "noext"} {
		if got, ok := AlgorithmFromName(name); ok {
			t.Errorf("AlgorithmFromName(%q) = %v, want none", name, got)
		}
	}
}

func TestFormatsAndAlgorithmChecks(t *testing.T) {
	fs, err := ParseFormats("sums, MHL,sums,xxh")
	if err != nil || !slices.Equal(fs, []Format{Sums, MHL, XXH}) {
		t.Errorf("ParseFormats = %v, %v", fs, err)
	}
	for _, f := range fs {
		if g, _ := ParseFormats(f.String()); len(g) != 1 || g[0] != f {
			t.Errorf("%v does not round-trip through String", f)
		}
	}
	for _, bad := range []string{"", "sums,", "md5", "sums,json"} {
		if _, err := ParseFormats(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseFormats(%q) error %v, want ErrInvalid", bad, err)
		}
	}
	err = CheckAlgorithm([]Format{Sums, MHL}, hashing.SHA256)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "ASC MHL has no sha256") {
		t.Errorf("CheckAlgorithm(mhl, sha256) = %v", err)
	}
	if err := CheckAlgorithm([]Format{Sums, XXH}, hashing.SHA256); err != nil {
		t.Errorf("CheckAlgorithm(sums, sha256) = %v", err)
	}
	for _, alg := range hashing.Algorithms {
		if alg != hashing.SHA256 && alg != hashing.XXH32 {
			if err := CheckAlgorithm([]Format{MHL}, alg); err != nil {
				t.Errorf("CheckAlgorithm(mhl, %v) = %v", alg, err)
			}
		}
	}
	_, rec := tree(t, "r", hashing.SHA256, map[string]string{"a": "a"})
	if _, err := Write(rec, []Format{Sums, MHL}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Write(mhl, sha256) = %v", err)
	}
	if _, err := os.Stat(FileName(rec.Root, Sums, hashing.SHA256)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused Write left %s behind", FileName(rec.Root, Sums, hashing.SHA256))
	}
}

func TestWriteRejectsBadRecords(t *testing.T) {
	for name, mutate := range map[string]func(*Record){
		"dot dot":      func(r *Record) { r.Files[0].Path = "../x" },
		"absolute":     func(r *Record) { r.Files[0].Path = "/etc/x" },
		"short hash":   func(r *Record) { r.Files[0].Hash = "abc" },
		"twice":        func(r *Record) { r.Files = append(r.Files, r.Files[0]) },
		"bad action":   func(r *Record) { r.Files[0].Action = "maybe" },
		"no root":      func(r *Record) { r.Root = "" },
		"missing root": func(r *Record) { r.Root = filepath.Join(r.Root, "nope") },
		"bad dir":      func(r *Record) { r.Dirs = []string{"a/../.."} },
		"control char": func(r *Record) { r.Files[0].Path = "bell\a" },
		"bad utf8":     func(r *Record) { r.Files[0].Path = "bad\xff" },
		"bad process":  func(r *Record) { r.Process = "copy" },
	} {
		_, rec := tree(t, "r", hashing.MD5, map[string]string{"a": "a"})
		mutate(&rec)
		if _, err := Write(rec, []Format{Sums, XXH, MHL}); err == nil {
			t.Errorf("%s: Write accepted a bad record", name)
		}
		ents, _ := os.ReadDir(filepath.Join(filepath.Dir(rec.Root), "r"))
		for _, e := range ents {
			if e.Name() != "a" {
				t.Errorf("%s: refused Write left %s", name, e.Name())
			}
		}
	}
}

// tool runs an external checker in dir; it skips the test when the tool is
// not installed.
func tool(t *testing.T, dir, name string, args ...string) (string, error) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s not installed (CI installs xxhash, libxml2-utils and coreutils)", name)
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// interopFiles have names every reference tool handles (xxhsum 0.8.1
// does not read coreutils' backslash escapes).
var interopFiles = map[string]string{
	"clip one.mov":       "frames",
	"Ünïcødé/снимок.r3d": "raw raw raw",
	"sub/dir/empty":      "",
	"big.bin":            strings.Repeat("0123456789abcdef", 5000),
}

func TestSumsAcceptedByReferenceTools(t *testing.T) {
	checkers := map[hashing.Algorithm][]string{
		hashing.MD5: {"md5sum", "-c", "--strict"}, hashing.SHA1: {"sha1sum", "-c", "--strict"},
		hashing.SHA256: {"sha256sum", "-c", "--strict"}, hashing.XXH64: {"xxhsum", "-c"},
		hashing.XXH128: {"xxhsum", "-c"}, hashing.XXH3: {"xxhsum", "-c"}, hashing.XXH32: {"xxhsum", "-c"},
	}
	for _, alg := range hashing.Algorithms {
		t.Run(alg.String(), func(t *testing.T) {
			files := interopFiles
			if strings.HasSuffix(checkers[alg][0], "sum") && checkers[alg][0] != "xxhsum" {
				// coreutils reads the escapes: add the hard names.
				files = maps(interopFiles, map[string]string{"with\nnewline": "nl", `back\slash`: "bs"})
			}
			root, rec := tree(t, "footage", alg, files)
			if _, err := Write(rec, []Format{Sums}); err != nil {
				t.Fatal(err)
			}
			name := filepath.Base(FileName(root, Sums, alg))
			c := checkers[alg]
			out, err := tool(t, root, c[0], append(c[1:], name)...)
			if err != nil {
				t.Fatalf("%s %s rejected %s: %v\n%s", c[0], strings.Join(c[1:], " "), name, err, out)
			}
			if n := strings.Count(out, ": OK"); n != len(files) {
				t.Errorf("%s: %d OK lines for %d files:\n%s", c[0], n, len(files), out)
			}
			// And the tool must notice a change, or the check proves nothing.
			if err := os.WriteFile(filepath.Join(root, "clip one.mov"), []byte("framez"), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := tool(t, root, c[0], append(c[1:], name)...); err == nil {
				t.Errorf("%s accepted a changed file:\n%s", c[0], out)
			}
		})
	}
}

func TestXXHListAcceptedByCoreutils(t *testing.T) {
	// "HASH *path" is the binary-mode GNU line: md5sum -c reads it too.
	root, rec := tree(t, "footage", hashing.MD5, interopFiles)
	if _, err := Write(rec, []Format{XXH}); err != nil {
		t.Fatal(err)
	}
	if out, err := tool(t, root, "md5sum", "-c", "--strict", filepath.Base(FileName(root, XXH, hashing.MD5))); err != nil {
		t.Fatalf("md5sum -c rejected the xxh list: %v\n%s", err, out)
	}
}

func maps(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func TestSumLineRoundTrip(t *testing.T) {
	for _, alg := range hashing.Algorithms {
		for _, p := range []string{"plain.mov", "dir/with space", "n\nl\\b\rc", "Ünï/ç"} {
			h := alg.Sum([]byte(p))
			for _, tag := range []bool{false, true} {
				line := SumLine(alg, strings.ToUpper(h), p, tag)
				var want *hashing.Algorithm
				if !tag {
					want = &alg
				}
				list, err := ParseSums(strings.NewReader(line), want)
				if err != nil {
					t.Fatalf("%v tag=%v %q: %v", alg, tag, line, err)
				}
				if list.Alg != alg || len(list.Sums) != 1 || list.Sums[0] != (Sum{p, h}) {
					t.Errorf("%v tag=%v: %q parsed as %v %v", alg, tag, line, list.Alg, list.Sums)
				}
				if strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") {
					t.Errorf("%q is not one line", line)
				}
			}
		}
	}
}

// TestErrCorrupt checks the sentinels' text; that the CLI makes them its
// bad-input exit status is checked there (TestExitStatus), since this
// package knows nothing of exit codes.
func TestErrCorrupt(t *testing.T) {
	if ErrCorrupt.Error() != "corrupt manifest" || errors.Is(ErrCorrupt, ErrInvalid) {
		t.Errorf("ErrCorrupt = %q, Is(ErrInvalid) = %v", ErrCorrupt, errors.Is(ErrCorrupt, ErrInvalid))
	}
	if _, err := ParseFormats("tar"); !errors.Is(err, ErrInvalid) || err.Error() != `unknown hash file format "tar" (want sums, xxh, mhl or mhl1)` {
		t.Errorf("ParseFormats(tar) = %v, want ErrInvalid with its message alone", err)
	}
}

func TestWriteLeavesManifestsOut(t *testing.T) {
	root, rec := tree(t, "footage", hashing.MD5, map[string]string{
		"a.mov": "a", "footage.md5": "an old list", "ascmhl/0001_old.mhl": "old", "sub/footage.md5": "a media file",
	})
	rec.Dirs = []string{"ascmhl"}
	if _, err := Write(rec, []Format{Sums}); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(FileName(root, Sums, hashing.MD5))
	want := SumLine(hashing.MD5, hashing.MD5.Sum([]byte("a")), "a.mov", false) + SumLine(hashing.MD5, hashing.MD5.Sum([]byte("a media file")), "sub/footage.md5", false)
	if string(data) != want {
		t.Errorf("list:\n%s\nwant\n%s", data, want)
	}
}

// TestWriteReproducible writes the same record into two identical trees,
// a second apart, and compares every manifest byte for byte: rendering
// reads nothing but the Record (host, user and times passed in) and the
// directory times read before it.
func TestWriteReproducible(t *testing.T) {
	files := map[string]string{"A001/clip.mov": "frames", "A001/sub/audio.wav": "samples", "notes.txt": "n"}
	write := func() (string, []string) {
		root, rec := tree(t, "footage", hashing.XXH64, files, "A001", "A001/sub", "empty")
		for _, d := range []string{"A001/sub", "A001", "empty"} {
			tm := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
			if err := os.Chtimes(filepath.Join(root, d), tm, tm); err != nil {
				t.Fatal(err)
			}
		}
		rec.Finish = time.Date(2026, 11, 26, 1, 9, 0, 0, time.UTC)
		rec.Host, rec.User = "dit-cart", "loader"
		written, err := Write(rec, []Format{Sums, XXH, MHL, MHL1})
		if err != nil {
			t.Fatal(err)
		}
		return root, written
	}
	rootA, a := write()
	time.Sleep(1100 * time.Millisecond) // a clock read while rendering would now differ
	rootB, b := write()
	if len(a) != 5 || len(a) != len(b) {
		t.Fatalf("wrote %q and %q, want the same 5 files", a, b)
	}
	for i := range a {
		ra, _ := filepath.Rel(rootA, a[i])
		rb, _ := filepath.Rel(rootB, b[i])
		da, err := os.ReadFile(a[i])
		if err != nil {
			t.Fatal(err)
		}
		db, err := os.ReadFile(b[i])
		if err != nil {
			t.Fatal(err)
		}
		if ra != rb || !bytes.Equal(da, db) {
			t.Errorf("%s and %s differ:\n%s\n---\n%s", ra, rb, da, db)
		}
		if strings.HasPrefix(ra, "ascmhl/") && strings.HasSuffix(ra, ".mhl") && (!bytes.Contains(da, []byte("dit-cart")) || !bytes.Contains(da, []byte("2026-11-25T10:00:00"))) {
			t.Errorf("%s does not record the host and directory time it was given:\n%s", ra, da)
		}
	}
}

// TestDirectoryHashesFold checks the post-order fold against a direct
// computation of every directory from all its children, on names whose
// path order interleaves files and directories ("a.txt" < "a/" < "a0"),
// with empty directories, and with the files in any order.
func TestDirectoryHashesFold(t *testing.T) {
	alg := hashing.XXH64
	paths := []string{"a.txt", "a/b", "a/b.c/d", "a/b/c", "a-b/x", "a0", "z/y/x/w", "z/y.z", "top"}
	dirs := []string{"a/empty", "e", "z/y/q", "a"}
	var files []File
	for i, p := range paths {
		files = append(files, File{Path: p, Hash: alg.Sum([]byte{byte(i)})})
	}
	// The reference: every directory from the complete list of its
	// children, deepest first.
	children := map[string]map[string]bool{"": {}}
	var addDir func(d string)
	addDir = func(d string) {
		if _, ok := children[d]; ok || d == "" {
			return
		}
		children[d] = map[string]bool{}
		p := parentDir(d)
		addDir(p)
		children[p][d] = true
	}
	for _, d := range dirs {
		addDir(d)
	}
	for _, f := range files {
		addDir(parentDir(f.Path))
	}
	byPath := map[string]string{}
	for _, f := range files {
		byPath[f.Path] = f.Hash
	}
	want := map[string]dirHash{}
	var compute func(d string) dirHash
	compute = func(d string) dirHash {
		var content, structure []string
		for c := range children[d] {
			h := compute(c)
			content = append(content, h.content)
			raw, _ := hex.DecodeString(h.structure)
			structure = append(structure, alg.Sum(append([]byte(path.Base(c)), raw...)))
		}
		for _, f := range files {
			if parentDir(f.Path) == d {
				content = append(content, f.Hash)
				raw, _ := hex.DecodeString(f.Hash)
				structure = append(structure, alg.Sum(append([]byte(path.Base(f.Path)), raw...)))
			}
		}
		h := dirHash{content: hashOfHashes(alg, content), structure: hashOfHashes(alg, structure)}
		want[d] = h
		return h
	}
	compute("")
	for _, shuffled := range [][]File{files, {files[8], files[3], files[0], files[5], files[1], files[7], files[2], files[6], files[4]}} {
		got := directoryHashes(alg, shuffled, dirs)
		if len(got) != len(want) {
			t.Errorf("%d directories hashed, want %d: %v", len(got), len(want), got)
		}
		for d, h := range want {
			if got[d] != h {
				t.Errorf("directory %q: %+v, want %+v", d, got[d], h)
			}
		}
	}
}
