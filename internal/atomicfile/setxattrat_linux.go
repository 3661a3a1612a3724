package atomicfile

import (
	"math"
	"runtime"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Lsetxattr sets the extended attribute attr of name in d to value, with
// lsetxattr(2)'s flags (XATTR_CREATE, XATTR_REPLACE), as lsetxattr on d's
// path joined with name, but reached from d's descriptor with no path
// walked again: setxattrat(2) (Linux 6.13) with AT_SYMLINK_NOFOLLOW, so
// that, as with NamePath and lsetxattr, nothing above d is resolved and a
// symlink under name is written itself (user.* attributes are refused on
// a link: EPERM), never followed. name is a single component. Where the
// kernel lacks setxattrat, or a seccomp filter refuses it, it is
// lsetxattr on NamePath(name). An error is an *os.PathError naming d's
// path joined with name, wrapping the errno as lsetxattr gives it.
func (d *Dir) Lsetxattr(name, attr string, value []byte, flags int) error {
	if err := checkName(d, "setxattr", name); err != nil {
		return err
	}
	return d.wrapAt("setxattr", name, d.lsetxattr(name, attr, value, flags))
}

// lsetxattr is Lsetxattr's system calls.
func (d *Dir) lsetxattr(name, attr string, value []byte, flags int) error {
	if !noSetxattrat.Load() {
		err := sysSetxattrat(d.fd(), name, attr, value, flags)
		switch err {
		case unix.ENOSYS:
			noSetxattrat.Store(true) // an older kernel
		case unix.EPERM, unix.EINVAL:
			// Unlike for a read, EPERM is a real answer of a write (a
			// user.* attribute on a symlink or a special file, an
			// immutable file), and EINVAL may be one too: the call is
			// taken to be filtered only if lsetxattr does what it
			// refused. Otherwise lsetxattr's answer is the answer, and
			// setxattrat is asked again next time.
			if err := unix.Lsetxattr(d.NamePath(name), attr, value, flags); err != nil {
				return err
			}
			noSetxattrat.Store(true)
			return nil
		default:
			return err
		}
	}
	return unix.Lsetxattr(d.NamePath(name), attr, value, flags)
}

// noSetxattrat is set once setxattrat was found missing or filtered:
// Lsetxattr walks the path from then on (tests set it to take the call
// away).
var noSetxattrat atomic.Bool

// sysSetxattrat is setxattrat, or what a test makes of it (a filtered
// call).
var sysSetxattrat = setxattrat

// setxattrat is setxattrat(2) of attr on name in the directory fd, not
// following a symlink.
func setxattrat(fd int, name, attr string, value []byte, flags int) error {
	// As in getxattrat: the C strings of a name and an attribute of
	// usual length are on this goroutine's stack.
	var nameBuf, attrBuf [256]byte
	p0, err := cString(nameBuf[:], name)
	if err != nil {
		return err
	}
	p1, err := cString(attrBuf[:], attr)
	if err != nil {
		return err
	}
	if uint64(len(value)) > math.MaxUint32 {
		return unix.E2BIG // as the kernel says of any value past 64 KiB
	}
	args := xattrArgs{size: uint32(len(value)), flags: uint32(flags)}
	if len(value) > 0 {
		args.value = uint64(uintptr(unsafe.Pointer(&value[0])))
	}
	// As in getxattrat, nothing between here and the system call may
	// move value.
	_, _, errno := unix.Syscall6(unix.SYS_SETXATTRAT, uintptr(fd), uintptr(unsafe.Pointer(p0)),
		unix.AT_SYMLINK_NOFOLLOW, uintptr(unsafe.Pointer(p1)), uintptr(unsafe.Pointer(&args)), unsafe.Sizeof(args))
	runtime.KeepAlive(value)
	if errno != 0 {
		return errno
	}
	return nil
}
