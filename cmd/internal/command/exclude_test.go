package command

import (
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cvv-project/cvv/cmd/internal/report"
	"github.com/cvv-project/cvv/hashing"
	"github.com/cvv-project/cvv/hashing/manifest"
)

// junkTree is a card as macOS and Windows leave it.
func junkTree(t *testing.T) string {
	t.Helper()
	return footage(t, map[string]string{
		"A001/Clip/A001C001.mov":    "clip",
		"A001/Clip/._A001C001.mov":  "appledouble",
		".DS_Store":                 "finder",
		"A001/.DS_Store":            "finder",
		".Trashes/501/gone.mov":     "trash",
		".Spotlight-V100/Store-V2":  "index",
		".fseventsd/fseventsd-uuid": "log",
		"Thumbs.db":                 "thumbs",
		"A001/desktop.ini":          "ini",
		"A001/Proxy/p.mp4":          "proxy",
		"A001/notes.tmp":            "tmp",
	})
}

func treeFiles(t *testing.T, root string) []string {
	t.Helper()
	files, _, err := walkTree(root, func(rel string) bool {
		return manifest.IsManifest(root, rel) || report.IsReportName(path.Base(rel))
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rel := range files {
		out = append(out, rel)
	}
	slices.Sort(out)
	return out
}

func TestCopyExcludes(t *testing.T) {
	src := junkTree(t)
	dst := filepath.Join(t.TempDir(), "d")
	code, out, errOut := runCLI(t, "--exclude", "Proxy/", "--exclude", "*.tmp", "--hash", "xxh64", "--hash-file", "mhl", src, dst)
	if code != ExitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if got := treeFiles(t, dst); !slices.Equal(got, []string{"A001/Clip/A001C001.mov"}) {
		t.Errorf("copied %v, want only the clip", got)
	}
	g, err := manifest.ReadNewest(dst)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"ascmhl", ".DS_Store", "._*", ".Trashes", "Thumbs.db", "Proxy/", "*.tmp"} {
		if !slices.Contains(g.Ignore, p) {
			t.Errorf("ignore list %v lacks %q", g.Ignore, p)
		}
	}
	xmllintHistory(t, dst)

	// Junk that appears later is not new; the recorded patterns stay in
	// the next generation.
	if err := os.WriteFile(filepath.Join(dst, "A001", ".DS_Store"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dst, "A001", "Proxy"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, "A001", "Proxy", "p.mp4"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCLI(t, "verify", dst)
	if code != ExitOK || strings.Contains(out, "new ") {
		t.Errorf("verify: exit %d\n%s", code, out)
	}
	if g, _ := manifest.ReadNewest(dst); !slices.Contains(g.Ignore, "Proxy/") || g.Number != 2 {
		t.Errorf("generation %d ignore %v", g.Number, g.Ignore)
	}
	// The history's run left the junk out (its ignore list says so): it
	// is not new even without today's defaults.
	code, out, _ = runCLI(t, "verify", "--no-record", "--no-default-excludes", dst)
	if code != ExitOK || strings.Contains(out, "new ") {
		t.Errorf("verify --no-default-excludes: exit %d\n%s", code, out)
	}

	// --no-default-excludes copies everything but the named patterns.
	all := filepath.Join(t.TempDir(), "all")
	if code, out, errOut := runCLI(t, "--no-default-excludes", "--exclude", "**/Proxy/**", src, all); code != ExitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if got := treeFiles(t, all); len(got) != 10 || slices.Contains(got, "A001/Proxy/p.mp4") || !slices.Contains(got, ".Trashes/501/gone.mov") {
		t.Errorf("copied %v", got)
	}
}

// TestVerifyChecksRecordedExcludedFiles: a file the record lists is checked
// even when a pattern would leave it out of the walk.
func TestVerifyChecksRecordedExcludedFiles(t *testing.T) {
	root := junkTree(t)
	record(t, root, hashing.XXH64, manifest.MHL) // every file, Thumbs.db too
	code, out, errOut := runCLI(t, "verify", "--no-record", root)
	if code != ExitOK || !lineFor("ok", "Thumbs.db").MatchString(out) || !lineFor("ok", ".Trashes/501/gone.mov").MatchString(out) {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	// Junk the record does not list: left out by default, new without
	// the defaults (this history's ignore list has only ascmhl).
	if err := os.WriteFile(filepath.Join(root, "A001", "Clip", "._A001C002.mov"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := runCLI(t, "verify", "--no-record", root); code != ExitOK || strings.Contains(out, "new ") {
		t.Errorf("new junk: exit %d\n%s", code, out)
	}
	if code, out, _ := runCLI(t, "verify", "--no-record", "--no-default-excludes", root); code != ExitOK || !lineFor("new", "A001/Clip/._A001C002.mov").MatchString(out) {
		t.Errorf("new junk, --no-default-excludes: exit %d\n%s", code, out)
	}
	writeKeepTime(t, filepath.Join(root, "Thumbs.db"), []byte("thumbz"))
	if code, out, _ := runCLI(t, "verify", "--no-record", root); code != ExitFailure || !lineFor("changed", "Thumbs.db").MatchString(out) {
		t.Errorf("tampered recorded junk: exit %d\n%s", code, out)
	}
}

func TestHashExcludesAndBadPatterns(t *testing.T) {
	root := junkTree(t)
	code, out, errOut := runCLI(t, "hash", "--exclude", "Proxy", root)
	if code != ExitOK || strings.Count(out, "\n") != 2 || !strings.Contains(out, "A001C001.mov") || !strings.Contains(out, "notes.tmp") {
		t.Errorf("hash: exit %d\n%s%s", code, out, errOut)
	}
	for _, args := range [][]string{{"--exclude", "[abc", root, t.TempDir()}, {"verify", "--exclude", "", root}, {"hash", "--exclude", "!", root}} {
		if code, _, errOut := runCLI(t, args...); code != ExitUsage || !strings.Contains(errOut, "bad exclude pattern") {
			t.Errorf("%v: exit %d, %s", args, code, errOut)
		}
	}
}
