package faults

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// MountTmpfs mounts a tmpfs of size bytes on dir, which must exist. It needs
// root.
func MountTmpfs(dir string, size int64) error {
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+strconv.FormatInt(size, 10)); err != nil {
		return &os.PathError{Op: "mount tmpfs", Path: dir, Err: err}
	}
	return nil
}

// RemountReadOnly remounts the filesystem mounted on dir read-only.
func RemountReadOnly(dir string) error {
	if err := unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		return &os.PathError{Op: "remount ro", Path: dir, Err: err}
	}
	return nil
}

// BindReadOnly bind-mounts src on dir and makes the bind read-only.
func BindReadOnly(src, dir string) error {
	if err := unix.Mount(src, dir, "", unix.MS_BIND, ""); err != nil {
		return &os.PathError{Op: "bind", Path: dir, Err: err}
	}
	if err := unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
		_ = unix.Unmount(dir, unix.MNT_DETACH)
		return &os.PathError{Op: "remount bind ro", Path: dir, Err: err}
	}
	return nil
}

// Unmount unmounts dir, lazily if it is busy.
func Unmount(dir string) error {
	err := unix.Unmount(dir, 0)
	if err == unix.EBUSY {
		err = unix.Unmount(dir, unix.MNT_DETACH)
	}
	if err != nil {
		return &os.PathError{Op: "umount", Path: dir, Err: err}
	}
	return nil
}

// FreeBytes returns the bytes available to an unprivileged user on the
// filesystem holding dir.
func FreeBytes(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, &os.PathError{Op: "statfs", Path: dir, Err: err}
	}
	return int64(st.Bavail) * st.Bsize, nil
}

// FillUntilFull writes zeros to a new file path until the filesystem
// holding it reports ENOSPC, and returns the bytes written. The ENOSPC itself
// is the expected outcome; any other error is returned.
func FillUntilFull(path string) (int64, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, err
	}
	buf := make([]byte, 64<<10)
	var n int64
	for {
		w, werr := f.Write(buf)
		n += int64(w)
		if werr != nil {
			cerr := f.Close()
			if pe, ok := werr.(*os.PathError); ok && pe.Err == unix.ENOSPC {
				return n, cerr
			}
			return n, fmt.Errorf("fill %s: %w", path, werr)
		}
	}
}
