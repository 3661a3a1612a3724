package uring_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/enginetest"
	"github.com/cvv-project/cvv/hashing"
	"github.com/cvv-project/cvv/uring"
)

// The tests in this file change package seams: none of them is parallel.

const testBlock = 64 << 10

// hookOnce rewrites the result of the first n completions that match.
type hookOnce struct {
	mu      sync.Mutex
	matched int
}

func (h *hookOnce) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.matched
}

func assertAbsent(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s exists after a failed copy (%v)", p, err)
		}
	}
}

func assertPoolFull(t *testing.T, e *uring.Engine) {
	t.Helper()
	if b := e.Buffers(); b.Free != b.Count {
		t.Errorf("%d of %d buffers in the pool: a buffer leaked", b.Free, b.Count)
	}
}

// TestShortTransfers makes reads and writes come back short (by an
// unaligned amount, so that O_DIRECT continuations must realign): the copy
// must still be byte-identical.
func TestShortTransfers(t *testing.T) {
	e := newEngine(t, cvv.Options{BlockSize: testBlock, QueueDepth: 4})
	var h hookOnce
	defer uring.SetCompletionHook(func(c uring.Completion) int32 {
		if c.Res >= 8192 && c.Off%(2*testBlock) == 0 {
			h.mu.Lock()
			h.matched++
			h.mu.Unlock()
			return c.Res/2 + 1
		}
		return c.Res
	})()
	data := enginetest.Data(9*testBlock+777, 3)
	src := enginetest.WriteFile(t, t.TempDir(), "src", data)
	dests := enginetest.DestPaths(t, 3, "copy")
	res, err := e.Copy(context.Background(), cvv.Job{Source: src, Dests: dests, Hash: hashing.SHA256})
	if err != nil {
		t.Fatal(err)
	}
	if h.count() == 0 {
		t.Fatal("the hook shortened nothing: the test proves nothing")
	}
	chunks := int64(10)
	if res.Stats.Reads <= chunks || res.Stats.Writes <= 3*chunks {
		t.Errorf("stats %+v: short transfers were not continued by more operations", res.Stats)
	}
	for i, d := range dests {
		if res.Dests[i].Err != nil {
			t.Errorf("dest %d: %v", i, res.Dests[i].Err)
		}
		if res.Dests[i].Bytes != int64(len(data)) {
			t.Errorf("dest %d: Bytes %d, want %d", i, res.Dests[i].Bytes, len(data))
		}
		enginetest.AssertSame(t, d, data)
	}
	if res.SourceHash != hashing.SHA256.Sum(data) {
		t.Errorf("SourceHash wrong after short reads")
	}
	enginetest.AssertNoTemps(t, dests...)
	assertPoolFull(t, e)
}

// TestPageCachePwrite copies to a page-cache destination and an O_DIRECT
// one, with the page-cache destination's first write failing with EINTR
// and some of its writes coming back short: its writes are plain pwrite
// calls (none of them a ring WRITE_FIXED, all of them seen by the
// completion hook), continued and retried like the ring's; both copies
// are intact.
func TestPageCachePwrite(t *testing.T) {
	e := newEngine(t, cvv.Options{BlockSize: testBlock, QueueDepth: 4})
	if !e.Buffers().Registered {
		t.Skipf("buffers not registered (%s): no fixed writes to tell apart", e.Buffers().Reason)
	}
	data := enginetest.Data(9*testBlock+777, 8)
	src := enginetest.WriteFile(t, t.TempDir(), "src", data)
	dests := enginetest.DestPaths(t, 2, "copy")
	var mu sync.Mutex
	writes := map[string]int{}
	defer uring.SetCompletionHook(func(c uring.Completion) int32 {
		if !c.Write {
			return c.Res
		}
		mu.Lock()
		defer mu.Unlock()
		writes[c.Path]++
		switch {
		case c.Path != dests[0]:
		case writes[c.Path] == 1:
			return -int32(syscall.EINTR)
		case c.Res >= 8192 && c.Off%(2*testBlock) == 0:
			return c.Res/2 + 1
		}
		return c.Res
	})()
	res, err := e.Copy(context.Background(), cvv.Job{Source: src, Dests: dests, Hash: hashing.XXH3,
		Write: []cvv.WritePath{cvv.WriteBuffered, cvv.WriteDirect}})
	if err != nil || res.Failed() {
		t.Fatalf("Copy: %v %+v", err, res)
	}
	for _, d := range dests {
		enginetest.AssertSame(t, d, data)
	}
	mu.Lock()
	defer mu.Unlock()
	chunks := 10
	if writes[dests[0]] <= chunks+1 {
		t.Errorf("%d writes to the page-cache destination seen: the retry and the short writes were not continued", writes[dests[0]])
	}
	if st := res.Stats; st.FixedWrites != int64(writes[dests[1]]) || st.Writes != st.FixedWrites+int64(writes[dests[0]]-1) {
		t.Errorf("stats %+v: want %d fixed writes (the O_DIRECT destination's) and %d plain ones", st, writes[dests[1]], writes[dests[0]]-1)
	}
	enginetest.AssertNoTemps(t, dests...)
	assertPoolFull(t, e)
}

