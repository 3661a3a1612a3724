package command

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/cmd/internal/plan"
	"github.com/cvv-project/cvv/hashing"
	"github.com/cvv-project/cvv/hashing/manifest"
	"github.com/cvv-project/cvv/uring"
)

// runCLI runs the cvv application with args (without the program name) as
// Run does, with verify and hash registered, and returns the exit status
// and the output.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	app := newApp(strings.NewReader(""), &out, &errb)
	for _, c := range []func() *cli.Command{verifyCommand, hashCommand} {
		cmd := c()
		if app.Command(cmd.Name) == nil {
			cmd.OnUsageError = onUsageError
			app.Commands = append(app.Commands, cmd)
		}
	}
	err := app.RunContext(context.Background(), append([]string{"cvv"}, args...))
	code = exitStatus(err, nil)
	if err != nil && code != ExitOK && !errors.Is(err, errFailures) {
		errb.WriteString("cvv: " + err.Error() + "\n")
	}
	return code, out.String(), errb.String()
}

// testEngines are the engines the command tests run with.
func testEngines(t *testing.T) []string {
	es := []string{"fallback"}
	if e, err := uring.New(cvv.Options{}); err == nil {
		e.Close()
		es = append(es, "uring")
	}
	return es
}

// footage creates a tree below a new directory "footage" and returns its
// path.
func footage(t *testing.T, files map[string]string, dirs ...string) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "footage")
	for _, d := range append([]string{""}, dirs...) {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for p, data := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// record writes the manifests of root's files in formats, as a copy
// with --hash-file would.
func record(t *testing.T, root string, alg hashing.Algorithm, formats ...manifest.Format) {
	t.Helper()
	rec := manifest.Record{Root: root, Alg: alg, Start: time.Now(), Process: "transfer"}
	files, dirs, err := walkTree(root, func(rel string) bool { return manifest.IsManifest(root, rel) }, nil)
	if err != nil {
		t.Fatal(err)
	}
	for rel, info := range files {
		data, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			t.Fatal(err)
		}
		rec.Files = append(rec.Files, manifest.File{Path: rel, Size: info.Size, ModTime: info.ModTime, Hash: alg.Sum(data)})
	}
	rec.Dirs = dirs
	if _, err := manifest.Write(rec, formats); err != nil {
		t.Fatal(err)
	}
}

var verifyFiles = map[string]string{
	"A001C001.mov":           strings.Repeat("frame", 3000),
	"clip with spaces.mov":   "spaces",
	"Ünïcødé/снимок.r3d":     "utf-8 names",
	"sub/dir/new\nline.wav":  "a newline in the name",
	`sub/back\slash.txt`:     "a backslash in the name",
	"sub/empty":              "",
	"sub/dir/deeper/x.braw":  strings.Repeat("x", 70000),
	"sub/dir/deeper/y.braw":  "y",
	"sub/dir/deeper/z.braw ": "trailing space",
}

// lineFor matches a verify output line.
func lineFor(status, path string) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(status) + ` +` + regexp.QuoteMeta(displayName(path)) + `(  |$)`)
}

func TestVerifyMHLEveryAlgorithm(t *testing.T) {
	for _, eng := range testEngines(t) {
		for _, alg := range []hashing.Algorithm{hashing.XXH3, hashing.XXH64, hashing.XXH128, hashing.MD5, hashing.SHA1} {
			t.Run(eng+"/"+alg.String(), func(t *testing.T) {
				root := footage(t, verifyFiles, "empty dir")
				record(t, root, alg, manifest.MHL, manifest.Sums)
				code, out, errOut := runCLI(t, "verify", "--engine", eng, root)
				if code != ExitOK {
					t.Fatalf("exit %d\n%s%s", code, out, errOut)
				}
				for p := range verifyFiles {
					if !lineFor("ok", p).MatchString(out) {
						t.Errorf("no ok line for %q:\n%s", p, out)
					}
				}
				if strings.Contains(out, "new ") {
					t.Errorf("the manifests were reported as new files:\n%s", out)
				}
				h, err := manifest.ReadHistory(root)
				if err != nil {
					t.Fatal(err)
				}
				if len(h.Generations) != 2 || h.Generations[1].Process != "in-place" {
					t.Fatalf("history after verify: %d generations", len(h.Generations))
				}
				for _, e := range h.Generations[1].Files {
					if e.Hashes[0].Action != "verified" {
						t.Errorf("%q recorded %q", e.Path, e.Hashes[0].Action)
					}
				}
				if len(h.Generations[1].Files) != len(verifyFiles) {
					t.Errorf("generation 2 records %d files, want %d", len(h.Generations[1].Files), len(verifyFiles))
				}
				xmllintHistory(t, root)
			})
		}
	}
}

