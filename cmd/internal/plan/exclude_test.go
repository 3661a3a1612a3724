package plan

import (
	"slices"
	"testing"
)

func TestExcludesMatch(t *testing.T) {
	x, err := NewExcludes(append(append([]string{}, DefaultExcludes...),
		"*.tmp", "/top.txt", "Clip/*.xml", "cache/", "**/proxy/**", "a/**/b.mov", "!keep.tmp", "[Tt]est?.wav", `\!bang`, "é*", "Clip/ü?.wav"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		rel   string
		dir   bool
		want  bool
		label string
	}{
		{".DS_Store", false, true, "default at the root"},
		{"A001/Clip/.DS_Store", false, true, "default at depth"},
		{"A001/._A001C001.mov", false, true, "AppleDouble"},
		{"A001/_A001C001.mov", false, false, "not AppleDouble"},
		{".Trashes", true, true, "Trash folder"},
		{".Spotlight-V100", true, true, "Spotlight"},
		{"x/.fseventsd", true, true, "fseventsd"},
		{"Thumbs.db", false, true, "Windows"},
		{"sub/desktop.ini", false, true, "Windows settings"},
		{"desktop.ini.bak", false, false, "only the exact name"},
		{"a/b/c.tmp", false, true, "no slash: any depth"},
		{"keep.tmp", false, false, "negated"},
		{"sub/keep.tmp", false, false, "negated at depth"},
		{"top.txt", false, true, "anchored"},
		{"sub/top.txt", false, false, "anchored: not below"},
		{"Clip/x.xml", false, true, "with a slash: anchored"},
		{"A001/Clip/x.xml", false, false, "with a slash: not at depth"},
		{"Clip/sub/x.xml", false, false, "* does not cross /"},
		{"cache", true, true, "dir only"},
		{"cache", false, false, "dir only: not a file"},
		{"x/proxy/a/b.mp4", false, true, "**/d/**"},
		{"proxy/a.mp4", false, true, "**/ matches no directory"},
		{"proxy", true, false, "d/** is what is inside"},
		{"a/b.mov", false, true, "a/**/b: zero dirs"},
		{"a/x/y/b.mov", false, true, "a/**/b: several"},
		{"z/a/b.mov", false, false, "a/**/b anchored"},
		{"test1.wav", false, true, "class and ?"},
		{"Test12.wav", false, false, "? is one character"},
		{"!bang", false, true, "escaped !"},
		{"clip.mov", false, false, "nothing"},
		{"x/été.mov", false, true, "a name that is not ASCII"},
		{"Clip/üb.wav", false, true, "anchored, not ASCII"},
		{"Clip/übb.wav", false, false, "? is one character, not one byte"},
	} {
		if got := x.Match(tc.rel, tc.dir); got != tc.want {
			t.Errorf("%s: Match(%q, dir=%v) = %v, want %v", tc.label, tc.rel, tc.dir, got, tc.want)
		}
	}
	var none *Excludes
	if none.Match(".DS_Store", false) || none.Patterns() != nil {
		t.Error("nil Excludes excludes")
	}
	for _, bad := range []string{"", "!", "/", "[abc"} {
		if _, err := NewExcludes([]string{bad}); err == nil {
			t.Errorf("NewExcludes(%q) accepted", bad)
		}
	}
}

// TestExcludeNameMatcher checks that a pattern matched on the last path
// element only says what its regular expression says of the whole path.
func TestExcludeNameMatcher(t *testing.T) {
	paths := []string{"a", ".DS_Store", "x/.DS_Store", "x/.DS_Store/y", "._f", "d/._f", "d._f", "a.tmp", "b/c/a.tmp", "a.tmpx",
		"Thumbs.db", "x/Thumbs.dbx", "a*b", "x/a*b", "axb", "a?", "ab", "x/ab/c", "*", "a/b", "a\\b", "x y", "é", "d/é.mov"}
	for _, p := range append(slices.Clone(DefaultExcludes), "*.tmp", "a?", `a\*b`, "*", "a*", "é*", "x y", "!*.tmp", "a?/", "*.db") {
		r, err := compileExclude(p)
		if err != nil {
			t.Fatal(err)
		}
		if r.name == nil {
			t.Fatalf("%q is matched on whole paths", p)
		}
		for _, rel := range paths {
			full := r.re.MatchString(rel)
			if got := r.matches(rel); got != full {
				t.Errorf("%q on %q: %v, its regular expression says %v", p, rel, got, full)
			}
		}
	}
	for _, p := range []string{"a/b", "/a", "**/a", "a/**", "[ab]", "a[!b]c"} {
		if r, err := compileExclude(p); err != nil || r.name != nil {
			t.Errorf("%q: matched by name (%v)", p, err)
		}
	}
}
