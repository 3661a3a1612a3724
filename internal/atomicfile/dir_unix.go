//go:build unix

package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// dirFlags open a directory to walk from, read and fsync.
const dirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC

// dirSys is a directory's descriptor, held raw: an *os.File would cost
// an fcntl at every open and buy nothing here.
type dirSys struct{ fd int }

// close closes the descriptor once, as os.File.Close does: after EINTR
// the descriptor may already be gone (on Linux it always is), and a
// second close could close one another goroutine has just opened.
func (s dirSys) close() error {
	if err := closeFD(s.fd); err != unix.EINTR {
		return err
	}
	return nil
}

// closeFD is close(2); the tests replace it.
var closeFD = unix.Close

func (s dirSys) stat() (os.FileInfo, error) {
	var st unix.Stat_t
	if err := ignoringEINTR(func() error { return unix.Fstat(s.fd, &st) }); err != nil {
		return nil, &os.PathError{Op: "stat", Path: ".", Err: err}
	}
	return &statInfo{name: ".", st: st}, nil
}

func (s dirSys) chmod(perm os.FileMode) error {
	return ignoringEINTR(func() error { return unix.Fchmod(s.fd, uint32(perm.Perm())) })
}

func (s dirSys) sync() error { return ignoringEINTR(func() error { return unix.Fsync(s.fd) }) }

// file opens the directory again as an *os.File of its own (its own
// offset, for reading names), named path.
func (s dirSys) file(path string) (*os.File, error) {
	fd, err := retryEINTR(func() (int, error) { return unix.Openat(s.fd, ".", dirFlags, 0) })
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

func openDirPath(path string) (dirSys, error) {
	fd, err := retryEINTR(func() (int, error) { return unix.Open(path, dirFlags, 0) })
	if err != nil {
		return dirSys{-1}, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return dirSys{fd}, nil
}

// fd returns d's descriptor. The Dir must stay open while it is used.
func (d *Dir) fd() int { return d.sys.fd }

// openBeneath opens rel below d with no symlink followed: openat2 where the
// kernel has it (openBeneath2), else one O_NOFOLLOW openat per component.
func openBeneath(d *Dir, rel string) (dirSys, error) {
	if s, err := openBeneath2(d, rel); !errors.Is(err, errors.ErrUnsupported) {
		return s, err
	}
	fd, err := unix.Dup(d.fd())
	if err != nil {
		return dirSys{-1}, err
	}
	unix.CloseOnExec(fd)
	if rel != "." {
		for c := range strings.SplitSeq(rel, string(filepath.Separator)) {
			next, err := retryEINTR(func() (int, error) { return unix.Openat(fd, c, dirFlags|unix.O_NOFOLLOW, 0) })
			if errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
				// O_NOFOLLOW|O_DIRECTORY on a symlink fails with ENOTDIR.
				var st unix.Stat_t
				if unix.Fstatat(fd, c, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
					err = ErrSymlink
				}
			}
			unix.Close(fd)
			if err != nil {
				return dirSys{-1}, err
			}
			fd = next
		}
	}
	return dirSys{fd}, nil
}

// retryEINTR calls open until it does not fail with EINTR.
func retryEINTR(open func() (int, error)) (int, error) {
	for {
		fd, err := open()
		if err != unix.EINTR {
			return fd, err
		}
	}
}

func createAt(d *Dir, name string, extraFlags int) (*os.File, error) {
	flags := unix.O_RDWR | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC | extraFlags
	fd, err := retryEINTR(func() (int, error) { return unix.Openat(d.fd(), name, flags, 0o600) })
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), d.join(name)), nil
}

func openFileAt(d *Dir, name string) (*os.File, error) {
	flags := unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC
	fd, err := retryEINTR(func() (int, error) { return unix.Openat(d.fd(), name, flags, 0) })
	if err == unix.ELOOP {
		return nil, ErrSymlink
	}
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), d.join(name)), nil
}

func mkdirat(d *Dir, name string, perm os.FileMode) error {
	return ignoringEINTR(func() error { return unix.Mkdirat(d.fd(), name, uint32(perm.Perm())) })
}

func renameat(d *Dir, oldName, newName string) error {
	return ignoringEINTR(func() error { return unix.Renameat(d.fd(), oldName, d.fd(), newName) })
}

func unlinkat(d *Dir, name string) error {
	return ignoringEINTR(func() error { return unix.Unlinkat(d.fd(), name, 0) })
}

