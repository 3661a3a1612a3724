package uring

import (
	"os"
	"reflect"
	"time"
	"unsafe"

	"github.com/iceber/iouring-go"
	iouring_syscall "github.com/iceber/iouring-go/syscall"
	"golang.org/x/sys/unix"
)

// Completion is the test view of a completed ring operation.
type Completion = completion

// SetCompletionHook makes hook see (and rewrite) every completion until the
// returned restore is called.
func SetCompletionHook(hook func(c Completion) int32) (restore func()) {
	old := completionHook
	completionHook = hook
	return func() { completionHook = old }
}

// SetOpenFile replaces the source open function.
func SetOpenFile(f func(name string, flag int, perm os.FileMode) (*os.File, error)) (restore func()) {
	old := openFile
	openFile = f
	return func() { openFile = old }
}

// SetSetDirect replaces the function that switches a destination to
// O_DIRECT; f gets the real one as next.
func SetSetDirect(f func(file *os.File, next func(*os.File) error) error) (restore func()) {
	old := setDirect
	setDirect = func(file *os.File) error { return f(file, old) }
	return func() { setDirect = old }
}

// SetRegisterBuffers replaces buffer registration.
func SetRegisterBuffers(f func() error) (restore func()) {
	old := registerBuffers
	registerBuffers = func(r *iouring.IOURing, bufs [][]byte) error {
		if err := f(); err != nil {
			return err
		}
		return old(r, bufs)
	}
	return func() { registerBuffers = old }
}

// SetMemlockPrecheck turns the RLIMIT_MEMLOCK sizing of the arena on or off.
func SetMemlockPrecheck(on bool) (restore func()) {
	old := memlockPrecheck
	memlockPrecheck = on
	return func() { memlockPrecheck = old }
}

// HasCapIPCLock reports whether the calling thread has CAP_IPC_LOCK.
var HasCapIPCLock = hasCapIPCLock

// SetSyncFileRange makes f see every sync_file_range and fadvise call of the
// write-behind (fadvise with flags -1 - advice) before the real one runs.
func SetSyncFileRange(f func(fd int, off, n int64, flags int)) (restore func()) {
	oldS, oldF := syncFileRange, fadvise
	syncFileRange = func(fd int, off, n int64, flags int) error {
		f(fd, off, n, flags)
		return oldS(fd, off, n, flags)
	}
	fadvise = func(fd int, off, n int64, advice int) error {
		f(fd, off, n, -1-advice)
		return oldF(fd, off, n, advice)
	}
	return func() { syncFileRange, fadvise = oldS, oldF }
}

// WriteBehindsStarted is how many write-behinds the process has started.
func WriteBehindsStarted() int64 { return behindsStarted.Load() }

// Preallocations is how many preallocations of a copy the process has
// asked for.
func Preallocations() int64 { return preallocs.Load() }

// WriteBehindWindow and WriteBehindLag are the write-behind's stretch and
// how far behind it waits and drops.
const (
	WriteBehindWindow = behindWindow
	WriteBehindLag    = behindLag
)

// SetMetaGrace sets how long a metadata operation may go without completing
// before it is cancelled if it has not started.
func SetMetaGrace(d time.Duration) (restore func()) {
	old := metaGrace
	metaGrace = d
	return func() { metaGrace = old }
}

// MetaRescued is how many metadata operations e took back from the kernel
// unstarted and ran directly.
func (e *Engine) MetaRescued() int64 { return e.mq.rescued.Load() }

// LimitWorkers limits the kernel's io-wq worker pools of e's ring to n
// workers for bounded work (regular files) and n for the rest
// (IORING_REGISTER_IOWQ_MAX_WORKERS, Linux 5.15).
func (e *Engine) LimitWorkers(n uint32) error {
	fd := reflect.ValueOf(e.ring).Elem().FieldByName("fd").Int()
	counts := [2]uint32{n, n}
	const registerIOWQMaxWorkers = 19
	return iouring_syscall.IOURingRegister(int(fd), registerIOWQMaxWorkers, unsafe.Pointer(&counts[0]), 2)
}

// FallocateAndStat runs a fallocate of n bytes of f and a statx of g
// through e's ring as one metadata call, and returns their results.
func (e *Engine) FallocateAndStat(f, g *os.File, n int64, stx *unix.Statx_t) ([]int, error) {
	ffd, gfd := int(f.Fd()), int(g.Fd())
	st, err := iouring.Statx(gfd, "", unix.AT_EMPTY_PATH, unix.STATX_BASIC_STATS, stx)
	if err != nil {
		return nil, err
	}
	return e.meta([]metaOp{
		{iouring.Fallocate(ffd, 0, 0, n), func() int { return errnoResult(0, unix.Fallocate(ffd, 0, 0, n)) }},
		{st, func() int {
			return errnoResult(0, unix.Statx(gfd, "", unix.AT_EMPTY_PATH, unix.STATX_BASIC_STATS, stx))
		}},
	})
}
