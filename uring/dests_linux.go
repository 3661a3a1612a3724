//go:build linux

package uring

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"

	"github.com/iceber/iouring-go"
	"golang.org/x/sys/unix"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/internal/atomicfile"
	"github.com/cvv-project/cvv/internal/copyfile"
	"github.com/cvv-project/cvv/internal/fserr"
)

// createDests creates the temp file of every destination of job, then
// preallocates each (prealloc) and asks each for its O_DIRECT alignment,
// all of them in one pass through the ring (Engine.meta), and sets each up
// for writing size bytes, the source's layout (setupWrite). A destination
// that cannot be created or preallocated is dead from the start.
func (e *Engine) createDests(job *cvv.Job, size int64, layout *copyfile.Layout, block int) []*destination {
	dests := make([]*destination, len(job.Dests))
	stx := make([]unix.Statx_t, len(job.Dests))
	var ops []metaOp
	var who []int // the destination of each operation
	for i, p := range job.Dests {
		pf, err := createTemp(job.Root(i), p, 0)
		if err != nil {
			dests[i] = &destination{final: p, err: cvv.DestError(err)}
			continue
		}
		pf.SyncFile = e.syncFile
		if s := job.SyncFile(i); s != nil {
			pf.SyncFile = s // wrapped by dropAfterSync below, if buffered
		}
		dests[i] = &destination{final: p, pf: pf, f: pf.File, fd: int(pf.File.Fd()), align: 1, mode: "buffered"}
		fd := dests[i].fd
		if n := prealloc(layout, job.WritePath(i), size, block); n > 0 {
			preallocs.Add(1)
			ops = append(ops, metaOp{iouring.Fallocate(fd, 0, 0, n),
				func() int { return errnoResult(0, unix.Fallocate(fd, 0, 0, n)) }})
			who = append(who, i)
		}
		if job.WritePath(i) != cvv.WriteBuffered {
			st := &stx[i]
			req, err := iouring.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_DIOALIGN, st)
			if err != nil {
				st.Mask = 0 // cannot happen: "" is a valid path
			} else {
				ops = append(ops, metaOp{req, func() int {
					return errnoResult(0, unix.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_DIOALIGN, st))
				}})
				who = append(who, -1-i)
			}
		}
	}
	res, err := e.metaAll(ops)
	for k, i := range who {
		switch {
		case i < 0:
			if err != nil || res[k] < 0 {
				stx[-1-i].Mask = 0 // no alignment known: assume pageSize
			}
		case err != nil:
			e.deadDest(dests[i], err)
		case res[k] < 0:
			ferr := atomicfile.Preallocated(syscall.Errno(-res[k]))
			if ferr == unix.EINTR || ferr == unix.EAGAIN {
				ferr = atomicfile.Preallocate(dests[i].f, prealloc(layout, job.WritePath(i), size, block))
			}
			if ferr != nil {
				e.deadDest(dests[i], &os.PathError{Op: "fallocate", Path: dests[i].final, Err: ferr})
			}
		}
	}
	for i, d := range dests {
		if d.pf != nil {
			if err := setupWrite(d, &stx[i], block, job.WritePath(i), size); err != nil {
				e.deadDest(d, err)
			}
		}
	}
	return dests
}

// prealloc returns how many bytes to preallocate for a copy of size bytes
// of the source (layout) written by path: only the data of a sparse file,
// which its copy's holes skip. A copy written with O_DIRECT is
// preallocated even if a single write fills it: an O_DIRECT write past
// the end of a file with no blocks costs ext4 more than the fallocate it
// saves. One through the page cache (cvv.WriteBuffered, as every file
// under plan.SmallFile is on a destination of its own) follows
// Layout.Prealloc, as in the portable engine: a file of one block or less
// is written by one write, which delayed allocation allocates in one
// piece, and its fallocate would cost a trip through an io_uring worker.
func prealloc(layout *copyfile.Layout, path cvv.WritePath, size int64, block int) int64 {
	switch {
	case path == cvv.WriteBuffered:
		return layout.Prealloc(block)
	case layout.Sparse():
		return 0
	}
	return size
}

// preallocs counts the preallocations asked for, for tests.
var preallocs atomic.Int64

