package faults

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cvv-project/cvv/internal/atomicfile"
)

// The cvv binary built with -tags testhooks by TestMain, or why it could not
// be built (tests that need it fail with that reason).
var (
	cvvBinary   string
	cvvBuildErr error
)

// fullRun reports whether the long trials run: set CVV_FAULTS=full
// (make test-faults does).
func fullRun() bool { return os.Getenv("CVV_FAULTS") == "full" }

func TestMain(m *testing.M) {
	if cfg := os.Getenv(ServeEnv); cfg != "" {
		// This process is the server of an ErrorFS (see StartErrorFS).
		if err := ServeErrorFS(cfg); err != nil {
			fmt.Fprintln(os.Stderr, "errorfs:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if cfg := os.Getenv(PowerServeEnv); cfg != "" {
		// This process is the server of a PowerFS (see StartPowerFS).
		if err := ServePowerFS(cfg); err != nil {
			fmt.Fprintln(os.Stderr, "powerfs:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if cfg := os.Getenv(BlockServeEnv); cfg != "" {
		// This process is the server of a BlockFS (see StartBlockFS).
		if err := ServeBlockFS(cfg); err != nil {
			fmt.Fprintln(os.Stderr, "blockfs:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "cvv-faults-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	defer removeBlockTemplates()
	cvvBinary, cvvBuildErr = buildCVV(dir)
	return m.Run()
}

func buildCVV(dir string) (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	bin := filepath.Join(dir, "cvv")
	cmd := exec.Command("go", "build", "-tags", "testhooks", "-o", bin, "./cmd/cvv")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOFLAGS=-ldflags=-checklinkname=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build -tags testhooks ./cmd/cvv: %v\n%s", err, out)
	}
	return bin, nil
}

// cvvBin returns the path of the test binary or fails the test.
func cvvBin(t testing.TB) string {
	t.Helper()
	if cvvBuildErr != nil {
		t.Fatalf("cvv binary: %v", cvvBuildErr)
	}
	return cvvBinary
}

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("needs root (mounts, FUSE); running as uid %d", os.Geteuid())
	}
}

func requireFUSE(t testing.TB) {
	t.Helper()
	requireRoot(t)
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skipf("needs /dev/fuse: %v", err)
	}
}

// runResult is the outcome of one run of the binary.
type runResult struct {
	Args           []string
	Stdout, Stderr string
	Code           int
	MaxRSS         int64 // bytes
	Elapsed        time.Duration
}

func (r *runResult) String() string {
	return fmt.Sprintf("cvv %q: exit %d\nstdout:\n%s\nstderr:\n%s", r.Args, r.Code, r.Stdout, r.Stderr)
}

// runOpts tune one run.
type runOpts struct {
	Env     []string
	Timeout time.Duration
	Dir     string
	Cred    *syscall.Credential
}

// runCVV runs the binary to completion.
func runCVV(t testing.TB, o runOpts, args ...string) *runResult {
	t.Helper()
	cmd := cvvCmd(t, o, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := &runResult{Args: args, Stdout: stdout.String(), Stderr: stderr.String(), Elapsed: time.Since(start)}
	finishResult(t, r, cmd, err)
	return r
}

func cvvCmd(t testing.TB, o runOpts, args ...string) *exec.Cmd {
	t.Helper()
	timeout := o.Timeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, cvvBin(t), args...)
	cmd.Env = append(os.Environ(), o.Env...)
	cmd.Dir = o.Dir
	if o.Cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: o.Cred}
	}
	return cmd
}

func finishResult(t testing.TB, r *runResult, cmd *exec.Cmd, err error) {
	t.Helper()
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			r.MaxRSS = ru.Maxrss * 1024
		}
		r.Code = cmd.ProcessState.ExitCode()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			r.Code = 128 + int(ws.Signal())
		}
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run cvv %q: %v", r.Args, err)
	}
}

