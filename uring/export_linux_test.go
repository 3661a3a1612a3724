package uring

import (
	"os"

	"github.com/iceber/iouring-go"
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

// WriteBehindWindow and WriteBehindLag are the write-behind's stretch and
// how far behind it waits and drops.
const (
	WriteBehindWindow = behindWindow
	WriteBehindLag    = behindLag
)
