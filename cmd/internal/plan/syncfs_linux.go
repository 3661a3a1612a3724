package plan

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// syncFSTrusted reports whether syncfs(2) on a filesystem of statfs type
// fsType on device dev makes every earlier write and rename durable and
// fails when the filesystem lost a write (see DestFS.SyncFS).
func syncFSTrusted(fsType uint32, dev uint64) bool {
	if !syncfsReportsErrors() {
		return false
	}
	switch fsType {
	case unix.XFS_SUPER_MAGIC, unix.BTRFS_SUPER_MAGIC:
		return true
	case unix.EXT4_SUPER_MAGIC:
		return ext4HasJournal(dev)
	}
	return false
}

// ext4HasJournal reports whether the ext4 filesystem on dev has a journal:
// its options in /proc/fs/ext4/<device>/options then name a data mode
// (data=ordered, data=journal or data=writeback); without a journal they
// name none.
func ext4HasJournal(dev uint64) bool {
	link, err := os.Readlink(fmt.Sprintf("/sys/dev/block/%d:%d", unix.Major(dev), unix.Minor(dev)))
	if err != nil {
		return false
	}
	opts, err := os.ReadFile(filepath.Join("/proc/fs/ext4", filepath.Base(link), "options"))
	if err != nil {
		return false
	}
	for line := range strings.SplitSeq(string(opts), "\n") {
		if strings.HasPrefix(line, "data=") {
			return true
		}
	}
	return false
}

// syncfsReportsErrors reports whether the kernel is Linux 5.8 or later,
// whose syncfs returns the filesystem's writeback errors.
var syncfsReportsErrors = sync.OnceValue(func() bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	var major, minor int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &major, &minor); err != nil {
		return false
	}
	return major > 5 || major == 5 && minor >= 8
})
