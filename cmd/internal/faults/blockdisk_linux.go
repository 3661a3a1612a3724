package faults

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// DiskFS is a journaling filesystem a BlockDisk is made with.
type DiskFS string

// The filesystems of a BlockDisk.
const (
	Ext4 DiskFS = "ext4"
	XFS  DiskFS = "xfs"
)

// Tools returns the programs a BlockDisk of kind k needs.
func (k DiskFS) Tools() []string {
	if k == XFS {
		return []string{"mkfs.xfs", "xfs_repair", "losetup", "cp"}
	}
	return []string{"mkfs.ext4", "e2fsck", "losetup", "cp"}
}

// MinSize is the smallest image of kind k worth making (mkfs.xfs refuses
// less than 300 MiB).
func (k DiskFS) MinSize() int64 {
	if k == XFS {
		return 320 << 20
	}
	return 64 << 20
}

// MakeFSImage makes a filesystem of kind k in a new image file of size
// bytes, with BlockSize sectors and blocks, and every metadata block
// written now (no lazy initialisation after the mount).
func MakeFSImage(k DiskFS, img string, size int64) error {
	f, err := os.OpenFile(img, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	mkfs := exec.Command("mkfs.ext4", "-q", "-F", "-b", "4096", "-m", "0",
		"-E", "lazy_itable_init=0,lazy_journal_init=0,nodiscard", img)
	if k == XFS {
		mkfs = exec.Command("mkfs.xfs", "-q", "-f", "-K", "-s", "size=4096", "-b", "size=4096", img)
	}
	if out, err := mkfs.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w\n%s", mkfs.Args[0], err, out)
	}
	return nil
}

// attachLoop attaches img to a free loop device with BlockSize logical
// sectors, through the page cache (not direct I/O: the loop driver turns
// a flush into fsync of img either way, and a FUSE image must see it).
func attachLoop(img string) (string, error) {
	out, err := exec.Command("losetup", "--find", "--show", "--sector-size", fmt.Sprint(BlockSize), img).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("losetup %s: %w: %s", img, err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// detachLoop detaches the loop device dev, retrying while a driver that
// just let go of it still holds it.
func detachLoop(dev string) error {
	var err error
	for range 50 {
		var out []byte
		if out, err = exec.Command("losetup", "-d", dev).CombinedOutput(); err == nil {
			return nil
		}
		err = fmt.Errorf("losetup -d %s: %w\n%s", dev, err, out)
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// BlockDisk is a real filesystem with its journal on a loop device over
// the image a BlockFS serves: a destination whose power can be cut under
// the filesystem (see BlockFS).
type BlockDisk struct {
	// FS serves the image.
	FS *BlockFS
	// Loop is the loop device.
	Loop string
	// Dir is where the filesystem is mounted.
	Dir  string
	Kind DiskFS

	close sync.Once
	err   error
}

// StartBlockDisk copies template (an image MakeFSImage made) into a new
// BlockFS under base (an empty directory, best on a tmpfs), attaches a loop
// device to it, mounts the filesystem on base/mnt and arms the BlockFS
// (flushes are counted from then on). exe serves the
// BlockFS (see StartBlockFS). Close undoes it.
//
// mountOpts are the filesystem's mount options ("" for the defaults).
func StartBlockDisk(exe string, k DiskFS, template, base, mountOpts string, opts BlockFSOptions) (*BlockDisk, error) {
	live, store, out, fuseDir, mnt := filepath.Join(base, "live"), filepath.Join(base, "store"), filepath.Join(base, "out"), filepath.Join(base, "fuse"), filepath.Join(base, "mnt")
	for _, d := range []string{live, store, out, fuseDir, mnt} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return nil, err
		}
	}
	if err := sparseCopy(template, filepath.Join(live, BlockImageName)); err != nil {
		return nil, err
	}
	bfs, err := StartBlockFS(exe, live, store, out, fuseDir, opts)
	if err != nil {
		return nil, err
	}
	d := &BlockDisk{FS: bfs, Dir: mnt, Kind: k}
	if d.Loop, err = attachLoop(bfs.Image); err != nil {
		return nil, errors.Join(err, bfs.Unmount())
	}
	args := []string{"-t", string(k), d.Loop, mnt}
	if mountOpts != "" {
		args = append(args, "-o", mountOpts)
	}
	if out, err := exec.Command("mount", args...).CombinedOutput(); err != nil {
		return nil, errors.Join(fmt.Errorf("mount %s: %w: %s", d.Loop, err, out), detachLoop(d.Loop), bfs.Unmount())
	}
	if err := bfs.Arm(); err != nil {
		return nil, errors.Join(err, d.Close())
	}
	return d, nil
}

// Close unmounts the filesystem (lazily if busy), detaches the loop device
// and unmounts the BlockFS. Only the first call does anything.
func (d *BlockDisk) Close() error {
	d.close.Do(func() {
		err := Unmount(d.Dir)
		if err == nil {
			err = detachLoop(d.Loop)
		}
		d.err = errors.Join(err, d.FS.Unmount())
	})
	return d.err
}

// MountCrashImage mounts img, an image a cut left, on dir (which must
// exist) through a loop device: it mounts it once so that the kernel
// replays the journal as after a reboot, unmounts it, checks it with the
// filesystem's checker in no-modify mode (e2fsck -fn, xfs_repair -n), which
// must find nothing wrong, and mounts it again. Unmount dir when done (the
// loop device goes with it).
func MountCrashImage(k DiskFS, img, dir string) error {
	opts := "loop"
	if k == XFS {
		opts += ",nouuid" // the images of one cut are copies of one filesystem
	}
	mount := func() error {
		if out, err := exec.Command("mount", "-t", string(k), "-o", opts, img, dir).CombinedOutput(); err != nil {
			return fmt.Errorf("mount %s after the cut: %w: %s", img, err, out)
		}
		return nil
	}
	if err := mount(); err != nil {
		return err
	}
	if err := Unmount(dir); err != nil {
		return err
	}
	check := exec.Command("e2fsck", "-fn", img)
	if k == XFS {
		check = exec.Command("xfs_repair", "-n", "-f", img)
	}
	if out, err := check.CombinedOutput(); err != nil {
		return fmt.Errorf("%s finds %s damaged after the cut: %w\n%s", check.Args[0], img, err, out)
	}
	return mount()
}
