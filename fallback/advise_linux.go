package fallback

import (
	"os"

	"golang.org/x/sys/unix"
)

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
