package faults

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// makeScaleTree creates n empty files below root in the shape of a real
// archive: 100 to 1000 entries per directory, a few subdirectories in
// each, at most 8 levels deep. The same n gives the same tree.
func makeScaleTree(t testing.TB, root string, n int) {
	t.Helper()
	r := rand.New(rand.NewPCG(uint64(n), 13))
	made := 0
	var fill func(dir string, depth int)
	fill = func(dir string, depth int) {
		if made >= n {
			return
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		entries, subdirs := 100+r.IntN(901), 0
		if depth < 8 {
			subdirs = 1 + r.IntN(4)
		}
		for i := 0; i < entries-subdirs && made < n; i++ {
			f, err := os.Create(filepath.Join(dir, fmt.Sprintf("f%04d.dat", i)))
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			made++
		}
		for i := range subdirs {
			fill(filepath.Join(dir, fmt.Sprintf("d%d", i)), depth+1)
		}
	}
	for k := 0; made < n; k++ {
		fill(filepath.Join(root, fmt.Sprintf("top%d", k)), 1)
	}
}

// timedRSS runs cvv with args under /usr/bin/time, stdout discarded, and
// returns its exit status, its peak RSS in bytes and its wall time. The
// rusage of a direct child is no measure (see childPeakRSS): time is a
// small process of its own.
func timedRSS(t *testing.T, timeout time.Duration, args ...string) (code int, rss int64, wall time.Duration) {
	t.Helper()
	tm, err := exec.LookPath("/usr/bin/time")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("/usr/bin/time: %v (.ci/run installs it)", err)
		}
		t.Skipf("needs /usr/bin/time (GNU time) to measure a child's peak RSS: %v", err)
	}
	out := filepath.Join(t.TempDir(), "time.out")
	cmd := cvvCmd(t, runOpts{Timeout: timeout}, args...)
	cmd.Args = append([]string{tm, "-o", out, "-f", "maxrss=%M", cvvBin(t)}, args...)
	cmd.Path = tm
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	err = cmd.Run()
	wall = time.Since(start)
	if cmd.ProcessState == nil {
		t.Fatalf("cvv %q: %v", args, err)
	}
	data, rerr := os.ReadFile(out)
	_, after, ok := strings.Cut(string(data), "maxrss=")
	kib, perr := strconv.ParseInt(strings.TrimSpace(after), 10, 64)
	if rerr != nil || !ok || perr != nil {
		t.Fatalf("cvv %q: no peak RSS from /usr/bin/time (%v, %q)\nstderr:\n%s", args, rerr, data, stderr.String())
	}
	code = cmd.ProcessState.ExitCode()
	if code != 0 {
		t.Logf("cvv %q: exit %d\nstderr:\n%s", args, code, stderr.String())
	}
	return code, kib << 10, wall
}

// TestHashMemoryFlat: cvv hash streams a tree, hashing each file as the
// walk finds it, so its peak RSS does not grow with the number of files:
// a tree four times larger costs at most a few MiB more (the directory
// listings of a deeper walk, the runtime's noise), not the ~200 bytes per
// file a listed tree costs. With CVV_FAULTS=full the larger tree has a
// million files and the run must stay under 64 MiB.
func TestHashMemoryFlat(t *testing.T) {
	small, large := 10000, 40000
	if fullRun() {
		small, large = 50000, 1000000
	}
	work := workDir(t, 4<<30)
	var rss [2]int64
	for i, n := range []int{small, large} {
		src := filepath.Join(work, fmt.Sprint(n))
		makeScaleTree(t, src, n)
		code, peak, wall := timedRSS(t, 30*time.Minute, "hash", src)
		if code != 0 {
			t.Fatalf("cvv hash of %d files: exit %d", n, code)
		}
		rss[i] = peak
		t.Logf("cvv hash, %d empty files: peak RSS %.1f MiB, %v (%.0f files/s)", n, float64(peak)/(1<<20), wall.Round(time.Millisecond), float64(n)/wall.Seconds())
	}
	if growth := rss[1] - rss[0]; growth > 4<<20 {
		t.Errorf("peak RSS grew by %.1f MiB from %d to %d files: something is kept per file", float64(growth)/(1<<20), small, large)
	}
	if rss[1] > 64<<20 {
		t.Errorf("peak RSS %.1f MiB for %d files, want <= 64 MiB", float64(rss[1])/(1<<20), large)
	}
}
