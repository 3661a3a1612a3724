package command

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cvv-project/cvv/cmd/internal/plan"
	"github.com/cvv-project/cvv/internal/atomicfile"
)

// TestTreeSyncFS: where a destination's filesystem is trusted to make
// names durable with syncfs (plan.DestFS.SyncFS: forced here, whatever
// the temporary directory's filesystem), a tree copy makes them durable
// with a few syncfs calls shared by its directories instead of a fsync of
// each; the directories are still fsynced at the end with their mode and
// mtime. A failing syncfs fails every file on that destination only, and
// once one failed every later one counts as failed (a syncfs reports a
// lost write once per descriptor): files whose reports wait on a later
// syncfs that succeeds fail too.
func TestTreeSyncFS(t *testing.T) {
	files := syncTestFiles()
	var mu sync.Mutex
	var dirCalls, fsCalls map[string]int
	var failFS string
	var failCall int // the syncfs call of failFS that fails, 0 for all
	syncDir = func(d *atomicfile.Dir) error {
		mu.Lock()
		dirCalls[d.Path()]++
		mu.Unlock()
		return d.Sync()
	}
	trustSyncFS(t, func(path string) bool {
		mu.Lock()
		defer mu.Unlock()
		fsCalls[path]++
		return path == failFS && (failCall == 0 || fsCalls[path] == failCall)
	})
	t.Cleanup(func() { syncDir = (*atomicfile.Dir).Sync })
	for _, eng := range testEngines(t) {
		t.Run(eng, func(t *testing.T) {
			src := footage(t, files, "empty")
			out := t.TempDir()
			d1, d2 := filepath.Join(out, "d1"), filepath.Join(out, "d2")
			dirCalls, fsCalls, failFS = map[string]int{}, map[string]int{}, ""
			if code, _, stderr := runCLI(t, "--engine", eng, "-j", "3", src, d1, d2); code != ExitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			for _, d := range []string{d1, d2} {
				// One syncfs for the new subdirectories, then one per
				// file's data at most and one per batch of names at
				// most (a, b/c and the root's top), shared where they
				// wait at once, and the last one (TestSyncFSLast).
				if n := fsCalls[d]; n < 3 || n > len(files)+5 {
					t.Errorf("%s: %d syncfs calls, want 3 to %d (all: %v)", d, n, len(files)+5, fsCalls)
				}
				// Each directory is fsynced once, at the end, with its mode
				// and mtime.
				for _, dir := range []string{d, filepath.Join(d, "a"), filepath.Join(d, "b"), filepath.Join(d, "b", "c"), filepath.Join(d, "empty")} {
					if dirCalls[dir] != 1 {
						t.Errorf("%s fsynced %d times, want 1 (all: %v)", dir, dirCalls[dir], dirCalls)
					}
				}
			}
			for _, fc := range []int{0, 2} {
				f1, f2 := filepath.Join(out, fmt.Sprintf("f1-%d", fc)), filepath.Join(out, fmt.Sprintf("f2-%d", fc))
				fsCalls, dirCalls, failFS, failCall = map[string]int{}, map[string]int{}, f2, fc
				code, stdout, stderr := runCLI(t, "--engine", eng, "--json", src, f1, f2)
				if code != ExitFailure {
					t.Fatalf("failing syncfs %d of %s: exit %d, want %d: %s", fc, f2, code, ExitFailure, stderr)
				}
				checkFailedSyncFS(t, fmt.Sprintf("syncfs %d of %s failing", fc, f2), stdout, files, f1, f2)
			}
		})
	}
}

// trustSyncFS makes every destination's filesystem trusted for syncfs
// (the DetectFS seam, whatever the temporary directory's filesystem) and
// each syncfs of a destination root fail with EIO where fail says, until
// the end of the test.
func trustSyncFS(t *testing.T, fail func(root string) bool) {
	syncFS = func(d *atomicfile.Dir) error {
		if fail(d.Path()) {
			return &os.PathError{Op: "syncfs", Path: d.Path(), Err: syscall.EIO}
		}
		return d.SyncFS()
	}
	detectFS = func(path string) (plan.DestFS, error) {
		d, err := plan.DetectFS(path)
		d.SyncFS = true
		return d, err
	}
	t.Cleanup(func() { syncFS, detectFS = (*atomicfile.Dir).SyncFS, plan.DetectFS })
}

