//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cvv-project/cvv/internal/atomicfile"
)

// bigSize is the size of the file the interruption tests copy. With the
// test seams (-tags testhooks) the copy is slowed down to last seconds, so
// a small file will do; without them the file must be large enough for the
// signal to land in the middle of the copy.
func bigSize() int64 {
	if testHooks {
		return 32 << 20
	}
	return 256 << 20
}

// cvvCommand returns an exec.Cmd running the cvv under test with engine.
func cvvCommand(engine string, args ...string) *exec.Cmd {
	cmd := exec.Command("cvv", args...)
	cmd.Env = append(os.Environ(), "CVV_ENGINE="+engine, "CVV_TEST_THROTTLE=20ms", "NO_COLOR=1")
	return cmd
}

// makeBig writes a file of n bytes of data (no holes), so that every block
// is read and written; it returns the pattern the file repeats.
func makeBig(t *testing.T, path string, n int64) []byte {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	head := bytes.Repeat([]byte("cvv interrupt test "), 4096)
	// Data all the way: the holes of a sparse file are neither read nor
	// written, and the copy would be over before a test could stop it.
	for off := int64(0); off < n; off += int64(len(head)) {
		if _, err := f.WriteAt(head[:min(int64(len(head)), n-off)], off); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.WriteAt(head, n-int64(len(head))); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return head
}

// waitTemp waits until a cvv temp file appears under dir.
func waitTemp(t *testing.T, dir string, done <-chan struct{}) bool {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if len(temps(dir)) > 0 {
			return true
		}
		select {
		case <-done:
			return false
		case <-time.After(5 * time.Millisecond):
		}
	}
	t.Fatalf("no temp file appeared under %s", dir)
	return false
}

func temps(dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && atomicfile.IsTempName(d.Name()) {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func sameFile(t *testing.T, a, b string) bool {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		return false
	}
	return bytes.Equal(x, y)
}

// TestInterrupt sends SIGINT or SIGTERM in the middle of the copy of a
// large file: cvv must exit with 130 or 143 within a second, leave no
// partial file under the final name and no temp file, and a re-run must
// complete the job.
func TestInterrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("copies a large file")
	}
	for _, eng := range engines(t) {
		for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
			t.Run(fmt.Sprintf("%s/%v", eng, sig), func(t *testing.T) {
				dir := t.TempDir()
				src := filepath.Join(dir, "src")
				if err := os.Mkdir(src, 0o755); err != nil {
					t.Fatal(err)
				}
				makeBig(t, filepath.Join(src, "big.mov"), bigSize())
				for i := range 5 {
					if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("small%d", i)), []byte(strings.Repeat("s", i*100)), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				dst := filepath.Join(dir, "dst")
				cmd := cvvCommand(eng, "--mkpath", "--block-size", "256K", "-q", src, dst+"/a", dst+"/b")
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &out
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				exited := make(chan struct{})
				var werr error
				go func() { werr = cmd.Wait(); close(exited) }()
				if !waitTemp(t, dst, exited) {
					t.Fatalf("cvv finished before it could be interrupted:\n%s", out.String())
				}
				sent := time.Now()
				if err := cmd.Process.Signal(sig); err != nil {
					t.Fatal(err)
				}
				select {
				case <-exited:
				case <-time.After(10 * time.Second):
					cmd.Process.Kill()
					<-exited
					t.Fatalf("cvv still running 10s after %v", sig)
				}
				took := time.Since(sent)
				want := 128 + int(sig)
				var ee *exec.ExitError
				if !errors.As(werr, &ee) || ee.ExitCode() != want {
					t.Fatalf("exit %v, want status %d\n%s", werr, want, out.String())
				}
				if took > time.Second {
					t.Errorf("cvv took %v to stop after %v, want at most 1s", took, sig)
				}
				t.Logf("stopped %v after %v", took, sig)
				for _, d := range []string{dst + "/a", dst + "/b"} {
					final := filepath.Join(d, "big.mov")
					if _, err := os.Stat(final); err == nil && !sameFile(t, filepath.Join(src, "big.mov"), final) {
						t.Errorf("%s exists and is not a complete copy", final)
					}
				}
				if left := temps(dst); len(left) > 0 {
					t.Errorf("temp files left after %v: %q", sig, left)
				}
				if !strings.Contains(out.String(), "cvv: interrupted by SIG") {
					t.Errorf("no interruption message naming the signal in output:\n%s", out.String())
				}

				// The same command again finishes the job.
				again := cvvCommand(eng, "-q", src, dst+"/a", dst+"/b")
				if b, err := again.CombinedOutput(); err != nil {
					t.Fatalf("re-run: %v\n%s", err, b)
				}
				for _, d := range []string{dst + "/a", dst + "/b"} {
					for _, name := range []string{"big.mov", "small0", "small4"} {
						if !sameFile(t, filepath.Join(src, name), filepath.Join(d, name)) {
							t.Errorf("after the re-run %s/%s differs from the source", d, name)
						}
					}
				}
			})
		}
	}
}

