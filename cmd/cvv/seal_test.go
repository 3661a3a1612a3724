//go:build linux

package main

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// copyAtPrompt returns the file that holds the copy of a source file of
// size bytes in dir while cvv waits at its --ask prompt: the final name if
// it exists, else the one file of that size in dir (a copy not verified
// yet may wait under a temp name).
func copyAtPrompt(t *testing.T, dir, final string, size int64) string {
	t.Helper()
	if _, err := os.Lstat(final); err == nil {
		return final
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, de := range des {
		fi, err := de.Info()
		if err == nil && fi.Mode().IsRegular() && fi.Size() == size {
			found = append(found, filepath.Join(dir, de.Name()))
		}
	}
	if len(found) != 1 {
		t.Fatalf("at the prompt, %d files of %d bytes in %s: %q", len(found), size, dir, found)
	}
	return found[0]
}

// corruptKeepTime flips one byte of path and gives it the mtime of ref
// again, the way damage looks in the field (touch -r).
func corruptKeepTime(t *testing.T, path, ref string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("touch", "-r", ref, path).CombinedOutput(); err != nil {
		t.Fatalf("touch -r: %v\n%s", err, out)
	}
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestAskCorruptAtPrompt is issue 10's first reproduction: with
// --verify-after --ask, a copy damaged at the prompt (mtime kept) fails the
// verification (exit 1), and the next run must not trust it: it copies the
// file again and exits 0 with a correct copy, where cvv used to skip it by
// size and mtime and exit 0 over the bad copy.
func TestAskCorruptAtPrompt(t *testing.T) {
	for _, eng := range engines(t) {
		t.Run(eng, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "src")
			dst := filepath.Join(dir, "dst")
			if err := os.Mkdir(src, 0o755); err != nil {
				t.Fatal(err)
			}
			a := bytes.Repeat([]byte("clip A "), 10000)
			if err := os.WriteFile(filepath.Join(src, "a.mov"), a, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(src, "b.mov"), []byte("clip B"), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("cvv", "--verify-after", "--ask", src, dst)
			cmd.Env = append(os.Environ(), "CVV_ENGINE="+eng, "NO_COLOR=1")
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stdout bytes.Buffer
			cmd.Stdout = &stdout
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			prompt := make(chan string, 1)
			var errText strings.Builder // the reader's until readDone is closed
			readDone := make(chan struct{})
			go func() {
				defer close(readDone)
				br := bufio.NewReader(stderr)
				var seen bool
				for {
					s, err := br.ReadString(' ')
					errText.WriteString(s)
					if !seen && strings.Contains(errText.String(), "[Y/n]") {
						seen = true
						prompt <- errText.String()
					}
					if err != nil {
						close(prompt)
						return
					}
				}
			}()
			select {
			case _, ok := <-prompt:
				if !ok {
					t.Fatalf("cvv ended without asking")
				}
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				t.Fatal("no prompt within 30s")
			}
			final := filepath.Join(dst, "a.mov")
			corruptKeepTime(t, copyAtPrompt(t, dst, final, int64(len(a))), filepath.Join(src, "a.mov"), 1234)
			if _, err := stdin.Write([]byte("y\n")); err != nil {
				t.Fatal(err)
			}
			stdin.Close()
			// All reads from the pipe end before Wait (os/exec's rule), and
			// errText is read only after the reader is done with it.
			<-readDone
			werr := cmd.Wait()
			if code := exitCode(werr); code != 1 {
				t.Fatalf("exit %d after a damaged copy was verified, want 1\n%s%s", code, stdout.String(), errText.String())
			}
			if !strings.Contains(errText.String(), "a.mov") || !strings.Contains(errText.String(), "differs") {
				t.Errorf("the failure does not name a.mov:\n%s", errText.String())
			}
			if b, err := os.ReadFile(final); err == nil && !bytes.Equal(b, a) {
				t.Errorf("the damaged copy is left under its final name %s", final)
			}

			again := exec.Command("cvv", src, dst)
			again.Env = append(os.Environ(), "CVV_ENGINE="+eng, "NO_COLOR=1")
			out, err := again.CombinedOutput()
			if code := exitCode(err); code != 0 {
				t.Fatalf("re-run: exit %d\n%s", code, out)
			}
			if !sameFile(t, filepath.Join(src, "a.mov"), final) {
				t.Fatalf("the re-run exits 0 but %s still differs from the source:\n%s", final, out)
			}
		})
	}
}
