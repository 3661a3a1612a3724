//go:build unix

package plan

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestWalkHardLinks: the further paths of a file with several links in
// the tree are HardLinks of its first path, not Files, and their bytes
// count once; a file linked from outside the tree is an ordinary file.
func TestWalkHardLinks(t *testing.T) {
	root := t.TempDir()
	src := filepath.Join(root, "src")
	for _, d := range []string{"a", "b"} {
		if err := os.MkdirAll(filepath.Join(src, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, data string) {
		if err := os.WriteFile(filepath.Join(src, p), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(old, new string) {
		if err := os.Link(old, filepath.Join(src, new)); err != nil {
			t.Fatal(err)
		}
	}
	write("a/f", "12345")
	link(filepath.Join(src, "a/f"), "b/g")
	link(filepath.Join(src, "a/f"), "z")
	write("outside-linked", "xy")
	link(filepath.Join(src, "outside-linked"), "../elsewhere")
	tr, err := Walk(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, f := range entries(t, tr) {
		files = append(files, f.Rel)
	}
	if len(files) != 2 || tr.Bytes != 7 {
		t.Fatalf("Files %q, Bytes %d; want a/f (or z) and outside-linked, 7 bytes", files, tr.Bytes)
	}
	if len(tr.HardLinks) != 2 {
		t.Fatalf("HardLinks %+v, want 2", tr.HardLinks)
	}
	for _, h := range tr.HardLinks {
		first := entries(t, tr)[h.File].Rel
		if first != h.First {
			t.Errorf("%s: First %s, file %d is %s", h.Rel, h.First, h.File, first)
		}
		if first == "outside-linked" || first == h.Rel {
			t.Errorf("%s is a link of %s", h.Rel, first)
		}
	}
}
