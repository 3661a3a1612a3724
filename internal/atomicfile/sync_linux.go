package atomicfile

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// datasync flushes f's data (and the metadata needed to read it back).
func datasync(f *os.File) error {
	for {
		err := unix.Fdatasync(int(f.Fd()))
		if err != unix.EINTR {
			return err
		}
	}
}

// Preallocate reserves size bytes for f so that a full disk shows before
// data moves. A filesystem without fallocate is not an error.
func Preallocate(f *os.File, size int64) error {
	if size == 0 {
		return nil
	}
	for {
		err := unix.Fallocate(int(f.Fd()), 0, 0, size)
		if !errors.Is(err, unix.EINTR) {
			return Preallocated(err)
		}
	}
}

// Preallocated is what Preallocate makes of fallocate's error err (an
// engine that sends fallocate elsewhere asks it too): nil where the
// filesystem has no fallocate.
func Preallocated(err error) error {
	switch {
	case errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EINVAL):
		return nil
	}
	return err
}
