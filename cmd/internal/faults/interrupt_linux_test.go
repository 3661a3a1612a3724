package faults

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/cvv-project/cvv/internal/atomicfile"
)

// interruptTrials runs cvv over a tree of large and small files and sends
// sig at a random moment, until trials runs were really interrupted (runs
// that finish before the signal do not count; at most 2*trials runs). After
// each run no file under a
// final name may differ from the source, the exit status must be 128+sig
// (or 0 if the run finished first) within a second of the signal, and
// running the same command again must complete and verify everything and
// leave no temp file.
func interruptTrials(t *testing.T, sig syscall.Signal, trials int) {
	interruptTrialsIn(t, workDir(t, 512<<20), sig, trials)
}

// interruptTrialsIn is interruptTrials in the directory work.
func interruptTrialsIn(t *testing.T, work string, sig syscall.Signal, trials int) {
	src := filepath.Join(work, "src")
	want := buildTree(t, src, treeSpec{Large: 3, LargeSize: 6 << 20, Small: 40})
	varyAttrs(t, src)

	// Baseline: the fastest of three uninterrupted runs (the machine is
	// shared; a slow outlier would put most signals after the end). The
	// copy is throttled a little per block so that a run lasts long enough
	// for the signal to land anywhere in it.
	env := []string{"CVV_TEST_THROTTLE=3ms"}
	var span time.Duration
	for i := range 3 {
		base := filepath.Join(work, "baseline")
		r := runCVV(t, runOpts{Env: env}, "--mkpath", src, base+"/a", base+"/b")
		if r.Code != 0 {
			t.Fatalf("baseline run failed: %v", r)
		}
		checkComplete(t, want, base+"/a")
		checkComplete(t, want, base+"/b")
		if i == 0 || r.Elapsed < span {
			span = r.Elapsed
		}
		if err := os.RemoveAll(base); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("one run takes %v; signals land in [0, %v)", span, span*9/10)

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(sig)))
	wantCode := 128 + int(sig)
	var hit, finished, leftTemps int
	var worstExit time.Duration
	trial := 0
	// A loaded machine makes some runs faster than the baseline, so a
	// signal can miss; allow enough attempts to reach the count anyway.
	for ; hit < trials && trial < 5*trials; trial++ {
		dst := filepath.Join(work, fmt.Sprintf("t%03d", trial))
		dests := []string{dst + "/a", dst + "/b"}
		// Vary the engine and the verification so the signal lands in
		// every phase: copy, per-file verification, a separate pass.
		args := []string{"--mkpath"}
		if trial%2 == 1 {
			args = append(args, "--engine", "fallback")
		}
		switch trial % 6 {
		case 2:
			args = append(args, "-m", "source")
		case 3:
			args = append(args, "-m", "transfer")
		case 4:
			args = append(args, "--verify-after")
		}
		args = append(args, src)
		args = append(args, dests...)
		delay := time.Duration(rng.Int64N(int64(span * 9 / 10)))

		cmd := cvvCmd(t, runOpts{Env: env}, args...)
		var out cappedBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		sent := time.Now()
		serr := cmd.Process.Signal(sig)
		// Every fifth SIGINT/SIGTERM trial sends the signal twice, as an
		// impatient user does: cvv then exits at once, leaving temp files
		// (never a wrong final file) for the re-run to remove.
		double := sig != syscall.SIGKILL && trial%5 == 4
		if double && serr == nil {
			time.Sleep(time.Millisecond)
			_ = cmd.Process.Signal(sig)
		}
		werr := cmd.Wait()
		exitAfter := time.Since(sent)
		res := &runResult{Args: args, Stdout: out.String()}
		finishResult(t, res, cmd, werr)
		switch {
		case errors.Is(serr, os.ErrProcessDone) || res.Code == 0:
			// The run ended before the signal: it must be complete.
			finished++
			for _, d := range dests {
				checkComplete(t, want, d)
				checkAttrs(t, src, d)
				if tmp := tempFiles(t, d); len(tmp) > 0 {
					t.Errorf("trial %d: exit 0 but temp files left: %q", trial, tmp)
				}
			}
		case res.Code == wantCode:
			hit++
			if exitAfter > worstExit {
				worstExit = exitAfter
			}
			if sig != syscall.SIGKILL && exitAfter > time.Second {
				t.Errorf("trial %d: exit %v after the signal (delay %v), want within 1s", trial, exitAfter, delay)
			}
		default:
			t.Errorf("trial %d (signal after %v): exit %d, want %d\n%s", trial, delay, res.Code, wantCode, res.Stdout)
		}
		var temps int
		for _, d := range dests {
			temps += len(tempFiles(t, d))
		}
		if testing.Verbose() {
			t.Logf("trial %d: %v after %v (double %v): exit %d after %v, %d temp files", trial, sig, delay, double, res.Code, exitAfter, temps)
		}
		for _, d := range dests {
			checkFinalFiles(t, want, d)
			if sig != syscall.SIGKILL && !double {
				if tmp := tempFiles(t, d); len(tmp) > 0 {
					t.Errorf("trial %d: %v left temp files: %q", trial, sig, tmp)
				}
			} else {
				leftTemps += len(tempFiles(t, d))
			}
		}

		// Finish the job.
		r := runCVV(t, runOpts{}, args...)
		if r.Code != 0 {
			t.Errorf("trial %d: re-run after %v failed: %v", trial, sig, r)
		}
		for _, d := range dests {
			checkComplete(t, want, d)
			checkAttrs(t, src, d)
			if tmp := tempFiles(t, d); len(tmp) > 0 {
				t.Errorf("trial %d: re-run left temp files: %q", trial, tmp)
			}
		}
		if t.Failed() {
			t.Fatalf("stopping after trial %d", trial)
		}
		if err := os.RemoveAll(dst); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%v: %d runs, %d interrupted (slowest exit %v after the signal), %d finished before the signal; %d stale temp files removed by re-runs",
		sig, trial, hit, worstExit, finished, leftTemps)
	if hit < trials {
		t.Errorf("only %d of %d runs were interrupted: the signal timing misses the run", hit, trial)
	}
}