// xmllintHistory validates root's generations and chain against the
// official schemas kept in hashing/manifest/testdata/xsd.
func xmllintHistory(t *testing.T, root string) {
	t.Helper()
	if _, err := exec.LookPath("xmllint"); err != nil {
		// A validation not done is not a pass. CI installs it (.ci/run).
		if os.Getenv("CI") != "" {
			t.Fatalf("xmllint is needed (CI is set): %v", err)
		}
		t.Skip("xmllint not installed (apt-get install libxml2-utils): schema validation not done")
	}
	xsd, _ := filepath.Abs("../../../hashing/manifest/testdata/xsd")
	gens, _ := filepath.Glob(filepath.Join(root, "ascmhl", "*.mhl"))
	for _, g := range gens {
		if out, err := exec.Command("xmllint", "--noout", "--schema", filepath.Join(xsd, "ASCMHL.xsd"), g).CombinedOutput(); err != nil {
			t.Errorf("xmllint rejected %s: %v\n%s", g, err, out)
		}
	}
	chain := filepath.Join(root, "ascmhl", "ascmhl_chain.xml")
	if out, err := exec.Command("xmllint", "--noout", "--schema", filepath.Join(xsd, "ASCMHLDirectory.xsd"), chain).CombinedOutput(); err != nil {
		t.Errorf("xmllint rejected %s: %v\n%s", chain, err, out)
	}
}

// tampers change a recorded tree; want are the statuses verify must report
// and whether it must fail.
var tampers = []struct {
	name   string
	do     func(t *testing.T, root string)
	want   map[string]string
	failed bool
}{
	{"flip one byte", func(t *testing.T, root string) {
		p := filepath.Join(root, "sub/dir/deeper/x.braw")
		b, _ := os.ReadFile(p)
		b[40000] ^= 0x01
		writeKeepTime(t, p, b)
	}, map[string]string{"sub/dir/deeper/x.braw": "changed", "A001C001.mov": "ok"}, true},
	{"truncate", func(t *testing.T, root string) {
		p := filepath.Join(root, "A001C001.mov")
		b, _ := os.ReadFile(p)
		writeKeepTime(t, p, b[:100])
	}, map[string]string{"A001C001.mov": "changed"}, true},
	{"delete", func(t *testing.T, root string) {
		if err := os.Remove(filepath.Join(root, "Ünïcødé/снимок.r3d")); err != nil {
			t.Fatal(err)
		}
	}, map[string]string{"Ünïcødé/снимок.r3d": "missing", "A001C001.mov": "ok"}, true},
	{"add", func(t *testing.T, root string) {
		if err := os.WriteFile(filepath.Join(root, "sub/extra file.txt"), []byte("extra"), 0o644); err != nil {
			t.Fatal(err)
		}
	}, map[string]string{"sub/extra file.txt": "new", "A001C001.mov": "ok"}, false},
	{"rename", func(t *testing.T, root string) {
		if err := os.Rename(filepath.Join(root, "sub/dir/new\nline.wav"), filepath.Join(root, "sub/dir/renamed.wav")); err != nil {
			t.Fatal(err)
		}
	}, map[string]string{"sub/dir/new\nline.wav": "missing", "sub/dir/renamed.wav": "new"}, true},
}

