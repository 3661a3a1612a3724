package plan

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

const (
	ntfsSuperMagic = 0x5346544e // NTFS_SB_MAGIC: ntfs3 and the old ntfs driver
	fsCasefoldFL   = 0x40000000 // FS_CASEFOLD_FL
)

// DetectFS returns what the filesystem holding path (or its nearest
// existing ancestor) can hold. It looks at the statfs type and, for FUSE, at the mount's type in
// /proc/self/mountinfo and at the boot sector of a fuseblk device (when it
// can be read) to tell exfat-fuse from ntfs-3g.
func DetectFS(path string) (DestFS, error) {
	path = nearestExisting(path)
	var sfs unix.Statfs_t
	if err := unix.Statfs(path, &sfs); err != nil {
		return DestFS{}, &os.PathError{Op: "statfs", Path: path, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return DestFS{}, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	d := detectType(uint32(sfs.Type), findMount(st.Dev))
	d.SyncFS = syncFSTrusted(uint32(sfs.Type), st.Dev)
	return d, nil
}

// InMemory reports whether every path (or its nearest existing ancestor)
// is on a filesystem held in memory, tmpfs or ramfs; false for none. There
// is no device to overlap: a read is a copy out of the page cache, which
// io_uring hands to its worker threads (--engine auto, command/engine.go).
func InMemory(paths ...string) bool {
	for _, p := range paths {
		var sfs unix.Statfs_t
		if err := unix.Statfs(nearestExisting(p), &sfs); err != nil {
			return false
		}
		if t := uint32(sfs.Type); t != unix.TMPFS_MAGIC && t != unix.RAMFS_MAGIC {
			return false
		}
	}
	return len(paths) > 0
}

// detectType is DetectFS for a filesystem of statfs type fsType mounted
// as mnt.
func detectType(fsType uint32, mnt mount) DestFS {
	switch fsType {
	case unix.MSDOS_SUPER_MAGIC:
		return kernelFAT(mnt.fstype)
	case unix.EXFAT_SUPER_MAGIC:
		return kernelExFAT(mnt.options)
	case ntfsSuperMagic:
		return ntfsFS(orDefault(mnt.fstype, "ntfs"), mnt.options)
	case unix.EXT4_SUPER_MAGIC, unix.F2FS_SUPER_MAGIC, unix.TMPFS_MAGIC:
		return DestFS{Type: orDefault(mnt.fstype, "ext4"), Casefold: true}
	case unix.FUSE_SUPER_MAGIC:
		return fuseFS(mnt)
	}
	return DestFS{Type: mnt.fstype}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func kernelFAT(fstype string) DestFS {
	return DestFS{
		Type: orDefault(fstype, "vfat"), Fold: FoldUpcase, WindowsChars: true, MaxNameUTF16: 255,
		DropsTrailingDots: true, MaxFileSize: MaxFAT32File, TimeGranularity: 2 * time.Second, NoSymlinks: true, NoModes: true,
	}
}

func kernelExFAT(options string) DestFS {
	return DestFS{
		Type: "exfat", Fold: FoldUpcase, WindowsChars: true, MaxNameUTF16: 255,
		DropsTrailingDots: !hasOption(options, "keep_last_dots"), TimeGranularity: 10 * time.Millisecond, NoSymlinks: true, NoModes: true,
	}
}

// ntfsFS is NTFS through ntfs3, ntfs or ntfs-3g. They let Linux create
// names that differ only in case, which Windows and macOS then cannot tell
// apart: such names are reported as collisions.
func ntfsFS(fstype, options string) DestFS {
	return DestFS{
		Type: fstype, Fold: FoldUpcase, MaxNameUTF16: 255,
		WindowsChars: hasOption(options, "windows_names"), TimeGranularity: 100 * time.Nanosecond,
		// Without a user mapping, ntfs-3g shows every file 0777 and
		// ignores chmod.
		NoModes: true,
	}
}

// exfatFuse is exFAT through exfat-fuse, measured: names keep their
// trailing dots, the mtime keeps whole seconds only.
func exfatFuse() DestFS {
	return DestFS{
		Type: "exfat (exfat-fuse)", Fold: FoldUpcase, WindowsChars: true, MaxNameUTF16: 255,
		TimeGranularity: time.Second, NoSymlinks: true, NoModes: true,
	}
}

// fuseFAT is FAT through a FUSE driver (fusefat, measured: ASCII names only,
// 2-second times, no chmod).
func fuseFAT(name string) DestFS {
	return DestFS{
		Type: name, Fold: FoldUpcase, WindowsChars: true, ASCIINames: true, MaxNameUTF16: 255,
		MaxFileSize: MaxFAT32File, TimeGranularity: 2 * time.Second, NoSymlinks: true, NoModes: true,
	}
}

func fuseFS(mnt mount) DestFS {
	switch mnt.fstype {
	case "fuse.fusefat":
		return fuseFAT("fat (fusefat)")
	case "fuse.exfat", "fuse.exfat-fuse":
		return exfatFuse()
	case "fuse.ntfs-3g", "fuse.ntfs", "fuse.lowntfs-3g":
		return ntfsFS("ntfs (ntfs-3g)", mnt.options)
	case "fuseblk":
	default:
		return DestFS{Type: orDefault(mnt.fstype, "fuse")}
	}
	// A block device filesystem through FUSE: exfat-fuse or ntfs-3g, most
	// likely. The boot sector says which, when it can be read, or else
	// what udev found on the device.
	kind := bootSectorType(mnt.source)
	if kind == "" {
		kind = udevFSType(mnt.dev)
	}
	switch kind {
	case "exfat":
		return exfatFuse()
	case "ntfs":
		return ntfsFS("ntfs (ntfs-3g)", mnt.options)
	case "fat":
		return fuseFAT("fat (fuseblk)")
	}
	// Not known: assume the common case of a drive for Windows or macOS
	// (names compared without case, 255 UTF-16 units, whole seconds).
	return DestFS{Type: "fuseblk", Fold: FoldUpcase, MaxNameUTF16: 255, TimeGranularity: time.Second, NoModes: true}
}

// bootSectorType reads the first sector of the block device dev and
// returns "exfat", "ntfs", "fat", or "" when it cannot tell.
func bootSectorType(dev string) string {
	if !strings.HasPrefix(dev, "/dev/") {
		return ""
	}
	f, err := os.Open(dev)
	if err != nil {
		return ""
	}
	defer f.Close()
	var b [512]byte
	if _, err := f.ReadAt(b[:], 0); err != nil {
		return ""
	}
	switch {
	case bytes.Equal(b[3:11], []byte("EXFAT   ")):
		return "exfat"
	case bytes.Equal(b[3:11], []byte("NTFS    ")):
		return "ntfs"
	case bytes.HasPrefix(b[82:90], []byte("FAT32")), bytes.HasPrefix(b[54:62], []byte("FAT1")):
		return "fat"
	}
	return ""
}

// udevData is where udev keeps what it knows of each device, readable by
// every user (a seam for tests).
var udevData = "/run/udev/data"

// udevFSType returns the filesystem udev's blkid found on the block device
// dev ("major:minor"): "exfat", "ntfs", "fat", or "" when it cannot tell.
func udevFSType(dev string) string {
	data, err := os.ReadFile(filepath.Join(udevData, "b"+dev))
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		switch line {
		case "E:ID_FS_TYPE=exfat":
			return "exfat"
		case "E:ID_FS_TYPE=ntfs":
			return "ntfs"
		case "E:ID_FS_TYPE=vfat":
			return "fat"
		}
	}
	return ""
}

// findMount returns the mount of the device dev (zero when it is not
// found).
func findMount(dev uint64) mount {
	want := fmt.Sprintf("%d:%d", unix.Major(dev), unix.Minor(dev))
	for _, m := range readMounts() {
		if m.dev == want {
			return m
		}
	}
	return mount{}
}

func hasOption(options, opt string) bool {
	for o := range strings.SplitSeq(options, ",") {
		if o == opt {
			return true
		}
	}
	return false
}

// CaseFolded reports whether the directory dir folds the case of the names
// in it (ext4, f2fs, tmpfs: the FS_CASEFOLD_FL inode flag, inherited by the
// directories made in it).
func CaseFolded(dir string) (bool, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return false, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(fd)
	flags, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	if err != nil {
		if err == unix.ENOTTY || err == unix.EINVAL || err == unix.EOPNOTSUPP {
			return false, nil
		}
		return false, &os.PathError{Op: "FS_IOC_GETFLAGS", Path: dir, Err: err}
	}
	return flags&fsCasefoldFL != 0, nil
}
