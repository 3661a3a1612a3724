package uring_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/uring"
)

// TestMetaRescue: a metadata operation the kernel keeps queued without
// starting it is taken back and run directly, not waited for forever.
//
// The ring's io-wq worker pools are limited to one worker each. A fallocate
// on a frozen ext4 holds that worker until the thaw, so a statx submitted
// with it (same call, same pool) queues behind it and does not start: the
// state seen in the field, where a pool kept operations queued while its
// workers slept and every copy waited. Before, the call waited for both
// until the thaw. Now, after the grace, the statx is cancelled and run
// directly while the fallocate, which has started, is left to finish.
//
// It runs in a child process of its own: the kernel keeps one worker pool
// per thread, shared by every ring the thread uses, and a thread that
// served earlier tests may have idle workers past the limit.
func TestMetaRescue(t *testing.T) {
	if os.Getenv(rescueChildEnv) != "" {
		t.Skip("in the child")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestMetaRescueChild$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), rescueChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	if strings.Contains(string(out), "--- SKIP: TestMetaRescueChild") {
		t.Skipf("child skipped:\n%s", out)
	}
	if err != nil || !strings.Contains(string(out), "--- PASS: TestMetaRescueChild") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

const rescueChildEnv = "CVV_TEST_META_RESCUE_CHILD"

// TestMetaRescueChild is TestMetaRescue's child.
func TestMetaRescueChild(t *testing.T) {
	if os.Getenv(rescueChildEnv) == "" {
		t.Skip("runs only as TestMetaRescue's child")
	}
	mnt := ext4Mount(t)
	e := newEngine(t, cvv.Options{BlockSize: 256 << 10, QueueDepth: 4})
	if err := e.LimitWorkers(1); err != nil {
		t.Skipf("cannot limit io-wq workers: %v", err)
	}
	defer uring.SetMetaGrace(200 * time.Millisecond)()
	f, err := os.Create(filepath.Join(mnt, "held"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g, err := os.Create(filepath.Join(t.TempDir(), "queued"))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if _, err := g.WriteString("seven b"); err != nil {
		t.Fatal(err)
	}
	freeze(t, mnt, "-f")
	thawed := false
	defer func() {
		if !thawed {
			freeze(t, mnt, "-u")
		}
	}()
	var stx unix.Statx_t
	type outcome struct {
		res []int
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := e.FallocateAndStat(f, g, 1<<20, &stx)
		done <- outcome{res, err}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for e.MetaRescued() == 0 {
		select {
		case o := <-done:
			t.Fatalf("the call returned while the filesystem was frozen: %+v", o)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the queued statx was not taken back in 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case o := <-done:
		t.Fatalf("the call returned before the fallocate could finish: %+v", o)
	case <-time.After(300 * time.Millisecond):
	}
	freeze(t, mnt, "-u")
	thawed = true
	var o outcome
	select {
	case o = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the call did not return after the thaw")
	}
	if o.err != nil || len(o.res) != 2 || o.res[0] != 0 || o.res[1] != 0 {
		t.Fatalf("results %v, %v; want [0 0]", o.res, o.err)
	}
	if stx.Size != 7 {
		t.Errorf("statx size %d, want 7", stx.Size)
	}
	if fi, err := f.Stat(); err != nil || fi.Size() != 1<<20 {
		t.Errorf("fallocate: size %v, %v; want %d", fi.Size(), err, 1<<20)
	}
	if n := e.MetaRescued(); n != 1 {
		t.Errorf("%d operations taken back, want 1 (the statx)", n)
	}
}

// ext4Mount mounts a new 64 MiB ext4 through a loop device and returns its
// root; it is unmounted at the end of the test.
func ext4Mount(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("mounting needs root (euid %d)", os.Geteuid())
	}
	for _, tool := range []string{"mkfs.ext4", "fsfreeze"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s missing in CI: %v", tool, err)
			}
			t.Skipf("%s missing: %v", tool, err)
		}
	}
	dir := t.TempDir()
	img, mnt := filepath.Join(dir, "img"), filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, "truncate", "-s", "64M", img)
	run(t, "mkfs.ext4", "-q", "-F", img)
	run(t, "mount", "-o", "loop", img, mnt)
	t.Cleanup(func() { unmount(t, mnt) })
	return mnt
}

// unmount unmounts mnt, waiting while it is busy. The fallocate ran on an
// io-wq worker, and the kernel can drop that worker's reference to the file
// after the completion has been posted and the ring closed: on a loaded
// machine umount then fails with "target is busy" for a moment (seen once in
// CI). A mount still busy after 30 s is an error, and is detached so that the
// test's temporary directory can be removed.
func unmount(t *testing.T, mnt string) {
	t.Helper()
	start := time.Now()
	for busy := false; ; busy = true {
		err := unix.Unmount(mnt, 0)
		if err == nil {
			if busy {
				d := time.Since(start)
				t.Logf("umount %s: busy for %v after the test", mnt, d.Round(time.Millisecond))
			}
			return
		}
		if err != unix.EBUSY {
			t.Errorf("umount %s: %v", mnt, err)
			return
		}
		if time.Since(start) > 30*time.Second {
			t.Errorf("umount %s: still busy after 30 s; detaching it", mnt)
			_ = unix.Unmount(mnt, unix.MNT_DETACH)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freeze runs fsfreeze with flag (-f or -u) on mnt.
func freeze(t *testing.T, mnt, flag string) {
	t.Helper()
	run(t, "fsfreeze", flag, mnt)
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}
