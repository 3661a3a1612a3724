//go:build linux

package uring

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/internal/atomicfile"
	"github.com/cvv-project/cvv/internal/copyfile"
	"github.com/cvv-project/cvv/internal/fserr"
)

// Seams for tests; production code never changes them.
var (
	// openFile opens a source for Copy or Hash.
	openFile = copyfile.OpenFile
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
// with buffers of block bytes.
func dioAlign(f *os.File, block int) (align int, ok bool) {
	var st unix.Statx_t
	if err := unix.Statx(int(f.Fd()), "", unix.AT_EMPTY_PATH, unix.STATX_DIOALIGN, &st); err != nil {
		return pageSize, true
	}
	return dioAlignOf(&st, block)
}

// dioAlignOf is dioAlign from a statx already made. Without
// STATX_DIOALIGN (kernels before 6.1) it assumes 4096, which covers 512-
// and 4096-byte logical blocks.
func dioAlignOf(st *unix.Statx_t, block int) (align int, ok bool) {
	if st.Mask&unix.STATX_DIOALIGN == 0 {
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

// statSource is the stat of copyfile.OpenSource for a source: one statx
// that also asks for the O_DIRECT alignment, kept in *stx.
func statSource(stx *unix.Statx_t) func(*os.File) (os.FileInfo, error) {
	return func(f *os.File) (os.FileInfo, error) {
		err := unix.Statx(int(f.Fd()), "", unix.AT_EMPTY_PATH, unix.STATX_BASIC_STATS|unix.STATX_DIOALIGN, stx)
		if err != nil {
			return nil, &os.PathError{Op: "statx", Path: f.Name(), Err: err}
		}
		return atomicfile.StatxInfo(f.Name(), stx), nil
	}
}

// openSource opens path for reading, with O_DIRECT unless the filesystem
// refuses it, and returns its Stat; align is the O_DIRECT alignment when
// direct.
func openSource(path string, block int) (f *os.File, fi os.FileInfo, direct bool, align int, err error) {
	var stx unix.Statx_t
	f, fi, err = copyfile.OpenSource(openFile, statSource(&stx), path, os.O_RDONLY|unix.O_DIRECT|unix.O_CLOEXEC)
	if errors.Is(err, syscall.EINVAL) {
		f, fi, err = copyfile.OpenSource(openFile, nil, path, os.O_RDONLY|unix.O_CLOEXEC)
		return f, fi, false, 1, err
	}
	if err != nil {
		return nil, nil, false, 0, err
	}
	if a, ok := dioAlignOf(&stx, block); ok {
		return f, fi, true, a, nil
	}
	if err := setFlag(f, unix.O_DIRECT, false); err != nil {
		f.Close()
		return nil, nil, false, 0, err
	}
	return f, fi, false, 1, nil
}

// createDest creates and preallocates the temp file of final below root
// (copyfile.CreateTemp), switched to O_DIRECT unless path is
// cvv.WriteBuffered or the filesystem refuses. A destination written
// buffered by choice gets a write-behind.
//
// The temp file is created buffered and then switched with fcntl rather
// than opened with O_DIRECT: an O_CREAT open that the filesystem refuses
// for O_DIRECT still creates the file, and the temp name would be lost.
func createDest(root *atomicfile.Dir, final string, size int64, block int, path cvv.WritePath) (d *destination, err error) {
	pf, err := copyfile.CreateTemp(createTemp, root, final, size)
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
