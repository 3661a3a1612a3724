//go:build linux || darwin || freebsd || netbsd || openbsd

package manifest

import (
	"os"
	"syscall"
	"time"
)

// sysStamp is fi's device, inode and change time.
func sysStamp(fi os.FileInfo) (dev, ino uint64, ctime time.Time, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, time.Time{}, false
	}
	return uint64(st.Dev), uint64(st.Ino), statCtime(st), true
}
