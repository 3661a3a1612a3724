package command

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// treeState returns the names, kinds, sizes and contents of everything
// below dir, so a test can prove nothing there changed.
func treeState(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			out[rel] = "link " + l
		case fi.IsDir():
			out[rel] = "dir " + fi.Mode().String() + " " + fi.ModTime().String()
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = fi.Mode().String() + " " + fi.ModTime().String() + " " + string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameTree(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s changed: %q, was %q", what, k, got[k], v)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: %s appeared: %q", what, k, v)
		}
	}
}

// TestSymlinkedDirIsNotFollowed reproduces issue 9 item 6: the destination
// holds CLIP -> ../victim where the card has a CLIP directory. The files of
// CLIP fail on that destination with a line naming the link, nothing is
// written through it, the rest of the card is copied, exit 1.
func TestSymlinkedDirIsNotFollowed(t *testing.T) {
	for _, eng := range testEngines(t) {
		t.Run(eng, func(t *testing.T) {
			src := footage(t, map[string]string{
				"CLIP/C0001.MP4": "card two clip",
				"CLIP/sub/x":     "deeper",
				"AUDIO/A001.WAV": "audio",
			})
			out := t.TempDir()
			victim := filepath.Join(out, "victim")
			if err := os.MkdirAll(filepath.Join(victim, "sub"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(victim, "C0001.MP4"), []byte("someone else's clip, larger"), 0o644); err != nil {
				t.Fatal(err)
			}
			dst, other := filepath.Join(out, "dst"), filepath.Join(out, "other")
			if err := os.Mkdir(dst, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("../victim", filepath.Join(dst, "CLIP")); err != nil {
				t.Fatal(err)
			}
			before := treeState(t, victim)

			code, stdout, stderr := runCLI(t, "--engine", eng, src, dst, other)
			sameTree(t, "outside the destination", treeState(t, victim), before)
			if code != ExitFailure {
				t.Errorf("exit %d, want %d: %s%s", code, ExitFailure, stdout, stderr)
			}
			if l, err := os.Readlink(filepath.Join(dst, "CLIP")); err != nil || l != "../victim" {
				t.Errorf("the planted link was changed: %q, %v", l, err)
			}
			if !strings.Contains(stdout+stderr, "symlink") {
				t.Errorf("no line names the symlink:\n%s%s", stdout, stderr)
			}
			for _, p := range []string{filepath.Join(dst, "AUDIO", "A001.WAV"), filepath.Join(other, "CLIP", "C0001.MP4"), filepath.Join(other, "CLIP", "sub", "x")} {
				if _, err := os.Stat(p); err != nil {
					t.Errorf("the rest was not copied: %v", err)
				}
			}
		})
	}
}

// TestSymlinkSwapRace: while cvv copies a card, another process keeps
// swapping the destination's CLIP directory for a symlink to a directory
// outside the destination and back. Whatever cvv reports, nothing outside
// the destination root changes: no file written or replaced there, no
// temp file swept there, no mode or time set there.
//
// Built with -tags testhooks, a hook also plants a bad copy outside under
// the temp name of each copy before it is verified (a bait), and the rounds
// alternate transfer and full mode: a verification that read the copy by
// path while CLIP was a link would read the bait, fail, and remove it there
// as a failed copy, or set its mtime; every bait must stay as planted.
func TestSymlinkSwapRace(t *testing.T) {
	files := map[string]string{"AUDIO/A001.WAV": "audio"}
	for i := range 150 {
		files[fmt.Sprintf("CLIP/C%04d.MP4", i)] = strings.Repeat("c", i)
		files[fmt.Sprintf("CLIP/SUB/S%04d", i)] = strings.Repeat("s", i)
	}
	for _, eng := range testEngines(t) {
		t.Run(eng, func(t *testing.T) {
			src := footage(t, files)
			if err := os.Chmod(filepath.Join(src, "CLIP"), 0o750); err != nil {
				t.Fatal(err)
			}
			out := t.TempDir()
			victim, dst := filepath.Join(out, "victim"), filepath.Join(out, "dst")
			for _, d := range []string{filepath.Join(victim, "SUB"), filepath.Join(dst, "CLIP", "SUB")} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			// Same names as the card's files, and temp files that a sweep
			// led outside would remove.
			for _, p := range []string{"C0001.MP4", "SUB/S0001", ".cvv-0123456789abcdef.partial", "SUB/.cvv-0123456789abcdef.partial"} {
				if err := os.WriteFile(filepath.Join(victim, p), []byte("not yours"), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dst, "CLIP", p), []byte("stale"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			before := treeState(t, victim)
			baits := plantBaits(t, victim)
			dirTimes := map[string]time.Time{}
			for _, d := range []string{victim, filepath.Join(victim, "SUB")} {
				fi, err := os.Stat(d)
				if err != nil {
					t.Fatal(err)
				}
				dirTimes[d] = fi.ModTime()
			}
			for round := range 5 {
				stop := make(chan struct{})
				done := make(chan struct{})
				go swapForLink(filepath.Join(dst, "CLIP"), "../victim", stop, done)
				mode := []string{"transfer", "full"}[round%2]
				since := time.Now()
				code, stdout, stderr := runCLI(t, "--engine", eng, "--overwrite", "-j", "4", "--mode", mode, src, dst)
				close(stop)
				<-done
				checkBaits(t, fmt.Sprintf("round %d", round), baits, since, dirTimes)
				sameTree(t, fmt.Sprintf("round %d: outside the destination", round), treeState(t, victim), before)
				if code != ExitOK && code != ExitFailure {
					t.Errorf("round %d: exit %d: %s%s", round, code, stdout, stderr)
				}
				if t.Failed() {
					return
				}
			}
		})
	}
}

// plantBaits sets the hook that, before each verification of a file of
// CLIP (testhooks builds), writes "bait" into the matching directory of
// victim under the name of the copy's temp file, and lists it in the file
// it returns. Shell builtins only: it runs once per file.
func plantBaits(t *testing.T, victim string) string {
	log := filepath.Join(t.TempDir(), "baits")
	t.Setenv("CVV_TEST_BEFORE_VERIFY", `case "$CVV_TEST_FILE" in CLIP/*) ;; *) exit 0;; esac
r=${CVV_TEST_FILE#CLIP/}; dir=; case "$r" in */*) dir=/${r%/*};; esac
for d in $CVV_TEST_DESTS; do b="$VICTIM$dir/${d##*/}"; printf bait > "$b" && echo "$b" >> "$BAITS"; done`)
	t.Setenv("VICTIM", victim)
	t.Setenv("BAITS", log)
	return log
}

// checkBaits checks that every bait listed in the file log is as planted
// (written after since, and not given a source file's mtime since), then
// removes them all, empties the list, and gives the directories of
// dirTimes their mtimes again.
func checkBaits(t *testing.T, what, log string, since time.Time, dirTimes map[string]time.Time) {
	t.Helper()
	defer func() {
		for d, mt := range dirTimes {
			if err := os.Chtimes(d, mt, mt); err != nil {
				t.Fatal(err)
			}
		}
	}()
	b, err := os.ReadFile(log)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range strings.Fields(string(b)) {
		fi, err := os.Stat(p)
		if err != nil {
			t.Errorf("%s: a bait outside the destination is gone: %v", what, err)
			continue
		}
		if data, _ := os.ReadFile(p); string(data) != "bait" || fi.ModTime().Before(since) {
			t.Errorf("%s: a bait outside the destination changed: %q, %v (planted after %v)", what, data, fi.ModTime(), since)
		}
		os.Remove(p)
	}
	if err := os.Remove(log); err != nil {
		t.Fatal(err)
	}
}

// swapForLink keeps replacing the directory dir by a symlink to target and
// putting it back, until stop is closed; it leaves dir in place.
func swapForLink(dir, target string, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	hold := dir + ".hold"
	for {
		select {
		case <-stop:
			return
		default:
		}
		if os.Rename(dir, hold) == nil {
			os.Symlink(target, dir)
			runtime.Gosched()
			os.Remove(dir)
			os.Rename(hold, dir)
		}
		runtime.Gosched()
	}
}

// TestSymlinkSwapDecide: while cvv decides what each destination needs,
// the destination's CLIP directory is swapped for a symlink to a directory
// outside that holds the card's very files (same bytes, size and mtime).
// The old code looked at the destination's files by path: a file seen
// through the link counted as already there and was skipped, so the
// destination lacked it after a run that did not say so. Every file of
// the card is now on the destination, or named as failed.
func TestSymlinkSwapDecide(t *testing.T) {
	files := map[string]string{}
	for i := range 200 {
		files[fmt.Sprintf("CLIP/C%04d.MP4", i)] = strings.Repeat("c", i)
	}
	src := footage(t, files)
	out := t.TempDir()
	victim := filepath.Join(out, "victim")
	if err := os.Mkdir(victim, 0o755); err != nil {
		t.Fatal(err)
	}
	for rel, data := range files {
		p := filepath.Join(victim, filepath.Base(rel))
		fi, err := os.Stat(filepath.Join(src, rel))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
			t.Fatal(err)
		}
	}
	for round := range 6 {
		dst := filepath.Join(out, fmt.Sprintf("dst%d", round))
		if err := os.MkdirAll(filepath.Join(dst, "CLIP"), 0o755); err != nil {
			t.Fatal(err)
		}
		stop, done := make(chan struct{}), make(chan struct{})
		go swapForLink(filepath.Join(dst, "CLIP"), "../victim", stop, done)
		code, stdout, stderr := runCLI(t, "--mode", "transfer", src, dst)
		close(stop)
		<-done
		if code != ExitOK && code != ExitFailure {
			t.Fatalf("round %d: exit %d: %s%s", round, code, stdout, stderr)
		}
		for rel, data := range files {
			if b, err := os.ReadFile(filepath.Join(dst, rel)); err == nil && string(b) == data {
				continue
			}
			if !slices.ContainsFunc(strings.Split(stdout+stderr, "\n"), func(l string) bool {
				return strings.Contains(l, rel) && strings.Contains(l, "FAIL")
			}) {
				t.Errorf("round %d: %s is not on the destination, and no line says it failed (exit %d)", round, rel, code)
			}
		}
		if t.Failed() {
			return
		}
	}
}