// TestRetryableErrors makes the first reads and writes fail with EINTR and
// EAGAIN: they are retried.
func TestRetryableErrors(t *testing.T) {
	e := newEngine(t, cvv.Options{BlockSize: testBlock, QueueDepth: 4})
	var mu sync.Mutex
	seen := map[string]int{}
	defer uring.SetCompletionHook(func(c uring.Completion) int32 {
		mu.Lock()
		defer mu.Unlock()
		key := c.Path + map[bool]string{true: "w", false: "r"}[c.Write]
		seen[key]++
		switch seen[key] {
		case 1:
			return -int32(syscall.EINTR)
		case 2:
			return -int32(syscall.EAGAIN)
		}
		return c.Res
	})()
	data := enginetest.Data(3*testBlock+5, 4)
	src := enginetest.WriteFile(t, t.TempDir(), "src", data)
	dests := enginetest.DestPaths(t, 2, "copy")
	res, err := e.Copy(context.Background(), cvv.Job{Source: src, Dests: dests})
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range dests {
		if res.Dests[i].Err != nil {
			t.Errorf("dest %d: %v", i, res.Dests[i].Err)
		}
		enginetest.AssertSame(t, d, data)
	}
}

// TestDestinationFault fails one of three destinations mid-copy with an
// injected error: the others complete, the failed one leaves no file.
func TestDestinationFault(t *testing.T) {
	for _, tc := range []struct {
		name  string
		errno syscall.Errno
		is    error
	}{
		{"ENOSPC", syscall.ENOSPC, cvv.ErrDiskFull},
		{"EIO", syscall.EIO, syscall.EIO},
	} {
		for _, w := range []cvv.WritePath{cvv.WriteDirect, cvv.WriteBuffered} {
			t.Run(tc.name+"/"+w.String(), func(t *testing.T) { testDestinationFault(t, tc.errno, tc.is, w) })
		}
	}
}