// deadDest fails d, created but not written yet: its temp file goes.
func (e *Engine) deadDest(d *destination, err error) {
	if d.err == nil {
		d.err = cvv.DestError(err)
	}
	d.abort()
}

// metaAll is meta for any number of operations, a ring's worth at a time.
func (e *Engine) metaAll(ops []metaOp) ([]int, error) {
	var all []int
	for start := 0; start < len(ops); start += ringEntries {
		res, err := e.meta(ops[start:min(len(ops), start+ringEntries)])
		if err != nil {
			return nil, err
		}
		all = append(all, res...)
	}
	return all, nil
}

// setupWrite switches d to O_DIRECT unless path is cvv.WriteBuffered or
// the filesystem refuses (stx is d's statx STATX_DIOALIGN, Mask 0 if
// unknown). A destination written buffered by choice has its writes
// made as plain pwrite calls (transfer.writeInline), and its pages
// dropped from the cache once synced (dropAfterSync); if the file, size
// bytes, is at least a write-behind stretch long, it gets a write-behind
// too. A shorter one would never start a stretch: its goroutine would
// only cost a start, a wake-up and a stop per file.
//
// The temp file is created buffered and then switched with fcntl rather
// than opened with O_DIRECT: an O_CREAT open that the filesystem refuses
// for O_DIRECT still creates the file, and the temp name would be lost.
func setupWrite(d *destination, stx *unix.Statx_t, block int, path cvv.WritePath, size int64) error {
	if path == cvv.WriteBuffered {
		if size >= behindWindow {
			d.behind = startWriteBehind(d.fd)
		}
		d.pwrite = true
		d.pf.SyncFile = dropAfterSync(d.pf.SyncFile)
		return nil
	}
	if err := setDirect(d.f); err != nil {
		d.note = "O_DIRECT refused by filesystem: " + fserr.Strip(err).Error()
		return nil
	}
	a, ok := dioAlignOf(stx, block)
	if !ok {
		if err := setFlag(d.f, unix.O_DIRECT, false); err != nil {
			return err
		}
		d.note = fmt.Sprintf("O_DIRECT unusable on this filesystem with %d-byte blocks", block)
		return nil
	}
	d.direct, d.align, d.mode = true, a, "direct"
	return nil
}

// dropAfterSync returns sync followed, once it has succeeded, by dropping
// the file's pages from the page cache (FADV_DONTNEED, best effort): they
// are clean then. The write-behind drops a big file's pages as the copy
// goes, but a file shorter than its window (an image sequence's frames, a
// tree's files) would otherwise leave all its pages cached, and the cache
// would grow by every byte copied: on a VM whose balloon takes free memory
// back, fresh page-cache pages cost page faults in the host, measured at
// 2-4x the CPU of the whole copy (issue 12). Dropped, the same pages serve
// the next files, as they do for cp run right after a cache drop.
func dropAfterSync(sync func(f *os.File, full bool) error) func(f *os.File, full bool) error {
	return func(f *os.File, full bool) error {
		if err := sync(f, full); err != nil {
			return err
		}
		_ = fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
		return nil
	}
}

// syncFile is atomicfile.PendingFile.SyncFile through the ring: fsync
// (full) or fdatasync of f, sent with those of the other files in flight.
func (e *Engine) syncFile(f *os.File, full bool) error {
	fd := int(f.Fd())
	for {
		op := metaOp{iouring.Fdatasync(fd), func() int { return errnoResult(0, unix.Fdatasync(fd)) }}
		if full {
			op = metaOp{iouring.Fsync(fd), func() int { return errnoResult(0, unix.Fsync(fd)) }}
		}
		res, err := e.meta([]metaOp{op})
		if err != nil {
			return err
		}
		switch errno := syscall.Errno(-res[0]); {
		case res[0] >= 0:
			return nil
		case errno == syscall.EINTR || errno == syscall.EAGAIN:
			continue
		default:
			return errno
		}
	}
}

// errnoResult is a system call's outcome as a ring operation's result: n,
// or the negative errno of err.
func errnoResult(n int, err error) int {
	var errno syscall.Errno
	switch {
	case err == nil:
		return n
	case errors.As(err, &errno):
		return -int(errno)
	}
	return -int(syscall.EIO)
}
