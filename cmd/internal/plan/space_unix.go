//go:build unix

package plan

import (
	"os"

	"golang.org/x/sys/unix"
)

type fsStat struct {
	id        uint64
	avail     int64
	blockSize int64
}

// statFS returns the device and the free space of the filesystem holding
// path.
func statFS(path string) (fsStat, error) {
	dev, err := lstatDev(path)
	if err != nil {
		return fsStat{}, err
	}
	var s unix.Statfs_t
	if err := unix.Statfs(path, &s); err != nil {
		return fsStat{}, &os.PathError{Op: "statfs", Path: path, Err: err}
	}
	avail := int64(s.Bavail) * int64(s.Bsize)
	if s.Blocks == 0 {
		// No size at all (fusefat, some FUSE drivers): the space is not
		// known, and the copy reports a disk that fills up.
		avail = -1
	}
	return fsStat{id: dev, avail: avail, blockSize: int64(s.Bsize)}, nil
}

// lstatDev returns the device of path.
func lstatDev(path string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return 0, &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	return uint64(st.Dev), nil
}
