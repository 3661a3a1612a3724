package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// ReadXattrs returns the extended attributes of f, ACLs included, in the
// order the filesystem lists them, without cvv's own records
// (VerifiedAttr, JobDoneAttr). A filesystem
// without extended attributes has none.
func ReadXattrs(f *os.File) ([]Xattr, error) {
	fd := int(f.Fd())
	names, err := listXattrs(fd)
	if err != nil || len(names) == 0 {
		return nil, err
	}
	var xs []Xattr
	for _, name := range names {
		if ownAttr(name) {
			continue
		}
		v, err := getXattr(fd, name)
		if errors.Is(err, unix.ENODATA) {
			continue // removed since the list was read
		}
		if err != nil {
			return nil, &os.PathError{Op: "getxattr " + name, Path: f.Name(), Err: err}
		}
		xs = append(xs, Xattr{Name: name, Value: v})
	}
	return xs, nil
}

// ownAttr reports whether name is one of cvv's own records.
func ownAttr(name string) bool { return name == VerifiedAttr || name == JobDoneAttr }

// listXattrs returns the names of fd's extended attributes.
func listXattrs(fd int) ([]string, error) {
	buf, err := readXattr(256, func(b []byte) (int, error) { return unix.Flistxattr(fd, b) })
	switch {
	case err == unix.ENOTSUP || err == unix.ENOSYS:
		return nil, nil
	case err != nil:
		return nil, err
	}
	var names []string
	for _, s := range strings.Split(string(buf), "\x00") {
		if s != "" {
			names = append(names, s)
		}
	}
	return names, nil
}

// getXattr returns the value of fd's extended attribute name.
func getXattr(fd int, name string) ([]byte, error) {
	return readXattr(128, func(b []byte) (int, error) { return unix.Fgetxattr(fd, name, b) })
}

// readXattr reads what read puts in a buffer, starting with size bytes:
// on ERANGE (the list or value grew) it asks read with no buffer for the
// length now and tries again; EINTR tries again too.
func readXattr(size int, read func([]byte) (int, error)) ([]byte, error) {
	buf := make([]byte, size)
	for {
		n, err := read(buf)
		switch {
		case err == unix.ERANGE:
			size, err := read(nil)
			if err != nil {
				return nil, err
			}
			buf = make([]byte, size+64)
		case err == unix.EINTR:
		case err != nil:
			return nil, err
		default:
			return buf[:n:n], nil
		}
	}
}

// setXattrs sets xs on f. ENOTSUP on any but a security.* attribute means
// the filesystem holds none: ErrNoXattrs. security.* attributes (SELinux
// labels, capabilities) are kept where the destination accepts them, as
// cp -a does, and left alone where it refuses them.
func setXattrs(f *os.File, xs []Xattr) error {
	fd := int(f.Fd())
	for _, x := range xs {
		err := unix.Fsetxattr(fd, x.Name, x.Value, 0)
		for err == unix.EINTR {
			err = unix.Fsetxattr(fd, x.Name, x.Value, 0)
		}
		switch {
		case err == nil:
		case strings.HasPrefix(x.Name, "security."):
		case err == unix.ENOTSUP || err == unix.ENOSYS:
			return &os.PathError{Op: "setxattr " + x.Name, Path: f.Name(), Err: fmt.Errorf("%w (%w)", ErrNoXattrs, err)}
		default:
			return &os.PathError{Op: "setxattr " + x.Name, Path: f.Name(), Err: err}
		}
	}
	return nil
}

// OwnerOf returns fi's owner when cvv runs as root (only root can give a
// file away), nil otherwise.
func OwnerOf(fi os.FileInfo) *Owner {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || euid() != 0 {
		return nil
	}
	return &Owner{Uid: int(st.Uid), Gid: int(st.Gid)}
}

// ownedBy reports whether fi (from os.Stat or Dir.Stat) belongs to o's
// owner and group.
func ownedBy(fi os.FileInfo, o Owner) bool {
	switch st := fi.Sys().(type) {
	case *syscall.Stat_t:
		return int(st.Uid) == o.Uid && int(st.Gid) == o.Gid
	case *unix.Stat_t:
		return int(st.Uid) == o.Uid && int(st.Gid) == o.Gid
	}
	return false
}

// euid is the effective user id, asked once: cvv never changes it.
var euid = sync.OnceValue(os.Geteuid)

// ignorableOwner reports whether a chown failed only because the
// filesystem has no owners (FAT, exFAT: EPERM or ENOTSUP from the driver).
func ignorableOwner(err error) bool {
	return errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.ENOTSUP) || errors.Is(err, syscall.ENOSYS)
}

// JobDone returns the key of the sharded job marked finished in the
// directory at path (JobDoneAttr), "" when there is none or the
// filesystem holds no extended attributes.
func JobDone(path string) string {
	var buf [64]byte
	n, err := unix.Getxattr(path, JobDoneAttr, buf[:])
	if err != nil {
		return ""
	}
	return string(buf[:n])
}

// MarkJobDone marks the directory at path as where the sharded job key
// finished; an empty key removes the mark. A filesystem that holds no
// extended attributes gives an error wrapping ErrNoXattrs. The caller
// makes the mark durable (an fsync of the directory).
func MarkJobDone(path, key string) error {
	var err error
	if key == "" {
		err = unix.Removexattr(path, JobDoneAttr)
		if err == unix.ENODATA {
			return nil
		}
	} else {
		err = unix.Setxattr(path, JobDoneAttr, []byte(key), 0)
	}
	if err == unix.ENOTSUP || err == unix.ENOSYS {
		err = fmt.Errorf("%w (%w)", ErrNoXattrs, err)
	}
	if err != nil {
		return &os.PathError{Op: "setxattr " + JobDoneAttr, Path: path, Err: err}
	}
	return nil
}
