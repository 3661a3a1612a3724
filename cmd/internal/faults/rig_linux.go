package faults

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

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

// ImageKind is a filesystem made in an image file and mounted through a
// FUSE driver on a loop device: the real drivers of the drives that leave
// a set (this kernel may have no vfat or exfat driver).
type ImageKind string

// The image kinds and the tools each needs.
const (
	// ExFATFuse is exFAT (mkfs.exfat from exfatprogs) through exfat-fuse.
	ExFATFuse ImageKind = "exfat-fuse"
	// FATFuse is FAT32 (mkfs.vfat from dosfstools) through fusefat.
	FATFuse ImageKind = "fusefat"
)

// Tools returns the programs an image of kind k needs.
func (k ImageKind) Tools() []string {
	if k == ExFATFuse {
		return []string{"mkfs.exfat", "mount.exfat-fuse", "losetup"}
	}
	return []string{"mkfs.vfat", "fusefat", "losetup"}
}

// Image is a mounted filesystem image.
type Image struct {
	// Dir is where it is mounted.
	Dir string
	// Loop is its loop device.
	Loop string
	kind ImageKind
}

// MountImage makes a filesystem of kind in a new image file img of size
// bytes, attaches it to a free loop device and mounts it on dir (which must
// exist) through the kind's FUSE driver. It needs root. Close undoes it all
// but the image file.
func MountImage(kind ImageKind, img, dir string, size int64) (*Image, error) {
	f, err := os.OpenFile(img, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	err = f.Truncate(size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	mkfs := exec.Command("mkfs.vfat", "-F", "32", img)
	if kind == ExFATFuse {
		mkfs = exec.Command("mkfs.exfat", img)
	}
	if out, err := mkfs.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s: %w\n%s", mkfs.Args[0], err, out)
	}
	out, err := exec.Command("losetup", "--find", "--show", img).Output()
	if err != nil {
		return nil, fmt.Errorf("losetup %s: %w", img, err)
	}
	m := &Image{Dir: dir, Loop: strings.TrimSpace(string(out)), kind: kind}
	mnt := exec.Command("fusefat", "-o", "rw+", m.Loop, dir)
	if kind == ExFATFuse {
		mnt = exec.Command("mount.exfat-fuse", m.Loop, dir)
	}
	if out, err := mnt.CombinedOutput(); err != nil {
		m.detach()
		return nil, fmt.Errorf("%s: %w\n%s", mnt.Args[0], err, out)
	}
	return m, nil
}

// Alive reports whether the FUSE driver still serves the mount (a driver
// that died leaves "transport endpoint is not connected").
func (m *Image) Alive() error {
	_, err := os.ReadDir(m.Dir)
	return err
}

// Close unmounts the image (lazily if busy) and detaches its loop device.
func (m *Image) Close() error {
	err := Unmount(m.Dir)
	if derr := m.detach(); err == nil {
		err = derr
	}
	return err
}

func (m *Image) detach() error { return detachLoop(m.Loop) }