// testDestinationFault fails the second of three destinations, written by
// path w, with errno at its fourth block.
func testDestinationFault(t *testing.T, errno syscall.Errno, is error, w cvv.WritePath) {
	e := newEngine(t, cvv.Options{BlockSize: testBlock, QueueDepth: 4})
	data := enginetest.Data(12*testBlock+100, 5)
	src := enginetest.WriteFile(t, t.TempDir(), "src", data)
	dests := enginetest.DestPaths(t, 3, "copy")
	var h hookOnce
	badWrites := 0
	defer uring.SetCompletionHook(func(c uring.Completion) int32 {
		if c.Write && c.Path == dests[1] {
			h.mu.Lock()
			defer h.mu.Unlock()
			badWrites++
			if c.Off == 3*testBlock {
				h.matched++
				return -int32(errno)
			}
		}
		return c.Res
	})()
	res, err := e.Copy(context.Background(), cvv.Job{Source: src, Dests: dests, Hash: hashing.XXH3,
		Write: []cvv.WritePath{cvv.WriteDirect, w, cvv.WriteDirect}})
	if err != nil {
		t.Fatalf("Copy: %v (one destination's failure must not fail the copy)", err)
	}
	if h.count() != 1 {
		t.Fatalf("fault injected %d times, want 1", h.count())
	}
	// Writes already in flight (queue depth 4) may complete; no
	// new ones may start after the failure.
	if badWrites > 3+4+1 {
		t.Errorf("%d writes reached the failed destination, want at most 8", badWrites)
	}
	bad := res.Dests[1]
	if !errors.Is(bad.Err, is) {
		t.Errorf("failed destination: %v, want errors.Is %v", bad.Err, is)
	}
	var pe *os.PathError
	if !errors.As(bad.Err, &pe) || pe.Op != "write" || pe.Path != dests[1] {
		t.Errorf("failed destination error %v is not a write *os.PathError on %s", bad.Err, dests[1])
	}
	if !errors.Is(bad.Err, errno) {
		t.Errorf("failed destination error %v does not wrap %v", bad.Err, errno)
	}
	if !res.Failed() {
		t.Error("Result.Failed() = false")
	}
	assertAbsent(t, dests[1])
	for _, i := range []int{0, 2} {
		if res.Dests[i].Err != nil {
			t.Errorf("healthy destination %d: %v", i, res.Dests[i].Err)
		}
		enginetest.AssertSame(t, dests[i], data)
	}
	if res.SourceHash != hashing.XXH3.Sum(data) {
		t.Error("SourceHash wrong")
	}
	enginetest.AssertNoTemps(t, dests...)
	assertPoolFull(t, e)
}

// TestSourceReadError fails a read of the source: the copy fails with the
// error, and no destination keeps a final or a temp file.
func TestSourceReadError(t *testing.T) {
	e := newEngine(t, cvv.Options{BlockSize: testBlock, QueueDepth: 4})
	data := enginetest.Data(20*testBlock, 6)
	src := enginetest.WriteFile(t, t.TempDir(), "src", data)
	dests := enginetest.DestPaths(t, 3, "copy")
	defer uring.SetCompletionHook(func(c uring.Completion) int32 {
		if !c.Write && c.Off == 5*testBlock {
			return -int32(syscall.EIO)
		}
		return c.Res
	})()
	_, err := e.Copy(context.Background(), cvv.Job{Source: src, Dests: dests})
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("Copy: %v, want an error wrapping EIO", err)
	}
	var pe *os.PathError
	if !errors.As(err, &pe) || pe.Op != "read" || pe.Path != src {
		t.Errorf("error %v is not a read *os.PathError on the source", err)
	}
	assertAbsent(t, dests...)
	enginetest.AssertNoTemps(t, dests...)
	assertPoolFull(t, e)

	// The same through Hash.
	if _, err := e.Hash(context.Background(), src, hashing.XXH3); !errors.Is(err, syscall.EIO) {
		t.Errorf("Hash: %v, want an error wrapping EIO", err)
	}
	assertPoolFull(t, e)
}

