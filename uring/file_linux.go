//go:build linux

package uring

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/internal/atomicfile"
	"github.com/cvv-project/cvv/internal/fserr"
)

// Seams for tests; production code never changes them.
var (
	// openFile opens a source for Copy or Hash.
	openFile = os.OpenFile
	// createTemp creates a destination's temp file (atomicfile.CreatePending).
	createTemp = atomicfile.CreatePending
	// setDirect switches an open destination to O_DIRECT.
	setDirect = func(f *os.File) error { return setFlag(f, unix.O_DIRECT, true) }
)

// setFlag sets or clears the file status flag flag (O_DIRECT) on f.
func setFlag(f *os.File, flag int, on bool) error {
	fd := int(f.Fd())
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return &os.PathError{Op: "fcntl", Path: f.Name(), Err: err}
	}
	if on {
		fl |= flag
	} else {
		fl &^= flag
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl); err != nil {
		return &os.PathError{Op: "fcntl", Path: f.Name(), Err: err}
	}
	return nil
}

// dioAlign returns the alignment O_DIRECT needs for offsets, lengths and
// memory on f (statx STATX_DIOALIGN), or ok=false if f cannot do O_DIRECT
// with buffers of block bytes. Without STATX_DIOALIGN (kernels before 6.1)
// it assumes 4096, which covers 512- and 4096-byte logical blocks.
func dioAlign(f *os.File, block int) (align int, ok bool) {
	var st unix.Statx_t
	err := unix.Statx(int(f.Fd()), "", unix.AT_EMPTY_PATH, unix.STATX_DIOALIGN, &st)
	if err != nil || st.Mask&unix.STATX_DIOALIGN == 0 {
		return pageSize, true
	}
	if st.Dio_offset_align == 0 || st.Dio_mem_align == 0 {
		return 0, false // this file cannot do O_DIRECT
	}
	align = int(max(st.Dio_offset_align, st.Dio_mem_align))
	if st.Dio_mem_align > pageSize || block%align != 0 {
		return 0, false
	}
	return align, true
}

// openSource opens path for reading, with O_DIRECT unless the filesystem
// refuses it; align is the O_DIRECT alignment when direct.
func openSource(path string, block int) (f *os.File, direct bool, align int, err error) {
	direct, align = true, 1
	f, err = openFile(path, os.O_RDONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if errors.Is(err, syscall.EINVAL) {
		direct = false
		f, err = openFile(path, os.O_RDONLY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return nil, false, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, false, 0, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, false, 0, &os.PathError{Op: "open", Path: path, Err: errors.New("not a regular file")}
	}
	if !direct {
		return f, false, 1, nil
	}
	if a, ok := dioAlign(f, block); ok {
		return f, true, a, nil
	}
	if err := setFlag(f, unix.O_DIRECT, false); err != nil {
		f.Close()
		return nil, false, 0, err
	}
	return f, false, 1, nil
}

// createDest creates the temp file of final below root (see
// atomicfile.CreatePending), switched to O_DIRECT unless path is
// cvv.WriteBuffered or the filesystem refuses, and preallocates size bytes.
// A destination written buffered by choice gets a write-behind.
//
// The temp file is created buffered and then switched with fcntl rather
// than opened with O_DIRECT: an O_CREAT open that the filesystem refuses
// for O_DIRECT still creates the file, and the temp name would be lost.
func createDest(root *atomicfile.Dir, final string, size int64, block int, path cvv.WritePath) (d *destination, err error) {
	pf, err := createTemp(root, final, 0)
	if err != nil {
		return nil, err
	}
	f := pf.File
	d = &destination{final: final, pf: pf, f: f, fd: int(f.Fd()), align: 1, mode: "buffered"}
	if path == cvv.WriteBuffered {
		d.behind = startWriteBehind(d.fd)
	} else if derr := setDirect(f); derr != nil {
		d.note = "O_DIRECT refused by filesystem: " + fserr.Strip(derr).Error()
	} else if a, ok := dioAlign(f, block); !ok {
		if err := setFlag(f, unix.O_DIRECT, false); err != nil {
			pf.Abort()
			return nil, err
		}
		d.note = fmt.Sprintf("O_DIRECT unusable on this filesystem with %d-byte blocks", block)
	} else {
		d.direct, d.align, d.mode = true, a, "direct"
	}
	if err := atomicfile.Preallocate(f, size); err != nil {
		d.stopBehind()
		pf.Abort()
		return nil, &os.PathError{Op: "fallocate", Path: final, Err: err}
	}
	return d, nil
}

// stopBehind ends d's write-behind, if it has one; d's file may then be
// closed.
func (d *destination) stopBehind() {
	if d.behind != nil {
		d.behind.stop()
		d.behind = nil
	}
}

// abort removes d's temp file, if it still has one. The kernel must have
// no operation on it left.
func (d *destination) abort() {
	d.stopBehind()
	if d.pf != nil {
		d.pf.Abort()
		d.pf, d.f = nil, nil
	}
}

// dropCache writes back f's dirty pages and drops its cached ones so that
// buffered reads come from the media.
func dropCache(f *os.File) error {
	fd := int(f.Fd())
	if err := unix.Fdatasync(fd); err != nil {
		return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: err}
	}
	if err := unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED); err != nil {
		return &os.PathError{Op: "fadvise", Path: f.Name(), Err: err}
	}
	return nil
}

// checkUnchanged fails with cvv.ErrSourceChanged if f's size or
// modification time moved since before.
func checkUnchanged(f *os.File, before os.FileInfo) error {
	after, err := f.Stat()
	if err != nil {
		return err
	}
	if after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) {
		return fmt.Errorf("%w: %s (size %d -> %d, mtime %s -> %s)", cvv.ErrSourceChanged, f.Name(),
			before.Size(), after.Size(), before.ModTime().Format(time.RFC3339Nano), after.ModTime().Format(time.RFC3339Nano))
	}
	return nil
}