func writeKeepTime(t *testing.T, p string, b []byte) {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyMHLDetectsTampering(t *testing.T) {
	for _, eng := range testEngines(t) {
		for _, tc := range tampers {
			t.Run(eng+"/"+tc.name, func(t *testing.T) {
				root := footage(t, verifyFiles)
				record(t, root, hashing.XXH64, manifest.MHL)
				tc.do(t, root)
				code, out, errOut := runCLI(t, "verify", "--engine", eng, root)
				if want := map[bool]int{true: ExitFailure, false: ExitOK}[tc.failed]; code != want {
					t.Fatalf("exit %d, want %d\n%s%s", code, want, out, errOut)
				}
				for p, status := range tc.want {
					if !lineFor(status, p).MatchString(out) {
						t.Errorf("no %s line for %q:\n%s", status, p, out)
					}
				}
				// The new generation records what was found.
				g, err := manifest.ReadNewest(root)
				if err != nil {
					t.Fatal(err)
				}
				actions := map[string]string{}
				for _, e := range g.Files {
					actions[e.Path] = e.Hashes[0].Action
				}
				for p, status := range tc.want {
					want := map[string]string{"ok": "verified", "changed": "failed"}[status]
					if actions[p] != want {
						t.Errorf("generation %d records %q as %q, want %q", g.Number, p, actions[p], want)
					}
				}
				xmllintHistory(t, root)

				// Verifying again compares with the original hashes, not
				// with the failed ones just recorded.
				code2, out2, _ := runCLI(t, "verify", "--engine", eng, root)
				if code2 != code {
					t.Errorf("second verify exit %d, first %d\n%s", code2, code, out2)
				}
			})
		}
	}
}

func TestVerifyAgainstListsEveryAlgorithm(t *testing.T) {
	for _, eng := range testEngines(t) {
		for _, alg := range hashing.Algorithms {
			for _, f := range []manifest.Format{manifest.Sums, manifest.XXH} {
				t.Run(eng+"/"+alg.String()+"/"+f.String(), func(t *testing.T) {
					root := footage(t, verifyFiles)
					record(t, root, alg, f)
					list := manifest.FileName(root, f, alg)
					code, out, errOut := runCLI(t, "verify", "--engine", eng, "--against", list, root)
					if code != ExitOK {
						t.Fatalf("exit %d\n%s%s", code, out, errOut)
					}
					if !strings.Contains(out, "("+alg.String()+")") {
						t.Errorf("summary does not name %s:\n%s", alg, out)
					}
					// The list itself as PATH.
					if code, out, errOut := runCLI(t, "verify", "--engine", eng, list); code != ExitOK {
						t.Fatalf("verify LIST: exit %d\n%s%s", code, out, errOut)
					}
					if _, err := os.Stat(filepath.Join(root, "ascmhl")); !errors.Is(err, os.ErrNotExist) {
						t.Error("verify against a list wrote an ascmhl history")
					}
					for _, tc := range tampers {
						root := footage(t, verifyFiles)
						record(t, root, alg, f)
						tc.do(t, root)
						code, out, _ := runCLI(t, "verify", "--engine", eng, "--against", manifest.FileName(root, f, alg), root)
						if want := map[bool]int{true: ExitFailure, false: ExitOK}[tc.failed]; code != want {
							t.Errorf("%s: exit %d, want %d\n%s", tc.name, code, want, out)
						}
						for p, status := range tc.want {
							if !lineFor(status, p).MatchString(out) {
								t.Errorf("%s: no %s line for %q:\n%s", tc.name, status, p, out)
							}
						}
					}
				})
			}
		}
	}
}

// TestVerifyAgainstToolOutput checks lists written by the reference tools.
func TestVerifyAgainstToolOutput(t *testing.T) {
	files := map[string]string{"a b.mov": "one", "Ünï/c.mov": "two", "d/e/f.wav": strings.Repeat("3", 10000)}
	for _, tc := range []struct {
		tool string
		args []string
		list string
	}{
		{"md5sum", nil, "list.md5"},
		{"sha1sum", nil, "SHA1SUMS"},
		{"sha256sum", nil, "list.sha256"},
		{"sha256sum", []string{"--tag"}, "tagged.txt"},
		{"xxhsum", []string{"-H3"}, "list.xxh3"},
		{"xxhsum", []string{"-H64"}, "list.xxh64"},
		{"xxh128sum", nil, "list.xxh128"},
	} {
		t.Run(tc.list, func(t *testing.T) {
			if _, err := exec.LookPath(tc.tool); err != nil {
				t.Skipf("%s not installed (CI installs xxhash and coreutils)", tc.tool)
			}
			root := footage(t, files)
			cmd := exec.Command(tc.tool, append(tc.args, "a b.mov", "Ünï/c.mov", "d/e/f.wav")...)
			cmd.Dir = root
			out, err := cmd.Output()
			if err != nil {
				t.Fatal(err)
			}
			list := filepath.Join(t.TempDir(), tc.list)
			if err := os.WriteFile(list, out, 0o644); err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr := runCLI(t, "verify", "--against", list, root)
			if code != ExitOK {
				t.Fatalf("exit %d for %s output:\n%s\n%s%s", code, tc.tool, out, stdout, stderr)
			}
			writeKeepTime(t, filepath.Join(root, "a b.mov"), []byte("One"))
			if code, stdout, _ := runCLI(t, "verify", "--against", list, root); code != ExitFailure || !lineFor("changed", "a b.mov").MatchString(stdout) {
				t.Errorf("a changed file: exit %d\n%s", code, stdout)
			}
		})
	}
}

func TestVerifyCorruptManifests(t *testing.T) {
	md5a := hashing.MD5.Sum([]byte("aaa"))
	for name, mutate := range map[string]func(string) string{
		"truncated XML":   func(s string) string { return s[:len(s)*2/3] },
		"wrong namespace": func(s string) string { return strings.Replace(s, "urn:ASC:MHL:v2.0", "urn:example", 1) },
		"wrong length":    func(s string) string { return strings.Replace(s, md5a, md5a+"00", 1) },
		"dot dot":         func(s string) string { return strings.Replace(s, ">a.mov<", ">../../etc/passwd<", 1) },
		"absolute":        func(s string) string { return strings.Replace(s, ">a.mov<", ">/etc/passwd<", 1) },
		"edited hash":     func(s string) string { return strings.Replace(s, md5a, hashing.MD5.Sum([]byte("bbb")), 1) },
	} {
		t.Run("mhl/"+name, func(t *testing.T) {
			root := footage(t, map[string]string{"a.mov": "aaa", "b/c.mov": "ccc"})
			record(t, root, hashing.MD5, manifest.MHL)
			gens, _ := filepath.Glob(filepath.Join(root, "ascmhl", "*.mhl"))
			data, _ := os.ReadFile(gens[0])
			if err := os.WriteFile(gens[0], []byte(mutate(string(data))), 0o644); err != nil {
				t.Fatal(err)
			}
			before := listDir(t, filepath.Join(root, "ascmhl"))
			code, out, errOut := runCLI(t, "verify", root)
			if code != ExitUsage {
				t.Fatalf("exit %d, want %d\n%s%s", code, ExitUsage, out, errOut)
			}
			if n := strings.Count(strings.TrimRight(errOut, "\n"), "\n"); n != 0 || !strings.Contains(errOut, "corrupt manifest") {
				t.Errorf("want one line naming the corrupt manifest, got %q", errOut)
			}
			if out != "" {
				t.Errorf("output before the manifest was refused: %q", out)
			}
			if after := listDir(t, filepath.Join(root, "ascmhl")); !slices.Equal(before, after) {
				t.Errorf("ascmhl/ changed: %v -> %v", before, after)
			}
		})
	}
	for name, list := range map[string]string{
		"short digest": md5a[:20] + "  a.mov\n",
		"dot dot":      md5a + "  ../a.mov\n",
		"absolute":     md5a + "  /etc/passwd\n",
		"garbage":      "this is not a list\n",
		"empty":        "",
	} {
		t.Run("sums/"+name, func(t *testing.T) {
			root := footage(t, map[string]string{"a.mov": "aaa"})
			p := filepath.Join(t.TempDir(), "list.md5")
			os.WriteFile(p, []byte(list), 0o644)
			code, out, errOut := runCLI(t, "verify", "--against", p, root)
			if code != ExitUsage || strings.Count(strings.TrimRight(errOut, "\n"), "\n") != 0 || !strings.Contains(errOut, "list.md5") {
				t.Errorf("exit %d, stderr %q, stdout %q", code, errOut, out)
			}
		})
	}
}

func TestVerifyUsage(t *testing.T) {
	root := footage(t, map[string]string{"a": "a"})
	for name, args := range map[string][]string{
		"no path":      {"verify"},
		"two paths":    {"verify", root, root},
		"no history":   {"verify", root},
		"missing path": {"verify", filepath.Join(root, "nope")},
		"bad jobs":     {"verify", "-j", "0", root},
		"bad engine":   {"verify", "--engine", "warp", root},
		"bad hash":     {"verify", "--hash", "crc", "--against", root + "/x.md5", root},
		"bad flag":     {"verify", "--frobnicate", root},
	} {
		code, _, errOut := runCLI(t, args...)
		if code != ExitUsage {
			t.Errorf("%s: exit %d, want 2 (%s)", name, code, errOut)
		}
	}
}

func TestVerifyJSON(t *testing.T) {
	root := footage(t, map[string]string{"a.mov": "aaa", "b.mov": "bbb"})
	record(t, root, hashing.XXH128, manifest.MHL)
	os.Remove(filepath.Join(root, "b.mov"))
	code, out, _ := runCLI(t, "verify", "--json", root)
	if code != ExitFailure {
		t.Fatalf("exit %d", code)
	}
	var events []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		events = append(events, ev)
	}
	last := events[len(events)-1]
	if last["event"] != "verify_summary" || last["verified"] != false || last["missing"] != 1.0 || last["ok"] != 1.0 || last["hash"] != "xxh128" {
		t.Errorf("summary %v", last)
	}
	// Durations in seconds, as in the copy's summary; elapsed_ms stays
	// (schema version 1) and says the same.
	sec, ok1 := last["seconds"].(float64)
	ms, ok2 := last["elapsed_ms"].(float64)
	if !ok1 || !ok2 || sec <= 0 || math.Abs(sec*1000-ms) > 1 {
		t.Errorf("seconds %v, elapsed_ms %v", last["seconds"], last["elapsed_ms"])
	}
	statuses := map[string]string{}
	for _, ev := range events[:len(events)-1] {
		statuses[ev["path"].(string)] = ev["status"].(string)
	}
	if statuses["a.mov"] != "ok" || statuses["b.mov"] != "missing" {
		t.Errorf("file events %v", statuses)
	}
}

