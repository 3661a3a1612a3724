package fallback

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// preallocate reserves size bytes for f so that a full disk shows before
// data moves. Filesystems without fallocate are not an error.
func preallocate(f *os.File, size int64) error {
	if size == 0 {
		return nil
	}
	for {
		err := unix.Fallocate(int(f.Fd()), 0, 0, size)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EINVAL):
			return nil
		}
		return err
	}
}

// adviseSequential tells the kernel f is read front to back.
func adviseSequential(f *os.File) {
	_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_SEQUENTIAL) // advice only
}

// dropCache writes back f's dirty pages and drops its cached ones, so that
// the next reads come from the media. It is best effort: a file whose pages
// cannot be dropped is still read, through the cache.
func dropCache(f *os.File) {
	fd := int(f.Fd())
	if unix.Fdatasync(fd) == nil {
		_ = unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED) // advice only
	}
}

// startWriteback asks the kernel to start writing the range back now, without
// waiting, so that write-back overlaps the copy instead of piling up for the
// final fdatasync. It is advice: errors are ignored.
func startWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}
