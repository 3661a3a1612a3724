//go:build linux

package uring

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/hashing"
	"github.com/cvv-project/cvv/internal/atomicfile"
	"github.com/cvv-project/cvv/internal/copyfile"
)

// Verification behind the copy (cvv.Job.ReadBack). Each stretch (chunk)
// of the file, once its O_DIRECT write to a destination has completed, is
// on that destination's media: it is read back from there with O_DIRECT
// through the same ring, into a buffer of the transfer's own, and hashed by
// a Stage of that destination's; once every destination's write of the
// stretch is over, the source's stretch is read again the same way. So the
// verification of the first stretches runs while the later ones are still
// copied, and the source is read twice, no more.
//
// Each file is read back in file order: a stretch is read back only once
// the one before it has been (its read may still be in flight), so that the
// Stage never holds buffers waiting for a stretch that has none. While the
// copy still has stretches to read, the read-backs have at most half the
// transfer's buffers; they get buffers before the copy does, so the copy
// never runs far ahead of its verification.
//
// A destination written through the page cache by choice
// (cvv.WriteBuffered) is read back through an O_DIRECT descriptor of its
// own, behindLag+behindWindow bytes behind what was written, where the
// write-behind (of a file long enough to have one) has already waited
// for the writeback of the stretch; once its last stretch is written,
// the rest is read back. An O_DIRECT read of a range that still has dirty
// pages writes them out and waits for them first, so it reads the media
// either way. A source or destination that refuses O_DIRECT and a sparse source
// are not read back here: their result stays nil and the caller verifies
// them after the copy.

// readBack is the read-back of one file behind the copy.
type readBack struct {
	path  string       // for errors: the source, or the destination's final path
	d     *destination // the destination read back; nil for the source
	fd    int
	align int // O_DIRECT alignment of offsets and lengths
	// next is the offset of the next stretch to read back; ready holds the
	// stretches written (for the source: copied everywhere) and not yet
	// read back, offset -> length.
	next     int64
	ready    map[int64]int
	stage    *hashing.Stage
	inflight int
	// err is why a read back failed: nothing more is read, and the result
	// reports it. off means the file is not read back after all (it lost
	// O_DIRECT): no result, the caller verifies it.
	err    error
	off    bool
	result *cvv.ReadBack
	// own is the O_DIRECT descriptor opened for the read-back of a
	// page-cache destination (fd is its), closed at the end; lag is how
	// far behind what was written to it a stretch is read back.
	own *os.File
	lag int64
	// readOK is set by the first read back that succeeds.
	readOK bool
}

// live reports whether rb is still read back.
func (rb *readBack) live() bool {
	return !rb.off && rb.err == nil && (rb.d == nil || rb.d.live())
}

// startReadBacks sets up the read-back of the source and of every
// destination written with O_DIRECT. It runs after start (the Stages'
// capacity is the transfer's buffer count).
func (t *transfer) startReadBacks(alg hashing.Algorithm) {
	if t.srcDirect {
		t.srcRB = t.newReadBack(alg, t.srcPath, nil, t.srcFd, t.srcAlign)
	}
	for _, d := range t.dests {
		switch {
		case !d.live():
		case d.direct:
			d.rb = t.newReadBack(alg, d.final, d, d.fd, d.align)
		case d.pwrite:
			if f, align, ok := openDirect(d.f, t.e.opts.BlockSize); ok {
				d.rb = t.newReadBack(alg, d.final, d, int(f.Fd()), align)
				d.rb.own, d.rb.lag = f, behindLag+behindWindow
			}
		}
	}
}

// openDirect opens f again, read-only with O_DIRECT, through
// /proc/self/fd (the same file, whatever its name is now); ok is false
// where that is not possible.
func openDirect(f *os.File, block int) (g *os.File, align int, ok bool) {
	p := atomicfile.FilePath(f)
	if p == "" {
		return nil, 0, false
	}
	// open(2) and os.NewFile, not os.OpenFile: that would try to put the
	// descriptor in the poller, four fcntl and a failing epoll_ctl for
	// every file read back (copyfile.OpenFile).
	g, err := copyfile.OpenFile(p, os.O_RDONLY|unix.O_DIRECT, 0)
	if err != nil {
		return nil, 0, false
	}
	if align, ok = dioAlign(g, block); !ok {
		g.Close() // read-only, nothing read: nothing to lose
		return nil, 0, false
	}
	return g, align, true
}

func (t *transfer) newReadBack(alg hashing.Algorithm, path string, d *destination, fd, align int) *readBack {
	rb := &readBack{path: path, d: d, fd: fd, align: max(align, 1), ready: make(map[int64]int),
		stage: hashing.NewStage(alg.New(), t.maxBufs+1)}
	t.rbs = append(t.rbs, rb)
	return rb
}

// readBackPending reports whether a file still has stretches to read back.
func (t *transfer) readBackPending() bool {
	for _, rb := range t.rbs {
		if rb.live() && rb.next < t.size {
			return true
		}
	}
	return false
}

