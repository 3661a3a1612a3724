package copyfile

import (
	"os"

	"golang.org/x/sys/unix"
)

// DropCache writes back f's dirty pages and drops its cached ones, so that
// the next buffered reads come from the media. Callers treat it as best
// effort: a file whose pages cannot be dropped is still read, through the
// cache.
func DropCache(f *os.File) error {
	fd := int(f.Fd())
	if err := unix.Fdatasync(fd); err != nil {
		return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: err}
	}
	if err := unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED); err != nil {
		return &os.PathError{Op: "fadvise", Path: f.Name(), Err: err}
	}
	return nil
}

// AdviseSequential tells the kernel f is read front to back (advice only).
func AdviseSequential(f *os.File) {
	_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_SEQUENTIAL)
}

// StartWriteback asks the kernel to start writing the range back now,
// without waiting, so that write-back overlaps the copy instead of piling
// up for the final fdatasync. It is advice: errors are ignored.
func StartWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}
