package atomicfile

import (
	"errors"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// openat2 is unix.Openat2; a seam for tests, which make it fail with
// ENOSYS to run the per-component path.
var openat2 = unix.Openat2

// noOpenat2 is set once openat2 has failed with ENOSYS (kernels before
// 5.6): every later open takes the per-component path at once.
var noOpenat2 atomic.Bool

// beneath resolves a path below a directory with no symlink followed and
// never above it (magic links, /proc/self/fd/N, are symlinks too).
const beneath = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS

// openBeneath2 opens the directory rel below d with openat2. It returns
// errors.ErrUnsupported where openat2 is missing (ENOSYS) or refused by a
// sandbox (EPERM): the caller then walks one component at a time.
func openBeneath2(d *Dir, rel string) (dirSys, error) {
	if noOpenat2.Load() {
		return dirSys{-1}, errors.ErrUnsupported
	}
	how := &unix.OpenHow{Flags: dirFlags, Resolve: beneath}
	for {
		fd, err := openat2(d.fd(), rel, how)
		switch err {
		case nil:
			return dirSys{fd}, nil
		case unix.EINTR, unix.EAGAIN:
			// EAGAIN: a concurrent rename raced the lookup; try again.
			continue
		case unix.ENOSYS:
			noOpenat2.Store(true)
			return dirSys{-1}, errors.ErrUnsupported
		case unix.EPERM:
			return dirSys{-1}, errors.ErrUnsupported
		case unix.ELOOP:
			return dirSys{-1}, ErrSymlink
		}
		return dirSys{-1}, err
	}
}

// futimes sets the access and modification times of d itself
// (utimensat with a NULL path, what futimens(3) does).
func futimes(d *Dir, mtime time.Time) error {
	mt := unix.NsecToTimespec(mtime.UnixNano())
	ts := [2]unix.Timespec{mt, mt}
	return ignoringEINTR(func() error {
		_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(d.fd()), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
		if e != 0 {
			return e
		}
		return nil
	})
}
