//go:build unix

package plan

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
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

// TestScanAhead: a walk whose lstats are taken ahead of it by other
// goroutines (statPool) visits what a walk on one goroutine visits, in
// the same order, with the same lstats, link targets, failures and
// exclusions, stopped anywhere or not, and leaves no goroutine and no
// descriptor behind.
func TestScanAhead(t *testing.T) {
	src := t.TempDir()
	mtime := time.Unix(1_700_000_000, 5)
	write := func(rel string, size int) {
		p := filepath.Join(src, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(strings.Repeat("x", size)), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime.Add(time.Duration(size))); err != nil {
			t.Fatal(err)
		}
	}
	// Listings of several batches, with directories among the files (the
	// walk goes down in the middle of a batch while the rest of it, and
	// the next ones, are taken), names left out, links and entries that
	// vanish between the listing and their lstat.
	for k := range 3*statBatch*statAhead + 7 {
		write(filepath.Join("big", fmt.Sprintf("f%04d", k)), k%97)
		if k%(3*statBatch+3) == 5 {
			for j := range 2*statBatch + 1 {
				write(filepath.Join("big", fmt.Sprintf("f%04d.d", k), fmt.Sprintf("g%03d", j)), j)
			}
		}
		if k%41 == 0 {
			write(filepath.Join("big", fmt.Sprintf("f%04d.tmp", k)), 1)
			write(filepath.Join("big", fmt.Sprintf("f%04d.gone", k)), 1)
			if err := os.Symlink(fmt.Sprintf("../t%d", k), filepath.Join(src, "big", fmt.Sprintf("f%04d.lnk", k))); err != nil {
				t.Fatal(err)
			}
		}
	}
	for k := range 2 * statBatch {
		write(filepath.Join("cache", fmt.Sprintf("c%d", k)), k)
		// Listings of a few batches of fewer names, of one batch, of
		// one name.
		write(filepath.Join("small", fmt.Sprintf("s%d", k%5), fmt.Sprintf("x%d", k%(k%5*6+1))), k)
	}
	if err := os.Link(filepath.Join(src, "big", "f0001"), filepath.Join(src, "big", "f0600.hard")); err != nil {
		t.Fatal(err)
	}
	ex, err := NewExcludes([]string{"*.tmp", "cache/"})
	if err != nil {
		t.Fatal(err)
	}
	// Skip is asked before any lstat of its batch: a ".gone" name it is
	// asked about vanishes, and its lstat fails.
	skip := func(rel string) bool {
		if strings.HasSuffix(rel, ".gone") {
			os.Remove(filepath.Join(src, filepath.FromSlash(rel)))
			return false
		}
		return strings.HasSuffix(rel, "7")
	}
	restore := statWorkers
	defer func() { statWorkers = restore }()
	scan := func(workers, stopAt int) (got []string, excluded int, err error) {
		statWorkers = func() int { return workers }
		for k := 0; k < 3*statBatch*statAhead+7; k += 41 {
			write(filepath.Join("big", fmt.Sprintf("f%04d.gone", k)), 1)
		}
		stop := errors.New("stop")
		excluded, err = Scan(context.Background(), src, WalkOptions{Excludes: ex, Skip: skip}, func(f *Found) error {
			if len(got) == stopAt {
				return stop
			}
			line := fmt.Sprintf("%s %v", f.Rel, f.Err)
			if f.Err == nil {
				line += fmt.Sprintf(" %v %d %v %q %d", f.Kind, f.Size, f.Mode, f.Target, fileID("", f.Info).Ino)
				if f.Kind != Dir { // each scan makes the ".gone" files again
					line += fmt.Sprint(" ", f.ModTime.UnixNano())
				}
			}
			got = append(got, line)
			return nil
		})
		if errors.Is(err, stop) {
			err = nil
		}
		return got, excluded, err
	}
	fds := func() int {
		des, _ := os.ReadDir("/proc/self/fd")
		return len(des)
	}
	goroutines, open := runtime.NumGoroutine(), fds()
	want, wantExcluded, err := scan(0, -1)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(strings.Join(want, "\n"), "no such file"); n == 0 || wantExcluded < 10 {
		t.Fatalf("the tree does not test what it should: %d vanished, %d excluded", n, wantExcluded)
	}
	for _, workers := range []int{1, 3} {
		for _, stopAt := range []int{-1, 0, 1, 5, statBatch + 1, 300, len(want) - 1} {
			got, excluded, err := scan(workers, stopAt)
			n := len(want)
			if stopAt >= 0 {
				n = stopAt
			}
			if err != nil || excluded < 0 || !slices.Equal(got, want[:n]) {
				t.Errorf("%d goroutines, stopped at %d: %v; %d entries, %d differ", workers, stopAt, err, len(got), diffCount(got, want[:n]))
			}
			if stopAt < 0 && excluded != wantExcluded {
				t.Errorf("%d goroutines: %d excluded, want %d", workers, excluded, wantExcluded)
			}
		}
	}
	if g := runtime.NumGoroutine(); g > goroutines {
		t.Errorf("%d goroutines after the walks, %d before", g, goroutines)
	}
	if n := fds(); n > open {
		t.Errorf("%d descriptors open after the walks, %d before", n, open)
	}
}

// diffCount counts the places where a and b differ.
func diffCount(a, b []string) int {
	n := max(len(a), len(b)) - min(len(a), len(b))
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			n++
		}
	}
	return n
}