// TestDirectRefused forces the filesystem's EINVAL for O_DIRECT on the
// destinations and on the source, at open and at the first operation: the
// copy succeeds buffered and says so.
func TestDirectRefused(t *testing.T) {
	data := enginetest.Data(5*testBlock+1234, 7)
	src := enginetest.WriteFile(t, t.TempDir(), "src", data)
	einval := &os.PathError{Op: "fcntl", Path: "x", Err: syscall.EINVAL}

	check := func(t *testing.T, res *cvv.Result, dests []string, wantBuffered []bool) {
		t.Helper()
		for i, d := range dests {
			dr := res.Dests[i]
			if dr.Err != nil {
				t.Errorf("dest %d: %v", i, dr.Err)
			}
			if wantBuffered[i] {
				if dr.Mode != "buffered" || dr.Direct || !strings.Contains(dr.Note, "O_DIRECT") {
					t.Errorf("dest %d: Mode %q Direct %v Note %q, want buffered with a note", i, dr.Mode, dr.Direct, dr.Note)
				}
			} else if dr.Mode != "direct" || !dr.Direct {
				t.Errorf("dest %d: Mode %q, want direct", i, dr.Mode)
			}
			enginetest.AssertSame(t, d, data)
		}
		if res.SourceHash != hashing.XXH3.Sum(data) {
			t.Error("SourceHash wrong")
		}
		enginetest.AssertNoTemps(t, dests...)
	}

	t.Run("DestOpen", func(t *testing.T) {
		e := newEngine(t, cvv.Options{BlockSize: testBlock, QueueDepth: 4})
		dests := enginetest.DestPaths(t, 2, "copy")
		defer uring.SetSetDirect(func(f *os.File, next func(*os.File) error) error {
			if filepath.Dir(f.Name()) == filepath.Dir(dests[0]) {
				return einval
			}
			return next(f)
		})()
		res, err := e.Copy(context.Background(), cvv.Job{Source: src, Dests: dests})
		if err != nil {
			t.Fatal(err)
		}
		check(t, res, dests, []bool{true, false})
		if res.Stats.FixedWrites != res.Stats.Writes {
			t.Errorf("buffered destination not written through the ring's fixed buffers: %+v", res.Stats)
		}
	})
	t.Run("DestFirstWrite", func(t *testing.T) {
		e := newEngine(t, cvv.Options{BlockSize: testBlock, QueueDepth: 4})
		dests := enginetest.DestPaths(t, 2, "copy")
		var h hookOnce
		defer uring.SetCompletionHook(func(c uring.Completion) int32 {
			h.mu.Lock()
			defer h.mu.Unlock()
			if c.Write && c.Path == dests[1] && h.matched == 0 {
				h.matched++
				return -int32(syscall.EINVAL)
			}
			return c.Res
		})()
		res, err := e.Copy(context.Background(), cvv.Job{Source: src, Dests: dests})
		if err != nil {
			t.Fatal(err)
		}
		check(t, res, dests, []bool{false, true})
	})
	t.Run("SourceOpen", func(t *testing.T) {
		e := newEngine(t, cvv.Options{BlockSize: testBlock, QueueDepth: 4})
		dests := enginetest.DestPaths(t, 1, "copy")
		defer uring.SetOpenFile(func(name string, flag int, perm os.FileMode) (*os.File, error) {
			if flag&unix.O_DIRECT != 0 {
				return nil, &os.PathError{Op: "open", Path: name, Err: syscall.EINVAL}
			}
			return os.OpenFile(name, flag, perm)
		})()
		res, err := e.Copy(context.Background(), cvv.Job{Source: src, Dests: dests})
		if err != nil {
			t.Fatal(err)
		}
		if res.Stats.DirectSource {
			t.Error("DirectSource = true though O_DIRECT was refused")
		}
		check(t, res, dests, []bool{false})
		hr, err := e.Hash(context.Background(), src, hashing.XXH3)
		if err != nil || hr.Direct || hr.Hash != hashing.XXH3.Sum(data) {
			t.Errorf("Hash = %+v, %v; want a buffered read with the right hash", hr, err)
		}
	})
	t.Run("SourceFirstRead", func(t *testing.T) {
		e := newEngine(t, cvv.Options{BlockSize: testBlock, QueueDepth: 4})
		dests := enginetest.DestPaths(t, 1, "copy")
		var h hookOnce
		defer uring.SetCompletionHook(func(c uring.Completion) int32 {
			h.mu.Lock()
			defer h.mu.Unlock()
			if !c.Write && h.matched == 0 {
				h.matched++
				return -int32(syscall.EINVAL)
			}
			return c.Res
		})()
		res, err := e.Copy(context.Background(), cvv.Job{Source: src, Dests: dests})
		if err != nil {
			t.Fatal(err)
		}
		if res.Stats.DirectSource {
			t.Error("DirectSource = true though the first read refused O_DIRECT")
		}
		check(t, res, dests, []bool{false})
	})
}

