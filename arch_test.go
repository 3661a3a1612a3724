package cvv_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestArrows checks the import arrows the README's code map forbids, on
// the non-test files of every package of the module.
func TestArrows(t *testing.T) {
	const mod = "github.com/cvv-project/cvv"
	imports := map[string]map[string]bool{} // package dir -> module imports
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "bench" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && p != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		pkg := filepath.ToSlash(filepath.Dir(p))
		if imports[pkg] == nil {
			imports[pkg] = map[string]bool{}
		}
		for _, im := range f.Imports {
			path, _ := strconv.Unquote(im.Path.Value)
			if path == mod {
				imports[pkg]["."] = true
			} else if rel, ok := strings.CutPrefix(path, mod+"/"); ok {
				imports[pkg][rel] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(imports) < 10 {
		t.Fatalf("found %d packages: the walk is broken", len(imports))
	}
	forbidden := []struct {
		from, to func(string) bool
		why      string
	}{
		{is("."), is("uring", "fallback", "internal/copyfile", "enginetest"), "the contract depends on no engine"},
		{is("uring"), is("fallback"), "the engines share code only through internal packages"},
		{is("fallback"), is("uring"), "the engines share code only through internal packages"},
		{under("hashing"), anyOf(is("uring", "fallback", "internal/copyfile"), under("cmd")), "hashing knows no engine and no CLI"},
		{under("hashing/manifest"), is("."), "manifest stands alone"},
		{under("internal"), under("cmd"), "internal packages serve the CLI, never the reverse"},
		{is("cmd/internal/plan"), is("uring", "fallback"), "the planner reads metadata only"},
		{is("cmd/internal/ui"), is("uring", "fallback", "cmd/internal/copier", "cmd/internal/command"), "printers take events; they know no engine and no executor"},
		{is("cmd/internal/copier"), is("uring", "fallback", "cmd/internal/command"), "the executor gets its engine and its options from the command line"},
	}
	for pkg, ims := range imports {
		for im := range ims {
			for _, f := range forbidden {
				if f.from(pkg) && f.to(im) {
					t.Errorf("%s imports %s: %s", pkg, im, f.why)
				}
			}
		}
	}
}

func is(names ...string) func(string) bool {
	return func(p string) bool {
		for _, n := range names {
			if p == n {
				return true
			}
		}
		return false
	}
}

func under(dir string) func(string) bool {
	return func(p string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }
}

func anyOf(fs ...func(string) bool) func(string) bool {
	return func(p string) bool {
		for _, f := range fs {
			if f(p) {
				return true
			}
		}
		return false
	}
}
