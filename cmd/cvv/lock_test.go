//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Issue 9: a second run into a destination removed the first run's temp
// files when it started, and the first failed ("chtimes ...partial: no such
// file or directory"). A second run now stops at once, naming the
// destination and the first run's PID; with --wait it waits its turn.
func TestOneRunPerDestination(t *testing.T) {
	eng := engines(t)[0]
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	makeBig(t, filepath.Join(src, "big.mov"), bigSize())
	for i, name := range []string{"dst", "dst2"} {
		dst := filepath.Join(dir, name)
		if err := os.Mkdir(dst, 0o755); err != nil {
			t.Fatal(err)
		}
		first := cvvCommand(eng, "--block-size", "256K", "-q", src, dst)
		var out1 bytes.Buffer
		first.Stdout, first.Stderr = &out1, &out1
		if err := first.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		var err1 error
		go func() { err1 = first.Wait(); close(exited) }()
		if !waitTemp(t, dst, exited) {
			t.Fatalf("the first run finished before the second started:\n%s", out1.String())
		}
		args := []string{"-q", src, dst}
		if i == 1 {
			args = append([]string{"--wait"}, args...)
		}
		second := exec.Command("cvv", args...)
		second.Env = append(os.Environ(), "CVV_ENGINE="+eng)
		start := time.Now()
		out2, err2 := second.CombinedOutput()
		took := time.Since(start)
		if i == 0 {
			// cvv verify, which records a generation in the tree, keeps
			// out too.
			v := exec.Command("cvv", "verify", dst)
			v.Env = second.Env
			out, err := v.CombinedOutput()
			if !errors.As(err, new(*exec.ExitError)) || !bytes.Contains(out, []byte("is in use by another cvv run (pid ")) {
				t.Errorf("cvv verify during the copy: %v\n%s", err, out)
			}
		}
		<-exited
		if err1 != nil {
			t.Fatalf("first run: %v\n%s", err1, out1.String())
		}
		var ee *exec.ExitError
		switch {
		case i == 0 && (!errors.As(err2, &ee) || ee.ExitCode() != 2):
			t.Fatalf("second run: %v, want exit status 2\n%s", err2, out2)
		case i == 0 && took > 5*time.Second:
			t.Errorf("the refusal took %v, want at once", took)
		case i == 1 && err2 != nil:
			t.Fatalf("second run with --wait: %v\n%s", err2, out2)
		}
		want := fmt.Sprintf("destination %s is in use by another cvv run (pid %d)", dst, first.Process.Pid)
		if !bytes.Contains(out2, []byte(want)) {
			t.Errorf("second run says:\n%s\nwant it to contain %q", out2, want)
		}
		if !sameFile(t, filepath.Join(src, "big.mov"), filepath.Join(dst, "big.mov")) {
			t.Errorf("%s/big.mov is not a copy of the source", dst)
		}
		if tmp := temps(dst); len(tmp) > 0 {
			t.Errorf("temp files left: %q", tmp)
		}
	}
}