// TestCancelMidCopy cancels from the Progress callback: the copy stops with
// context.Canceled, leaves nothing behind and gives every buffer back.
func TestCancelMidCopy(t *testing.T) {
	e := newEngine(t, cvv.Options{BlockSize: testBlock, QueueDepth: 8})
	data := enginetest.Data(300*testBlock, 8)
	src := enginetest.WriteFile(t, t.TempDir(), "src", data)
	dests := enginetest.DestPaths(t, 3, "copy")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var seen int64
	res, err := e.Copy(ctx, cvv.Job{Source: src, Dests: dests, Progress: func(n int64) {
		if seen += n; seen >= 4*testBlock {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) || res != nil {
		t.Fatalf("Copy = %v, %v; want nil, context.Canceled", res, err)
	}
	if seen >= int64(len(data)) {
		t.Errorf("the whole file was copied before the cancellation took")
	}
	assertAbsent(t, dests...)
	enginetest.AssertNoTemps(t, dests...)
	assertPoolFull(t, e)
}

// TestRegistrationRefused makes buffer registration fail as the kernel does
// when it will not pin the memory: the engine works with plain READ/WRITE
// and reports it.
func TestRegistrationRefused(t *testing.T) {
	defer uring.SetRegisterBuffers(func() error {
		return os.NewSyscallError("iouring_register", syscall.ENOMEM)
	})()
	e := newEngine(t, cvv.Options{BlockSize: testBlock, QueueDepth: 4})
	checkUnregistered(t, e, "refused")
}

func checkUnregistered(t *testing.T, e *uring.Engine, reason string) {
	t.Helper()
	b := e.Buffers()
	if b.Registered || !strings.Contains(b.Reason, reason) {
		t.Errorf("Buffers() = %+v, want unregistered because %q", b, reason)
	}
	data := enginetest.Data(7*testBlock+99, 9)
	src := enginetest.WriteFile(t, t.TempDir(), "src", data)
	dests := enginetest.DestPaths(t, 2, "copy")
	res, err := e.Copy(context.Background(), cvv.Job{Source: src, Dests: dests})
	if err != nil {
		t.Fatal(err)
	}
	st := res.Stats
	if st.Reads == 0 || st.Writes == 0 || st.FixedReads != 0 || st.FixedWrites != 0 {
		t.Errorf("stats %+v: want plain reads and writes, none fixed", st)
	}
	for i, d := range dests {
		if res.Dests[i].Err != nil {
			t.Errorf("dest %d: %v", i, res.Dests[i].Err)
		}
		enginetest.AssertSame(t, d, data)
	}
	if res.SourceHash != hashing.XXH3.Sum(data) {
		t.Error("SourceHash wrong")
	}
}

const memlockChildEnv = "CVV_URING_MEMLOCK_CHILD"

// TestMemlock runs the engine in a child process whose RLIMIT_MEMLOCK is
// lowered (soft and hard) and, as root, without CAP_IPC_LOCK, so the limit
// binds: once with the engine's own sizing (it must see the arena cannot be
// pinned) and once with that turned off (the kernel must refuse).
func TestMemlock(t *testing.T) {
	if os.Getenv(memlockChildEnv) != "" {
		t.Skip("in the child")
	}
	for _, mode := range []string{"precheck", "kernel"} {
		t.Run(mode, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestMemlockChild$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), memlockChildEnv+"="+mode)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), "--- PASS: TestMemlockChild") {
				t.Fatalf("child did not run the test:\n%s", out)
			}
			t.Logf("child:\n%s", out)
		})
	}
}

func TestMemlockChild(t *testing.T) {
	mode := os.Getenv(memlockChildEnv)
	if mode == "" {
		t.Skip("runs only as TestMemlock's child")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if uring.HasCapIPCLock() {
		// Drop CAP_IPC_LOCK from this thread's effective set; io_uring
		// decides at setup, on this thread, whether to account pinning.
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			t.Fatal(err)
		}
		data[0].Effective &^= 1 << unix.CAP_IPC_LOCK
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			t.Fatalf("capset: %v", err)
		}
		if uring.HasCapIPCLock() {
			t.Fatal("CAP_IPC_LOCK still effective")
		}
	}
	// Room for the ring, not for two 256 KiB buffers.
	const limit = 384 << 10
	if err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &unix.Rlimit{Cur: limit, Max: limit}); err != nil {
		t.Fatal(err)
	}
	reason := "RLIMIT_MEMLOCK"
	if mode == "kernel" {
		defer uring.SetMemlockPrecheck(false)()
		reason = "refused"
	}
	e := newEngine(t, cvv.Options{BlockSize: 256 << 10, QueueDepth: 4})
	t.Logf("buffers: %+v", e.Buffers())
	checkUnregistered(t, e, reason)
}