func trialCount() int {
	if fullRun() {
		return 50
	}
	return 4
}

// TestInterruptSIGINT: SIGINT at random moments.
func TestInterruptSIGINT(t *testing.T) { interruptTrials(t, syscall.SIGINT, trialCount()) }

// TestInterruptSIGTERM: SIGTERM at random moments.
func TestInterruptSIGTERM(t *testing.T) { interruptTrials(t, syscall.SIGTERM, trialCount()) }

// TestCrashSIGKILL: SIGKILL at random moments; re-runs must remove the
// stale temp files and complete.
func TestCrashSIGKILL(t *testing.T) { interruptTrials(t, syscall.SIGKILL, trialCount()) }

// TestInterruptOnDisk: SIGINT and SIGKILL with source and destinations on
// the disk (ext4 under $TMPDIR), where fdatasync and the directory fsync
// take real time: the exit must still come within a second.
func TestInterruptOnDisk(t *testing.T) {
	n := 2
	if fullRun() {
		n = 15
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) { interruptTrialsIn(t, t.TempDir(), sig, n) })
	}
}

// varyAttrs gives the files and directories under root assorted modes and
// mtimes with nanoseconds, so that a copy that loses them shows.
func varyAttrs(t testing.TB, root string) {
	t.Helper()
	modes := []os.FileMode{0o600, 0o640, 0o644, 0o444, 0o755}
	base := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	var dirs []string
	i := 0
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
			return nil
		}
		i++
		mt := base.Add(time.Duration(i)*time.Hour + time.Duration(i)*123457*time.Nanosecond)
		if err := os.Chmod(p, modes[i%len(modes)]); err != nil {
			return err
		}
		return os.Chtimes(p, mt, mt)
	})
	if err != nil {
		t.Fatal(err)
	}
	// Directories last, children first: writing into one moves its mtime.
	for k, d := range slices.Backward(dirs) {
		mt := base.Add(-time.Duration(k+1)*time.Minute - time.Duration(k)*999*time.Nanosecond)
		if err := os.Chmod(d, []os.FileMode{0o755, 0o750, 0o700}[k%3]); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(d, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
}

// checkAttrs fails the test unless every file and directory under src has
// its mode and mtime under dst.
func checkAttrs(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || !(d.IsDir() || d.Type().IsRegular()) {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		sfi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		dfi, err := os.Lstat(filepath.Join(dst, rel))
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			return nil
		}
		if sfi.Mode() != dfi.Mode() || !sfi.ModTime().Equal(dfi.ModTime()) {
			t.Errorf("%s/%s: mode %v, mtime %v; source %v, %v", dst, rel, dfi.Mode(), dfi.ModTime(), sfi.Mode(), sfi.ModTime())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// cappedBuffer keeps the first 64 KiB written to it.
type cappedBuffer struct{ b []byte }

func (c *cappedBuffer) Write(p []byte) (int, error) {
	if room := 64<<10 - len(c.b); room > 0 {
		c.b = append(c.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (c *cappedBuffer) String() string { return string(c.b) }

// TestCrashDuringOverwrite: the destinations hold an older version of the
// tree; cvv replacing it is killed at random moments. Every file under its
// final name is then the old version or the new one, never a mix or a
// partial file; the re-run leaves the new version everywhere.
func TestCrashDuringOverwrite(t *testing.T) {
	trials := 10
	if fullRun() {
		trials = 50
	}
	work := workDir(t, 512<<20)
	oldSrc, src := filepath.Join(work, "old"), filepath.Join(work, "src")
	spec := treeSpec{Large: 3, LargeSize: 4 << 20, Small: 20}
	old := buildTree(t, oldSrc, spec)
	// The new version: same names and sizes, other bytes, later mtimes.
	for rel := range old {
		fi, err := os.Stat(filepath.Join(oldSrc, rel))
		if err != nil {
			t.Fatal(err)
		}
		writeRandom(t, filepath.Join(src, rel), fi.Size(), uint64(len(rel))*7919+uint64(fi.Size()))
	}
	want := treeFiles(t, src)
	env := []string{"CVV_TEST_THROTTLE=3ms"}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))
	var span time.Duration
	var hit, trial int
	// Only runs the kill lands in count; a loaded machine makes some runs
	// faster than the measured one, so allow more attempts, but require
	// the count.
	for ; hit < trials && trial < 3*trials; trial++ {
		dst := filepath.Join(work, fmt.Sprintf("t%03d", trial))
		dests := []string{dst + "/a", dst + "/b"}
		if r := runCVV(t, runOpts{}, append([]string{"-q", "--mkpath", oldSrc}, dests...)...); r.Code != 0 {
			t.Fatalf("copying the old version: %v", r)
		}
		// A different file is replaced only when asked.
		args := append([]string{"--on-conflict", "overwrite", src}, dests...)
		if span == 0 {
			// The first trial measures a full replacement.
			r := runCVV(t, runOpts{Env: env}, args...)
			if r.Code != 0 {
				t.Fatalf("replacement run: %v", r)
			}
			span = r.Elapsed
			continue
		}
		cmd := cvvCmd(t, runOpts{Env: env}, args...)
		start := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rng.Int64N(int64(span * 9 / 10))))
		_ = cmd.Process.Signal(syscall.SIGKILL)
		res := &runResult{Args: args}
		finishResult(t, res, cmd, cmd.Wait())
		if res.Code == 137 {
			hit++
		} else if elapsed := time.Since(start); elapsed < span {
			// The measured run was slow (a loaded machine): aim at the
			// fastest run seen. Before, 2 kills of 29 landed once.
			span = elapsed
		}
		for _, d := range dests {
			for rel, h := range treeFiles(t, d) {
				if atomicfile.IsTempName(filepath.Base(rel)) {
					continue
				}
				if h != want[rel] && h != old[rel] {
					t.Errorf("trial %d: %s/%s is neither the old nor the new version", trial, d, rel)
				}
			}
		}
		if r := runCVV(t, runOpts{}, args...); r.Code != 0 {
			t.Errorf("trial %d: re-run: %v", trial, r)
		}
		for _, d := range dests {
			checkComplete(t, want, d)
		}
		if t.Failed() {
			t.FailNow()
		}
		if err := os.RemoveAll(dst); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d trials, %d killed mid-run (a replacement takes %v)", trial-1, hit, span)
	if hit < trials {
		t.Errorf("only %d of %d runs were killed before they ended: the kills miss the replacement", hit, trial-1)
	}
}
