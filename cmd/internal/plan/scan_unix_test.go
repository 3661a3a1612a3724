//go:build unix

package plan

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestScanDeep: a tree deeper than the directories Scan holds open is
// walked whole and in path order, every entry with its lstat (a hard
// link found from below that depth too), with at most heldDirs+1
// directories open at the deepest point.
func TestScanDeep(t *testing.T) {
	src := t.TempDir()
	const levels = heldDirs + 10
	mtime := time.Unix(1_700_000_000, 123456789)
	dir := src
	var want []string
	for k := range levels {
		dir = filepath.Join(dir, "d")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(src, dir)
		want = append(want, rel)
		// "e" sorts after what d/ holds: it is looked up after the
		// walk came back up from below.
		for _, name := range []string{"c", "e"} {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, []byte(strings.Repeat("x", k)), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(p, mtime, mtime); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.Link(filepath.Join(src, "d", "c"), filepath.Join(dir, "z")); err != nil {
		t.Fatal(err)
	}
	var got []string
	maxOpen := 0
	_, err := Scan(context.Background(), src, WalkOptions{}, func(f *Found) error {
		if f.Err != nil {
			t.Errorf("%s: %v", f.Rel, f.Err)
		}
		if f.Kind == Dir && f.Rel != "" {
			got = append(got, f.Rel)
			if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
				maxOpen = max(maxOpen, len(fds))
			}
		}
		if f.Kind == File {
			depth := strings.Count(f.Rel, string(filepath.Separator)) - 1
			if name := filepath.Base(f.Rel); name != "z" && (f.Size != int64(depth) || !f.ModTime.Equal(mtime)) {
				t.Errorf("%s: size %d, mtime %v; want %d, %v", f.Rel, f.Size, f.ModTime, depth, mtime)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("directories walked: %d, want %d", len(got), len(want))
	}
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil && maxOpen > len(fds)+heldDirs+1 {
		t.Errorf("%d descriptors open at the deepest point, %d after the walk", maxOpen, len(fds))
	}
	tr, err := Walk(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if tr.Files.Len() != 2*levels || len(tr.HardLinks) != 1 || tr.HardLinks[0].First != filepath.Join("d", "c") {
		t.Errorf("Walk: %d files, hard links %+v", tr.Files.Len(), tr.HardLinks)
	}
}