// TestRealENOSPC copies 20 MiB to three destinations, one on an 8 MiB tmpfs:
// the two others are identical, the small one fails with ErrDiskFull and
// leaves no temp file.
func TestRealENOSPC(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skipf("mounting a tmpfs needs root (euid %d)", os.Geteuid())
	}
	small := t.TempDir()
	if err := unix.Mount("tmpfs", small, "tmpfs", 0, "size=8m"); err != nil {
		t.Skipf("cannot mount tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(small, 0); err != nil {
			t.Errorf("umount %s: %v", small, err)
		}
	})
	e := newEngine(t, cvv.Options{BlockSize: 1 << 20, QueueDepth: 4})
	data := enginetest.Data(20<<20, 10)
	src := enginetest.WriteFile(t, t.TempDir(), "src", data)
	// The small destination written both ways: O_DIRECT through the
	// ring, and through the page cache with pwrite calls. Either way the
	// tmpfs refuses the file's space reservation up front; an error of a
	// pwrite itself is TestDestinationFault's.
	for _, w := range []cvv.WritePath{cvv.WriteDirect, cvv.WriteBuffered} {
		t.Run(w.String(), func(t *testing.T) { realENOSPC(t, e, src, small, data, w) })
	}
}

// realENOSPC copies src to two destinations and to one in the small
// tmpfs, written the way w says.
func realENOSPC(t *testing.T, e *uring.Engine, src, small string, data []byte, w cvv.WritePath) {
	dests := enginetest.DestPaths(t, 2, "copy")
	full := filepath.Join(small, "copy")
	dests = []string{dests[0], full, dests[1]}
	res, err := e.Copy(context.Background(), cvv.Job{Source: src, Dests: dests, Hash: hashing.XXH3,
		Write: []cvv.WritePath{cvv.WriteDirect, w, cvv.WriteDirect}})
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	if !errors.Is(res.Dests[1].Err, cvv.ErrDiskFull) || !errors.Is(res.Dests[1].Err, syscall.ENOSPC) {
		t.Errorf("destination on the full tmpfs: %v, want ErrDiskFull wrapping ENOSPC", res.Dests[1].Err)
	}
	assertAbsent(t, full)
	for _, i := range []int{0, 2} {
		if res.Dests[i].Err != nil {
			t.Errorf("destination %d: %v", i, res.Dests[i].Err)
		}
		enginetest.AssertSame(t, dests[i], data)
	}
	if res.SourceHash != hashing.XXH3.Sum(data) {
		t.Error("SourceHash wrong")
	}
	enginetest.AssertNoTemps(t, dests...)
	ents, err := os.ReadDir(small)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		t.Errorf("the full tmpfs still holds %d entries", len(ents))
	}
	assertPoolFull(t, e)
}

// TestAllDestinationsFail fails every destination: Copy still returns a
// result (no source error) with every destination failed and no files.
func TestAllDestinationsFail(t *testing.T) {
	e := newEngine(t, cvv.Options{BlockSize: testBlock, QueueDepth: 4})
	data := enginetest.Data(30*testBlock, 11)
	src := enginetest.WriteFile(t, t.TempDir(), "src", data)
	dests := enginetest.DestPaths(t, 2, "copy")
	defer uring.SetCompletionHook(func(c uring.Completion) int32 {
		if c.Write && c.Off >= testBlock {
			return -int32(syscall.EIO)
		}
		return c.Res
	})()
	res, err := e.Copy(context.Background(), cvv.Job{Source: src, Dests: dests})
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	for i := range dests {
		if !errors.Is(res.Dests[i].Err, syscall.EIO) {
			t.Errorf("dest %d: %v, want EIO", i, res.Dests[i].Err)
		}
	}
	if res.Stats.Reads >= 30 {
		t.Errorf("%d reads: the engine kept reading with no destination left", res.Stats.Reads)
	}
	assertAbsent(t, dests...)
	enginetest.AssertNoTemps(t, dests...)
	assertPoolFull(t, e)
}
