package atomicfile

import (
	"math"
	"runtime"
	"strings"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Lgetxattr reads the extended attribute attr of name in d into dest and
// returns its length, as lgetxattr(2) on d's path joined with name, but
// reached from d's descriptor with no path walked again: getxattrat(2)
// (Linux 6.13) with AT_SYMLINK_NOFOLLOW, so that, as with NamePath and
// lgetxattr, nothing above d is resolved and a symlink under name is
// read itself, never followed. name is a single component. Where the
// kernel lacks getxattrat (or a seccomp filter refuses it) it is
// lgetxattr on NamePath(name).
func (d *Dir) Lgetxattr(name, attr string, dest []byte) (int, error) {
	if !noGetxattrat.Load() {
		n, err := getxattrat(d.fd(), name, attr, dest)
		switch err {
		case unix.ENOSYS, unix.EPERM, unix.EINVAL:
			// Reading a user.* attribute gives none of them where the
			// call exists: the call is missing or filtered.
			noGetxattrat.Store(true)
		default:
			return n, err
		}
	}
	return unix.Lgetxattr(d.NamePath(name), attr, dest)
}

// noGetxattrat is set once getxattrat was found missing: Lgetxattr walks
// the path from then on (tests set it to take the call away).
var noGetxattrat atomic.Bool

// xattrArgs is the kernel's struct xattr_args.
type xattrArgs struct {
	value uint64 // __aligned_u64: the buffer's address
	size  uint32
	flags uint32
}

// getxattrat is getxattrat(2) of attr on name in the directory fd, not
// following a symlink: the length of the value read into dest.
func getxattrat(fd int, name, attr string, dest []byte) (int, error) {
	n, err := xattrat(unix.SYS_GETXATTRAT, fd, name, attr, dest, 0)
	if err != nil {
		return -1, err // as unix.Lgetxattr gives it
	}
	return n, nil
}

// xattrat is the system call trap (getxattrat or setxattrat) of attr on
// name in the directory fd, not following a symlink, with buf the value
// to read into or to write, and flags those of the attribute (struct
// xattr_args): what the call returns.
func xattrat(trap uintptr, fd int, name, attr string, buf []byte, flags int) (int, error) {
	// The C strings of a name and an attribute of usual length are on
	// this goroutine's stack, as buf may be (below): nothing is allocated
	// for the look at each file of a re-run, or for its record.
	var nameBuf, attrBuf [256]byte
	p0, err := cString(nameBuf[:], name)
	if err != nil {
		return 0, err
	}
	p1, err := cString(attrBuf[:], attr)
	if err != nil {
		return 0, err
	}
	if uint64(len(buf)) > math.MaxUint32 {
		return 0, unix.E2BIG // as the kernel says of any value past 64 KiB
	}
	args := xattrArgs{size: uint32(len(buf)), flags: uint32(flags)}
	if len(buf) > 0 {
		args.value = uint64(uintptr(unsafe.Pointer(&buf[0])))
	}
	// Nothing between here and the system call may move buf: it is on
	// the heap, or on this goroutine's stack, which only the goroutine
	// itself grows (unix.Syscall6 runs no Go code that could) and the
	// collector does not shrink at an asynchronous preemption.
	n, _, errno := unix.Syscall6(trap, uintptr(fd), uintptr(unsafe.Pointer(p0)),
		unix.AT_SYMLINK_NOFOLLOW, uintptr(unsafe.Pointer(p1)), uintptr(unsafe.Pointer(&args)), unsafe.Sizeof(args))
	runtime.KeepAlive(buf)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// cString returns s as a NUL-terminated string, in buf when it fits, as
// unix.BytePtrFromString does (EINVAL for a NUL in s).
func cString(buf []byte, s string) (*byte, error) {
	if len(s) >= len(buf) {
		return unix.BytePtrFromString(s)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return nil, unix.EINVAL
	}
	n := copy(buf, s)
	buf[n] = 0
	return &buf[0], nil
}