func TestVerifyNoRecord(t *testing.T) {
	root := footage(t, map[string]string{"a.mov": "aaa"})
	record(t, root, hashing.SHA1, manifest.MHL)
	before := listDir(t, filepath.Join(root, "ascmhl"))
	if code, out, errOut := runCLI(t, "verify", "--no-record", root); code != ExitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if after := listDir(t, filepath.Join(root, "ascmhl")); !slices.Equal(before, after) {
		t.Errorf("--no-record wrote %v", after)
	}
}

// TestVerifyRecordingFailsLate: when the files of the generation cannot
// be written to $TMPDIR, every file is still checked and reported, and the
// run then fails, saying why, with no generation written.
func TestVerifyRecordingFailsLate(t *testing.T) {
	const n = 8000 // more than the spool holds in memory (about 2 MiB)
	files := map[string]string{}
	for i := range n {
		files[fmt.Sprintf("d%d/f%05d.mov", i%7, i)] = ""
	}
	root := footage(t, files)
	record(t, root, hashing.XXH64, manifest.MHL)
	before := listDir(t, filepath.Join(root, "ascmhl"))
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "missing"))
	code, out, errOut := runCLI(t, "verify", "--json", root)
	if code == ExitOK || !strings.Contains(errOut, "recording") || !strings.Contains(errOut, "missing") {
		t.Errorf("exit %d, stderr %q: want a failure saying the files could not be recorded", code, errOut)
	}
	if got := strings.Count(out, `"status":"ok"`); got != n {
		t.Errorf("%d files reported ok, want %d", got, n)
	}
	if after := listDir(t, filepath.Join(root, "ascmhl")); !slices.Equal(before, after) {
		t.Errorf("a generation was written: %v", after)
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TestVerifyRecordedListIsChecked: a sums file that a record lists (a
// file named like cvv's own lists) is checked like any other file.
func TestVerifyRecordedListIsChecked(t *testing.T) {
	root := footage(t, map[string]string{"a.mov": "aaa"})
	record(t, root, hashing.MD5, manifest.Sums)
	other := filepath.Join(t.TempDir(), "copy")
	if err := os.MkdirAll(other, 0o755); err != nil {
		t.Fatal(err)
	}
	// A list of root made elsewhere, that lists footage.md5 too.
	list := filepath.Join(other, "all.md5")
	data, _ := os.ReadFile(filepath.Join(root, "footage.md5"))
	lines := manifest.SumLine(hashing.MD5, hashing.MD5.Sum([]byte("aaa")), "a.mov", false) +
		manifest.SumLine(hashing.MD5, hashing.MD5.Sum(data), "footage.md5", false)
	os.WriteFile(list, []byte(lines), 0o644)
	code, out, errOut := runCLI(t, "verify", "--against", list, root)
	if code != ExitOK || !lineFor("ok", "footage.md5").MatchString(out) {
		t.Errorf("exit %d\n%s%s", code, out, errOut)
	}
}

func TestVerifyQuietAndCanceled(t *testing.T) {
	root := footage(t, map[string]string{"a.mov": "aaa", "b.mov": "bbb"})
	record(t, root, hashing.XXH3, manifest.MHL)
	os.Remove(filepath.Join(root, "b.mov"))
	code, out, _ := runCLI(t, "verify", "-q", "--no-record", root)
	if code != ExitFailure || strings.Contains(out, "a.mov") || !lineFor("missing", "b.mov").MatchString(out) {
		t.Errorf("--quiet: exit %d\n%s", code, out)
	}

	before := listDir(t, filepath.Join(root, "ascmhl"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	app := newApp(strings.NewReader(""), &stdout, &stderr)
	if app.Command("verify") == nil {
		app.Commands = append(app.Commands, verifyCommand())
	}
	err := app.RunContext(ctx, []string{"cvv", "verify", root})
	if !errors.Is(err, context.Canceled) || exitStatus(err, nil) != ExitSIGINT {
		t.Errorf("canceled verify: %v", err)
	}
	if after := listDir(t, filepath.Join(root, "ascmhl")); !slices.Equal(before, after) {
		t.Errorf("a canceled verify recorded a generation: %v", after)
	}
}

// TestWalkTreeHardLinks checks that verify and hash list every name of a
// hard-linked file: the copy's walker keeps the further names apart
// (Tree.HardLinks), and cvv verify must not report them as new or miss
// them.
func TestWalkTreeHardLinks(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "a.bin"), []byte("linked"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(root, "a.bin"), filepath.Join(root, "sub", "b.bin")); err != nil {
		t.Skipf("no hard links here: %v", err)
	}
	files, dirs, err := walkTree(root, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for rel, e := range files {
		names = append(names, rel)
		if e.Size != int64(len("linked")) {
			t.Errorf("%s: size %d", rel, e.Size)
		}
	}
	slices.Sort(names)
	if want := []string{"a.bin", "sub/b.bin"}; !slices.Equal(names, want) {
		t.Errorf("files %q, want %q", names, want)
	}
	if !slices.Equal(dirs, []string{"sub"}) {
		t.Errorf("dirs %q, want [sub]", dirs)
	}
}

// walkTree lists the regular files (relative path with '/' separators ->
// entry) and the directories below root as cvv verify walks them:
// symlinks are not followed, skip(rel) drops an entry silently and ex
// what it matches, a directory with everything below it.
func walkTree(root string, skip func(rel string) bool, ex *plan.Excludes) (map[string]plan.Entry, []string, error) {
	in := &verifyInput{root: root, ex: ex, skip: skip}
	if err := in.survey(context.Background(), func(*plan.Found, string) {}); err != nil {
		return nil, nil, err
	}
	files := map[string]plan.Entry{}
	for e, err := range in.walkFiles(context.Background()) {
		if err != nil {
			return nil, nil, err
		}
		files[filepath.ToSlash(e.Rel)] = e
	}
	return files, in.dirs, nil
}

// TestVerifyStreamsInPathOrder: cvv verify merges the walk with a list in
// any order (this one reversed, as find | xargs sha1sum may leave it) and
// still finds every missing, changed and new file, reporting each in its
// place in path order, a name that sorts before its directory's
// contents ("b c", "b.txt") and one after ("b0") included.
func TestVerifyStreamsInPathOrder(t *testing.T) {
	files := map[string]string{"a": "a", "b c": "bc", "b.txt": "t", "b/c": "c", "b/e": "e", "b0": "0", "d": "d"}
	root := footage(t, files)
	var list strings.Builder
	for _, p := range []string{"d", "b0", "b/e", "b/d", "b/c", "b.txt", "a"} { // b/d missing, "b c" new
		data := files[p]
		if p == "d" {
			data = "changed since"
		}
		list.WriteString(manifest.SumLine(hashing.SHA1, hashing.SHA1.Sum([]byte(data)), p, false))
	}
	name := filepath.Join(t.TempDir(), "list.sha1")
	if err := os.WriteFile(name, []byte(list.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "verify", "--json", "--against", name, root)
	if code != ExitFailure {
		t.Fatalf("exit %d, want %d\n%s%s", code, ExitFailure, out, errOut)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev struct{ Event, Path, Status string }
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		if ev.Event == "verify_file" {
			got = append(got, ev.Status+" "+ev.Path)
		}
	}
	want := []string{"ok a", "new b c", "ok b.txt", "ok b/c", "missing b/d", "ok b/e", "ok b0", "changed d"}
	if !slices.Equal(got, want) {
		t.Errorf("events\n%q\nwant\n%q", got, want)
	}
}
