package command

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/cvv-project/cvv/cmd/internal/plan"
	"github.com/cvv-project/cvv/internal/atomicfile"
)

// TestTreeDirSync: a tree copy fsyncs each destination directory that got
// new names exactly once (not once per file), and every directory once more
// at the end, when its mode and mtime are set; a file copy does so through
// its own commit, --no-fsync fsyncs nothing, and a failed directory fsync
// fails the files in that directory on that destination only. That is
// where syncfs does not make names durable (plan.DestFS.SyncFS).
func TestTreeDirSync(t *testing.T) {
	files := syncTestFiles()
	var mu sync.Mutex
	var calls map[string]int
	var failDir string
	syncDir = func(d *atomicfile.Dir) error {
		dir := d.Path()
		mu.Lock()
		calls[dir]++
		mu.Unlock()
		if dir == failDir {
			return &os.PathError{Op: "fsync", Path: dir, Err: syscall.EIO}
		}
		return d.Sync()
	}
	// The per-directory fsyncs of a filesystem where syncfs is not
	// trusted for names (tmpfs, FUSE, ext4 without a journal), whatever
	// the temporary directory's is: TestTreeSyncFS tests the other path.
	detectFS = func(path string) (plan.DestFS, error) {
		d, err := plan.DetectFS(path)
		d.SyncFS = false
		return d, err
	}
	t.Cleanup(func() { syncDir, detectFS = (*atomicfile.Dir).Sync, plan.DetectFS })

	for _, eng := range testEngines(t) {
		t.Run(eng, func(t *testing.T) {
			src := footage(t, files, "empty")
			out := t.TempDir()
			d1, d2 := filepath.Join(out, "d1"), filepath.Join(out, "d2")

			calls, failDir = map[string]int{}, ""
			code, _, stderr := runCLI(t, "--engine", eng, "-j", "3", src, d1, d2)
			if code != ExitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			// The parent of the roots cvv created.
			if calls[out] == 0 {
				t.Errorf("%s (parent of new roots) not fsynced (all: %v)", out, calls)
			}
			for _, d := range []string{d1, d2} {
				// The root got new subdirectories (fsynced before the
				// copy) and the file top (fsynced after it); b holds no
				// file but got the new subdirectory c; empty holds
				// nothing. Each is fsynced once more with its mode and
				// mtime at the end.
				want := map[string]int{d: 3, filepath.Join(d, "a"): 2, filepath.Join(d, "b"): 2, filepath.Join(d, "b", "c"): 2, filepath.Join(d, "empty"): 1}
				for dir, n := range want {
					if calls[dir] != n {
						t.Errorf("%s fsynced %d times, want %d (all: %v)", dir, calls[dir], n, calls)
					}
				}
			}

			calls = map[string]int{}
			if code, _, stderr := runCLI(t, "--engine", eng, "--no-fsync", src, filepath.Join(out, "n1")); code != ExitOK || len(calls) != 0 {
				t.Errorf("--no-fsync: exit %d, directory fsyncs %v: %s", code, calls, stderr)
			}

			calls = map[string]int{}
			single := filepath.Join(out, "single")
			if code, _, stderr := runCLI(t, "--engine", eng, filepath.Join(src, "top"), single); code != ExitOK || len(calls) != 0 {
				t.Errorf("file source: exit %d, fsyncs through the seam %v (want the commit's own): %s", code, calls, stderr)
			}
			calls = map[string]int{}
			if code, _, stderr := runCLI(t, "--engine", eng, "--mkpath", filepath.Join(src, "top"), filepath.Join(out, "new", "deeper")+"/"); code != ExitOK || calls[out] != 1 || calls[filepath.Join(out, "new")] != 1 {
				t.Errorf("file source into new directories: exit %d, fsyncs %v, want one of each new directory's parent: %s", code, calls, stderr)
			}

			calls = map[string]int{}
			f1, f2 := filepath.Join(out, "f1"), filepath.Join(out, "f2")
			failDir = filepath.Join(f2, "a")
			code, stdout, stderr := runCLI(t, "--engine", eng, "--json", src, f1, f2)
			if code != ExitFailure {
				t.Fatalf("failing fsync of %s: exit %d, want %d: %s", failDir, code, ExitFailure, stderr)
			}
			if !strings.Contains(stdout, "are not durable") || !strings.Contains(stdout, "input/output error") {
				t.Errorf("no error event naming the directory fsync:\n%s", stdout)
			}
			var sum struct {
				FilesFailed int `json:"files_failed"`
			}
			for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
				if strings.Contains(line, `"event":"summary"`) {
					if err := json.Unmarshal([]byte(line), &sum); err != nil {
						t.Fatal(err)
					}
				}
			}
			if sum.FilesFailed != 5 {
				t.Errorf("summary: %d files failed, want the 5 in a/", sum.FilesFailed)
			}
			// Once for its files, once for its mode and mtime.
			if calls[failDir] != 2 {
				t.Errorf("%s fsynced %d times, want 2", failDir, calls[failDir])
			}
		})
	}
}

// syncTestFiles is the tree of TestTreeDirSync and TestTreeSyncFS: files
// in a directory, in a nested one, and at the root.
func syncTestFiles() map[string]string {
	files := map[string]string{"top": "top"}
	for i := range 5 {
		files[fmt.Sprintf("a/f%d", i)] = strings.Repeat("a", i*100)
		files[fmt.Sprintf("b/c/g%d", i)] = strings.Repeat("b", i*7+1)
	}
	return files
}
