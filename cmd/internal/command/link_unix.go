//go:build unix

package command

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// lchtimes sets the access and modification times of the symlink path
// itself to mtime.
func lchtimes(path string, mtime time.Time) error {
	mt := unix.NsecToTimespec(mtime.UnixNano())
	ts := []unix.Timespec{mt, mt}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, path, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "lutimes", Path: path, Err: err}
	}
	return nil
}