// writeRandom writes size pseudo-random bytes (seeded) to path.
func writeRandom(t testing.TB, path string, size int64, seed uint64) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	buf := make([]byte, 1<<20)
	for left := size; left > 0; {
		n := int64(len(buf))
		if n > left {
			n = left
		}
		for i := 0; i < int(n); i += 8 {
			v := r.Uint64()
			for j := 0; j < 8 && i+j < int(n); j++ {
				buf[i+j] = byte(v >> (8 * j))
			}
		}
		if _, err := f.Write(buf[:n]); err != nil {
			t.Fatal(err)
		}
		left -= n
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// fileHash returns the sha256 of path's contents.
func fileHash(t testing.TB, path string) string {
	t.Helper()
	h, err := hashFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// treeFiles maps the slash-separated relative path of every regular file
// under root to its sha256.
func treeFiles(t testing.TB, root string) map[string]string {
	t.Helper()
	m := map[string]string{}
	if _, err := os.Lstat(root); errors.Is(err, fs.ErrNotExist) {
		return m // a destination not created yet holds no files
	}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		h, err := hashFile(p)
		if err != nil {
			return err
		}
		m[filepath.ToSlash(rel)] = h
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// tempFiles lists the cvv temp files under root.
func tempFiles(t testing.TB, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if atomicfile.IsTempName(d.Name()) {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkFinalFiles fails the test if a file under dst (that is not a temp
// file) differs from the file of the same relative path in want. Files
// missing under dst are fine: an interrupted run may not have reached them.
// It returns the number of final files found.
func checkFinalFiles(t testing.TB, want map[string]string, dst string) int {
	t.Helper()
	got := treeFiles(t, dst)
	n := 0
	for rel, h := range got {
		if atomicfile.IsTempName(filepath.Base(rel)) {
			continue
		}
		w, ok := want[rel]
		if !ok {
			t.Errorf("%s: unexpected file %s", dst, rel)
			continue
		}
		if h != w {
			t.Errorf("%s: final file %s differs from the source", dst, rel)
		}
		n++
	}
	return n
}

// checkComplete fails the test unless dst holds exactly want, with no temp
// files.
func checkComplete(t testing.TB, want map[string]string, dst string) {
	t.Helper()
	got := treeFiles(t, dst)
	for rel, w := range want {
		h, ok := got[rel]
		switch {
		case !ok:
			t.Errorf("%s: missing %s", dst, rel)
		case h != w:
			t.Errorf("%s: %s differs from the source", dst, rel)
		}
	}
	for rel := range got {
		if _, ok := want[rel]; !ok {
			t.Errorf("%s: unexpected file %s", dst, rel)
		}
	}
}

// snapshot describes every entry under root (type, mode, size, mtime, hash
// of regular files, symlink targets), to prove a run changed nothing.
func snapshot(t testing.TB, root string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		desc := fmt.Sprintf("%v %d", fi.Mode(), fi.Size())
		switch {
		case fi.Mode().IsRegular():
			h, err := hashFile(p)
			if err != nil {
				return err
			}
			desc += " " + fi.ModTime().String() + " " + h
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			desc += " -> " + target
		}
		m[p] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func diffSnapshots(before, after map[string]string) []string {
	var diffs []string
	for p, b := range before {
		a, ok := after[p]
		switch {
		case !ok:
			diffs = append(diffs, "removed: "+p)
		case a != b:
			diffs = append(diffs, fmt.Sprintf("changed: %s: %s -> %s", p, b, a))
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			diffs = append(diffs, "created: "+p)
		}
	}
	sort.Strings(diffs)
	return diffs
}

// mkdirs creates dirs and returns them.
func mkdirs(t testing.TB, dirs ...string) []string {
	t.Helper()
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dirs
}

// mountTmpfs mounts a tmpfs of size bytes on a new directory and unmounts
// it at cleanup.
func mountTmpfs(t testing.TB, size int64) string {
	t.Helper()
	requireRoot(t)
	dir := t.TempDir()
	if err := MountTmpfs(dir, size); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := Unmount(dir); err != nil {
			t.Error(err)
		}
	})
	return dir
}

// mountErrorFS mounts an ErrorFS over a new backing directory and unmounts
// it at cleanup.
func mountErrorFS(t testing.TB, opts ErrorFSOptions) *ErrorFS {
	t.Helper()
	requireFUSE(t)
	backing := filepath.Join(t.TempDir(), "backing")
	mkdirs(t, backing)
	return mountErrorFSOn(t, backing, opts)
}

// mountErrorFSOn mounts an ErrorFS over backing, an existing directory, and
// unmounts it at cleanup.
func mountErrorFSOn(t testing.TB, backing string, opts ErrorFSOptions) *ErrorFS {
	t.Helper()
	requireFUSE(t)
	mnt := filepath.Join(t.TempDir(), "mnt")
	mkdirs(t, mnt)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	e, err := StartErrorFS(exe, backing, mnt, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Unmount(); err != nil {
			t.Error(err)
		}
	})
	return e
}