func symlinkat(d *Dir, target, name string) error {
	return ignoringEINTR(func() error { return unix.Symlinkat(target, d.fd(), name) })
}

func readlinkat(d *Dir, name string) (string, error) {
	for n := 256; ; n *= 2 {
		b := make([]byte, n)
		m, err := unix.Readlinkat(d.fd(), name, b)
		if err != nil {
			return "", err
		}
		if m < n {
			return string(b[:m]), nil
		}
	}
}

func lchtimesat(d *Dir, name string, mtime time.Time) error {
	mt := unix.NsecToTimespec(mtime.UnixNano())
	ts := []unix.Timespec{mt, mt}
	return ignoringEINTR(func() error { return unix.UtimesNanoAt(d.fd(), name, ts, unix.AT_SYMLINK_NOFOLLOW) })
}

// lchmodat is fchmodat(AT_SYMLINK_NOFOLLOW); where the kernel cannot do
// that (Linux before 6.6 has no fchmodat2) it opens name with O_NOFOLLOW,
// which fails on a symlink, and fchmods the descriptor.
func lchmodat(d *Dir, name string, perm os.FileMode) error {
	err := unix.Fchmodat(d.fd(), name, uint32(perm.Perm()), unix.AT_SYMLINK_NOFOLLOW)
	if err != unix.EOPNOTSUPP && err != unix.ENOTSUP {
		return err
	}
	fd, err := retryEINTR(func() (int, error) {
		return unix.Openat(d.fd(), name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Fchmod(fd, uint32(perm.Perm()))
}

func lstatat(d *Dir, name string) (os.FileInfo, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(d.fd(), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return nil, err
	}
	return &statInfo{name: name, st: st}, nil
}

// LstatAt returns the file information of name in the open directory fd,
// not following a symlink (fstatat with AT_SYMLINK_NOFOLLOW): for a walk
// that holds the directory it lists, which then resolves no path again.
// Its Sys is a *unix.Stat_t.
func LstatAt(fd int, name string) (os.FileInfo, error) {
	var st unix.Stat_t
	if err := ignoringEINTR(func() error { return unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW) }); err != nil {
		return nil, err
	}
	return &statInfo{name: name, st: st}, nil
}

func ignoringEINTR(f func() error) error {
	for {
		if err := f(); err != unix.EINTR {
			return err
		}
	}
}

// statInfo is the fs.FileInfo of an fstatat.
type statInfo struct {
	name string
	st   unix.Stat_t
}

func (s *statInfo) Name() string       { return s.name }
func (s *statInfo) Size() int64        { return s.st.Size }
func (s *statInfo) ModTime() time.Time { return time.Unix(s.st.Mtim.Unix()) }
func (s *statInfo) IsDir() bool        { return s.Mode().IsDir() }
func (s *statInfo) Sys() any           { return &s.st }

func (s *statInfo) Mode() fs.FileMode { return fileMode(uint32(s.st.Mode)) }

// fileMode is the fs.FileMode of a stat's st_mode.
func fileMode(mode uint32) fs.FileMode {
	m := fs.FileMode(mode & 0o777)
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		m |= fs.ModeDir
	case unix.S_IFLNK:
		m |= fs.ModeSymlink
	case unix.S_IFIFO:
		m |= fs.ModeNamedPipe
	case unix.S_IFSOCK:
		m |= fs.ModeSocket
	case unix.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		m |= fs.ModeDevice
	}
	if mode&unix.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if mode&unix.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if mode&unix.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}

func linkat(old *Dir, oldName string, d *Dir, name string) error {
	return ignoringEINTR(func() error { return unix.Linkat(old.fd(), oldName, d.fd(), name, 0) })
}

// SameFile reports whether a and b, from Dir.Lstat or os.Lstat, are one
// file (device and inode).
func SameFile(a, b os.FileInfo) bool {
	da, ia, ok1 := devIno(a)
	db, ib, ok2 := devIno(b)
	return ok1 && ok2 && da == db && ia == ib
}

func devIno(fi os.FileInfo) (dev, ino uint64, ok bool) {
	switch st := fi.Sys().(type) {
	case *unix.Stat_t:
		return uint64(st.Dev), uint64(st.Ino), true
	case *syscall.Stat_t:
		return uint64(st.Dev), uint64(st.Ino), true
	}
	return 0, 0, false
}
