package atomicfile

import (
	"sync/atomic"

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
	_, err := xattrat(unix.SYS_SETXATTRAT, fd, name, attr, value, flags)
	return err
}