// issueReadBacks starts the read-backs that are due, one file after the
// other in turn, while the transfer has buffers for them (see above).
func (t *transfer) issueReadBacks() {
	limit := t.maxBufs
	if t.nextOff < t.size {
		limit = max(1, t.e.pool.share(t.maxBufs)/2)
	}
	for more := true; more; {
		more = false
		for _, rb := range t.rbs {
			n, ok := rb.ready[rb.next]
			if !ok || !rb.live() || t.rbInflight >= limit || !rb.behind(n, t.size) {
				continue
			}
			idx, ok := t.takeBuffer()
			if !ok {
				return
			}
			delete(rb.ready, rb.next)
			c := &chunk{t: t, idx: idx, buf: t.e.pool.bufs[idx], off: rb.next, want: n}
			rb.next += int64(n)
			t.queueReadBack(rb, c)
			more = true
		}
	}
}

// behind reports whether the next stretch of rb, n bytes, is far enough
// behind the copy to be read back: at once for an O_DIRECT destination,
// lag bytes behind for a page-cache one (or once it is written whole,
// size bytes).
func (rb *readBack) behind(n int, size int64) bool {
	if rb.lag == 0 {
		return true
	}
	return rb.next+int64(n)+rb.lag <= rb.d.bytes || rb.d.bytes >= size
}

// queueReadBack queues the read of what is missing of c from rb's file.
func (t *transfer) queueReadBack(rb *readBack, c *chunk) {
	o := &op{c: c, rb: rb, pos: alignDown(c.got, rb.align), end: alignUp(c.want, rb.align), direct: true, fixed: t.e.pool.registered}
	rb.inflight++
	t.rbInflight++
	if rb.d != nil {
		rb.d.inflight++ // the file stays open until the read is back
	}
	t.queue = append(t.queue, o)
}

// readBackOver notes that a read-back operation o is no longer in flight.
func (t *transfer) readBackOver(o *op) {
	o.rb.inflight--
	t.rbInflight--
	if d := o.rb.d; d != nil {
		d.inflight--
		t.closeFailed(d)
	}
}

// completeReadBack handles the completion of a read-back.
func (t *transfer) completeReadBack(o *op, res int) {
	rb, c := o.rb, o.c
	t.readBackOver(o)
	if t.err != nil || !rb.live() {
		t.free <- c.idx
		return
	}
	switch errno := syscall.Errno(-res); {
	case res < 0 && (errno == syscall.EINTR || errno == syscall.EAGAIN):
		t.queueReadBack(rb, c)
	case res < 0 && rb.own != nil && !rb.readOK && refusesDirect(errno):
		// The O_DIRECT descriptor of a page-cache destination opened but
		// cannot read (fusefat: EPERM): no result, the caller verifies
		// the copy after it, as it does where O_DIRECT is refused.
		t.free <- c.idx
		rb.off = true
	case res < 0:
		t.free <- c.idx
		rb.err = &os.PathError{Op: "read back", Path: rb.path, Err: errno}
	case res == 0:
		t.free <- c.idx
		rb.err = fmt.Errorf("read back %s: it ends at %d bytes, %d were written", rb.path, c.off+int64(c.got), t.size)
	default:
		rb.readOK = true
		t.stats.ReadBacks++
		if o.fixed {
			t.stats.FixedReads++
		}
		c.got = max(c.got, min(o.pos+res, c.want))
		if c.got < c.want {
			t.queueReadBack(rb, c)
			return
		}
		c.refs.Store(1)
		rb.stage.Push(c.off, c.buf[:c.want], c.release)
		if t.rbProgress != nil {
			t.rbProgress(int64(c.want))
		}
	}
}

// stalledReadBacks gives up (off) the read-back of every file that waits
// for a stretch nothing will provide: run calls it when nothing is in
// flight and the copy is over. It cannot happen while the marks below
// tile the file; if it did, the caller verifies those files itself.
func (t *transfer) stalledReadBacks() {
	for _, rb := range t.rbs {
		if _, ok := rb.ready[rb.next]; rb.live() && rb.next < t.size && !ok && rb.inflight == 0 {
			rb.off = true
		}
	}
}

// finishReadBacks closes (or, when the transfer failed, aborts) every
// file's Stage and sets its result. It runs after the loop, with nothing in
// flight, before the buffers are waited for.
func (t *transfer) finishReadBacks() {
	for _, rb := range t.rbs {
		if rb.own != nil {
			// Read-only, nothing in flight on it: nothing to lose.
			rb.own.Close()
		}
		switch {
		case t.err != nil || t.allDead || rb.off || (rb.d != nil && !rb.d.live()):
			rb.stage.Abort()
		case rb.err == nil && rb.next < t.size:
			// Cannot happen (see stalledReadBacks); the caller verifies it.
			rb.stage.Abort()
		case rb.err != nil:
			rb.stage.Abort()
			rb.result = &cvv.ReadBack{Err: rb.err}
		default:
			sum, n, err := rb.stage.Close()
			rb.result = &cvv.ReadBack{Hash: sum, Size: n, Err: err}
		}
	}
}

// readBackResult is rb's result, nil if there is none.
func readBackResult(rb *readBack) *cvv.ReadBack {
	if rb == nil {
		return nil
	}
	return rb.result
}

// refusesDirect reports whether errno is how a filesystem refuses an
// O_DIRECT read on a descriptor it let open with O_DIRECT.
func refusesDirect(errno syscall.Errno) bool {
	return errno == syscall.EINVAL || errno == syscall.EPERM || errno == syscall.EOPNOTSUPP
}