// TestKillResume kills cvv with SIGKILL in the middle of a tree copy (no
// cleanup possible): every file under a final name must still be complete,
// and a re-run must remove the temp files and finish the job.
func TestKillResume(t *testing.T) {
	if testing.Short() {
		t.Skip("copies a large file")
	}
	eng := engines(t)[len(engines(t))-1]
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(filepath.Join(src, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	makeBig(t, filepath.Join(src, "sub", "big.mov"), bigSize())
	for i := range 20 {
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("f%02d", i)), bytes.Repeat([]byte{byte(i)}, 5000+i), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dst := filepath.Join(dir, "dst")
	cmd := cvvCommand(eng, "--block-size", "256K", "-q", "--jobs", "2", src, dst)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	if !waitTemp(t, filepath.Join(dst, "sub"), exited) {
		t.Fatal("cvv finished before it could be killed")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-exited
	if len(temps(dst)) == 0 {
		t.Fatal("SIGKILL mid-copy left no temp file: the copy was not in flight")
	}
	entries, _ := filepath.Glob(filepath.Join(dst, "*"))
	for _, p := range append(entries, filepath.Join(dst, "sub", "big.mov")) {
		fi, err := os.Lstat(p)
		if err != nil || !fi.Mode().IsRegular() || atomicfile.IsTempName(fi.Name()) {
			continue
		}
		rel, _ := filepath.Rel(dst, p)
		if !sameFile(t, filepath.Join(src, rel), p) {
			t.Errorf("after SIGKILL, %s is under its final name but incomplete", rel)
		}
	}

	again := cvvCommand(eng, "--json", src, dst)
	out, err := again.Output()
	if err != nil {
		t.Fatalf("re-run after SIGKILL: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte(`"files_failed":0`)) || !bytes.Contains(out, []byte(`"ok":true`)) {
		t.Errorf("re-run summary is not clean:\n%s", out)
	}
	if left := temps(dst); len(left) > 0 {
		t.Errorf("temp files left after the re-run: %q", left)
	}
	if diffs := compareTrees(src, dst, true, false); len(diffs) > 0 {
		t.Errorf("after the re-run the copy differs:\n%s", strings.Join(diffs, "\n"))
	}
}

// TestUnreadableSourceFile: a source file that cannot be opened fails on its
// own (status 1); the rest of the tree is copied. Root reads any file, so as
// root cvv runs as the user nobody.
func TestUnreadableSourceFile(t *testing.T) {
	// Not t.TempDir: its parent is private to root, and nobody must be able
	// to reach the binary, the source and the destination.
	dir, err := os.MkdirTemp("", "cvv-unreadable")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := "cvv"
	if os.Geteuid() == 0 {
		self, err := exec.LookPath("cvv")
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(self)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(filepath.Join(dir, "bin"), 0o755); err != nil {
			t.Fatal(err)
		}
		bin = filepath.Join(dir, "bin", "cvv")
		if err := os.WriteFile(bin, data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(filepath.Join(src, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "sub/b", "sub/secret", "z"} {
		if err := os.WriteFile(filepath.Join(src, name), []byte("data of "+name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(src, "sub", "secret"), 0); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "dst")
	if err := os.Mkdir(dst, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dst, 0o777); err != nil {
		t.Fatal(err)
	}
	for _, eng := range engines(t) {
		t.Run(eng, func(t *testing.T) {
			d := filepath.Join(dst, eng)
			cmd := cvvCommand(eng, "--mkpath", src, d+"/1", d+"/2")
			cmd.Path = bin
			if os.Geteuid() == 0 {
				cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
			}
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Fatalf("exit %v, want status 1\n%s", err, out)
			}
			if !bytes.Contains(out, []byte("FAIL sub/secret: open ")) || !bytes.Contains(out, []byte("permission denied")) {
				t.Errorf("output does not name the unreadable file:\n%s", out)
			}
			for _, c := range []string{d + "/1", d + "/2"} {
				for _, name := range []string{"a", "sub/b", "z"} {
					if !sameFile(t, filepath.Join(src, name), filepath.Join(c, name)) {
						t.Errorf("%s/%s was not copied", c, name)
					}
				}
				if _, err := os.Lstat(filepath.Join(c, "sub", "secret")); err == nil {
					t.Errorf("%s/sub/secret exists", c)
				}
			}
			if left := temps(d); len(left) > 0 {
				t.Errorf("temp files left: %q", left)
			}
		})
	}
}
