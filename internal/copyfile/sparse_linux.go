package copyfile

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// dataRegion finds the first data region of f at or after off with
// SEEK_DATA and SEEK_HOLE: [size, size) when only a hole is left. ok is
// false when the filesystem cannot tell (the whole file is then data).
func dataRegion(f *os.File, off, size int64) (start, end int64, ok bool) {
	fd := int(f.Fd())
	start, err := seek(fd, off, unix.SEEK_DATA)
	if errors.Is(err, unix.ENXIO) {
		return size, size, true
	}
	if err != nil {
		return 0, 0, false
	}
	end, err = seek(fd, start, unix.SEEK_HOLE)
	if err != nil {
		return 0, 0, false
	}
	return min(start, size), min(end, size), true
}

// seek is lseek, retried on EINTR. The engines read with pread, so the
// file offset it moves is of no other use.
func seek(fd int, off int64, whence int) (int64, error) {
	for {
		n, err := unix.Seek(fd, off, whence)
		if err != unix.EINTR {
			return n, err
		}
	}
}

// clearDirect turns O_DIRECT off on f, so that an unaligned write works.
func clearDirect(f *os.File) error {
	fd := int(f.Fd())
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err == nil && fl&unix.O_DIRECT != 0 {
		_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl&^unix.O_DIRECT)
	}
	if err != nil {
		return &os.PathError{Op: "fcntl", Path: f.Name(), Err: err}
	}
	return nil
}

// mayHaveHoles reports whether fi has fewer bytes allocated than its size.
func mayHaveHoles(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Blocks*512 < fi.Size()
}