// checkFailedSyncFS checks a run of TestTreeSyncFS where a syncfs of its
// second destination (root failed) failed: an error event names
// it, every file failed there (the first syncfs, of the new directories,
// is before any file; every file's data waits on a later one), none of
// them was renamed into place there (its data was never made durable),
// and the first destination holds them all.
func checkFailedSyncFS(t *testing.T, what, stdout string, files map[string]string, ok, failed string) {
	t.Helper()
	if !strings.Contains(stdout, "syncfs") || !strings.Contains(stdout, "input/output error") {
		t.Errorf("%s: no error event naming the syncfs:\n%s", what, stdout)
	}
	for rel := range files {
		if _, err := os.Lstat(filepath.Join(failed, rel)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: %s is in place on the destination whose syncfs failed (%v): renamed before its data was durable", what, rel, err)
		}
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
	if sum.FilesFailed != len(files) {
		t.Errorf("%s: summary: %d files failed, want %d", what, sum.FilesFailed, len(files))
	}
	for rel, data := range files {
		if b, err := os.ReadFile(filepath.Join(ok, rel)); err != nil || string(b) != data {
			t.Errorf("%s: %s on the other destination: %v, or not the source", what, rel, err)
		}
	}
}

// TestSyncFSLast: what a run writes into a destination after its files
// (hash lists, directory modes and mtimes, a single file's name) rests on
// directory fsyncs, which need not report a lost write on xfs or ext4.
// Where the destination is trusted for syncfs, one last syncfs of it
// checks them all, and the run fails if it fails. Before, a single-file
// copy and the end of a tree copy made no syncfs at all, and the run said
// all was well over a filesystem that had lost a write.
func TestSyncFSLast(t *testing.T) {
	files := map[string]string{"a/f": "a file", "b/g": "another"}
	var mu sync.Mutex
	var calls int
	failAfter := -1 // calls on the failing destination that succeed; -1: none fails
	var failDest string
	// failOnce, if set, fails the syncfs calls once it exists: a tree's
	// hash list, written after every file was reported. How many syncfs
	// calls a tree's files make depends on how their data syncs group.
	var failOnce string
	trustSyncFS(t, func(path string) bool {
		mu.Lock()
		defer mu.Unlock()
		if failDest == "" || !strings.HasPrefix(path, failDest) {
			return false
		}
		calls++
		if failOnce != "" {
			_, err := os.Lstat(failOnce)
			return err == nil
		}
		return failAfter >= 0 && calls > failAfter
	})
	for _, eng := range testEngines(t) {
		t.Run(eng, func(t *testing.T) {
			src := footage(t, files)
			single := filepath.Join(src, "a", "f")
			for _, tc := range []struct {
				name string
				src  string
				args []string
				sums string // the hash list, written after the files
			}{
				{"file", single, nil, ""},
				{"tree", src, []string{"--hash-file", "sums"}, "copy.xxh3"},
			} {
				// A clean run counts the syncfs calls on the destination;
				// a second run into a new one fails only the call after.
				// (Calls are matched by directory: a file's root is the
				// one it is copied into.)
				failDest, calls, failAfter, failOnce = t.TempDir(), 0, -1, ""
				args := append(append([]string{"--engine", eng, "--json"}, tc.args...), tc.src, filepath.Join(failDest, "copy"))
				if code, _, stderr := runCLI(t, args...); code != ExitOK {
					t.Fatalf("%s: clean run: exit %d: %s", tc.name, code, stderr)
				}
				n := calls
				failDest, calls, failAfter = t.TempDir(), 0, n-1
				if tc.sums != "" {
					failOnce = filepath.Join(failDest, "copy", tc.sums)
				}
				args[len(args)-1] = filepath.Join(failDest, "copy")
				code, stdout, _ := runCLI(t, args...)
				if code != ExitFailure || !strings.Contains(stdout, "may not be durable") {
					t.Errorf("%s: the last of %d syncfs calls failing: exit %d, want %d with an error naming it:\n%s",
						tc.name, n, code, ExitFailure, stdout)
				}
			}
		})
	}
}

// TestSyncFSWaitersShareIt: by default a file whose data waits for a
// syncfs gives up its place among the 16 jobs, so that more files wait
// for each syncfs than there are jobs: 480 files and a syncfs that takes
// 50 ms need fewer than the 30 calls 16 files at a time would at best
// (in fact 65: a job's next file misses the syncfs its last one waited
// for). With 16 jobs copying and 112 waiting it is 13. In full mode a
// waiting file takes a place again to verify. The copies are all there.
// (An explicit --jobs is every file in flight: TestCLIDiskFullMidCopy
// relies on -j 1.)
func TestSyncFSWaitersShareIt(t *testing.T) {
	files := map[string]string{}
	for i := range 480 {
		files[fmt.Sprintf("d/f%02d", i)] = strings.Repeat("x", i)
	}
	var mu sync.Mutex
	calls := map[string]int{}
	trustSyncFS(t, func(path string) bool {
		mu.Lock()
		calls[path]++
		mu.Unlock()
		time.Sleep(50 * time.Millisecond)
		return false
	})
	src := footage(t, files)
	for _, eng := range testEngines(t) {
		for _, mode := range []string{"transfer", "full"} {
			t.Run(eng+"/"+mode, func(t *testing.T) {
				syncFSWaiters(t, eng, mode, src, files, calls, &mu)
			})
		}
	}
}

// syncFSWaiters is TestSyncFSWaitersShareIt with one engine and mode.
func syncFSWaiters(t *testing.T, eng, mode, src string, files map[string]string, calls map[string]int, mu *sync.Mutex) {
	dst := filepath.Join(t.TempDir(), "d1")
	mu.Lock()
	clear(calls)
	mu.Unlock()
	if code, _, stderr := runCLI(t, "--engine", eng, "-m", mode, src, dst); code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	// The new directory, the data of the files, their names (shared with
	// the data's), the last one.
	mu.Lock()
	n := calls[dst]
	mu.Unlock()
	if n >= len(files)/16 {
		t.Errorf("%d syncfs calls for %d files, want fewer than %d: the files waiting hold the jobs' places", n, len(files), len(files)/16)
	}
	for rel, data := range files {
		if b, err := os.ReadFile(filepath.Join(dst, rel)); err != nil || string(b) != data {
			t.Errorf("%s: %v, or not the source", rel, err)
		}
	}
}
