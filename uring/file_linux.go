//go:build linux

package uring

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/cvv-project/cvv/internal/atomicfile"
	"github.com/cvv-project/cvv/internal/copyfile"
)

// Seams for tests; production code never changes them.
var (
	// openFile opens a source for Copy or Hash.
	openFile = copyfile.OpenFile
	// createTemp creates a destination's temp file (atomicfile.CreatePending).
	createTemp = atomicfile.CreatePending
	// setDirect switches a temp file just created to O_DIRECT. Its status
	// flags are known (none set), so one F_SETFL does it.
	setDirect = func(f *os.File) error {
		if _, err := unix.FcntlInt(f.Fd(), unix.F_SETFL, unix.O_DIRECT); err != nil {
			return &os.PathError{Op: "fcntl", Path: f.Name(), Err: err}
		}
		return nil
	}
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
