//go:build unix

package copyfile

import (
	"os"

	"golang.org/x/sys/unix"
)

// OpenFile is os.OpenFile for a file that is read or written by offset
// only: a regular file, opened with open(2) and wrapped by os.NewFile. It
// spares what os.OpenFile does for a descriptor it may poll (an fcntl to
// make it non-blocking, an epoll registration that fails on a regular
// file, two fcntls to make it blocking again when the engine takes its
// descriptor). O_CLOEXEC is always added.
func OpenFile(path string, flag int, perm os.FileMode) (*os.File, error) {
	for {
		fd, err := unix.Open(path, flag|unix.O_CLOEXEC, uint32(perm.Perm()))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: path, Err: err}
		}
		return os.NewFile(uintptr(fd), path), nil
	}
}
