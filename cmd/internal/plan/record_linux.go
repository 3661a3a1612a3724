package plan

import (
	"errors"
	"os"

	"github.com/cvv-project/cvv/internal/atomicfile"
	"golang.org/x/sys/unix"
)

// ReadRecord returns the Record on path (not following a symlink); ok is
// false when there is none, it cannot be read, or it is not one cvv wrote.
func ReadRecord(path string) (rec Record, ok bool) {
	var buf [256]byte
	n, err := unix.Lgetxattr(path, RecordAttr, buf[:])
	if err != nil || n <= 0 {
		return Record{}, false
	}
	return ParseRecord(string(buf[:n]))
}

// ReadRecordIn is ReadRecord for name in dir, read from dir's descriptor
// (atomicfile.Dir.Lgetxattr): no path is walked again, no symlink
// followed.
func ReadRecordIn(dir *atomicfile.Dir, name string) (rec Record, ok bool) {
	var buf [256]byte
	n, err := dir.Lgetxattr(name, RecordAttr, buf[:])
	if err != nil || n <= 0 {
		return Record{}, false
	}
	return ParseRecord(string(buf[:n]))
}

// WriteRecord stores rec on path (not following a symlink). A filesystem
// without user extended attributes is not an error (ok false): the file is
// then known by its name, size and mtime only.
func WriteRecord(path string, rec Record) (ok bool, err error) {
	ok, err = recordWritten(unix.Lsetxattr(path, RecordAttr, []byte(rec.String()), 0))
	if err != nil {
		return false, &os.PathError{Op: "setxattr", Path: path, Err: err}
	}
	return ok, nil
}

// WriteRecordIn is WriteRecord for name in dir, written from dir's
// descriptor (atomicfile.Dir.Lsetxattr): no path is walked again, no
// symlink followed. An error is an *os.PathError naming dir's path joined
// with name.
func WriteRecordIn(dir *atomicfile.Dir, name string, rec Record) (ok bool, err error) {
	return recordWritten(dir.Lsetxattr(name, RecordAttr, []byte(rec.String()), 0))
}

// recordWritten is what the write of a record that gave err means: ok
// when written, neither ok nor an error when the filesystem keeps no user
// extended attributes, else err.
func recordWritten(err error) (ok bool, _ error) {
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, unix.ENOTSUP), errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.EPERM):
		// EPERM: user attributes are refused on this file type or mount.
		return false, nil
	}
	return false, err
}
