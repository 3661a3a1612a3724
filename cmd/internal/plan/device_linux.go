package plan

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// storageDisks returns the whole disks under the filesystem on device dev,
// as /sys/dev/block shows them: a partition's disk, and for a device-mapper
// or md device the disks below its slaves. It returns nil for a device that
// is not a block device (tmpfs, FUSE, NFS, btrfs' anonymous devices).
func storageDisks(dev uint64) []string {
	link := fmt.Sprintf("/sys/dev/block/%d:%d", unix.Major(dev), unix.Minor(dev))
	real, err := filepath.EvalSymlinks(link)
	if err != nil {
		return nil
	}
	seen := map[string]bool{}
	var disks []string
	leafDisks(real, seen, &disks, 0)
	return disks
}

// leafDisks appends to disks the whole disks below the sysfs block device
// directory dir, following slaves (dm, md) down to depth 8.
func leafDisks(dir string, seen map[string]bool, disks *[]string, depth int) {
	if _, err := os.Stat(filepath.Join(dir, "partition")); err == nil {
		dir = filepath.Dir(dir)
	}
	slaves, _ := os.ReadDir(filepath.Join(dir, "slaves"))
	if len(slaves) == 0 || depth >= 8 {
		if name := filepath.Base(dir); !seen[name] {
			seen[name] = true
			*disks = append(*disks, name)
		}
		return
	}
	for _, s := range slaves {
		real, err := filepath.EvalSymlinks(filepath.Join(dir, "slaves", s.Name()))
		if err == nil {
			leafDisks(real, seen, disks, depth+1)
		}
	}
}
