//go:build linux

package uring

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/iceber/iouring-go"
	iouring_syscall "github.com/iceber/iouring-go/syscall"
	"golang.org/x/sys/unix"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/hashing"
	"github.com/cvv-project/cvv/internal/atomicfile"
	"github.com/cvv-project/cvv/internal/copyfile"
)

// completion is what the test hook sees of a completed operation.
type completion struct {
	Write    bool   // a write to a destination (else a read)
	ReadBack bool   // a read behind the copy (cvv.Job.ReadBack)
	Path     string // the source, or the destination's final path
	Off      int64  // file offset of the operation
	Len      int    // bytes asked for
	Res      int32  // the kernel's result: bytes, or a negative errno
}

// completionHook, when set by a test, sees every completion and returns the
// result the engine acts on (a short count, -ENOSPC, -EIO, ...).
var completionHook func(c completion) int32

// maxZeroWrites is how many times a write that wrote nothing is retried
// before it counts as an error.
const maxZeroWrites = 3

// destination is one destination of a Copy.
type destination struct {
	final      string
	pf         *atomicfile.PendingFile // the temp file; nil once committed or aborted
	f          *os.File                // pf.File
	fd         int
	direct     bool // writes go out with O_DIRECT
	directOK   bool // an O_DIRECT write has succeeded (EINVAL is then an error)
	align      int  // O_DIRECT alignment of offsets and lengths
	mode, note string
	bytes      int64 // data bytes written
	end        int64 // the end of the furthest write (a padded tail included)
	inflight   int   // writes in the kernel's hands
	// behind starts the writeback of a cvv.WriteBuffered destination
	// behind the copy; nil for the others.
	behind *writeBehind
	// pwrite: the destination's writes are plain pwrite calls on the
	// loop's goroutine, not ring operations (a cvv.WriteBuffered
	// destination, see transfer.writeInline).
	pwrite bool
	// rb reads the copy back behind the copy (cvv.Job.ReadBack); nil if
	// it is not read back here.
	rb  *readBack
	err error
}

// chunk is one block of the source, read into pool buffer idx.
type chunk struct {
	t    *transfer
	idx  int
	buf  []byte // the whole buffer
	off  int64  // file offset
	want int    // data bytes: min(block, size-off)
	got  int    // data bytes read so far
	// writes counts destination writes not yet finished.
	writes int
	// lost marks a chunk whose operation may be in the kernel's hands
	// though its submission failed: its buffer is never reused.
	lost bool
	// refs counts holders: the writes and the hashing Stage. The last one
	// gives the buffer back.
	refs atomic.Int32
}

// release drops one holder; the last gives the buffer back to the transfer.
// It runs on the loop's goroutine or the Stage's.
func (c *chunk) release() {
	if c.refs.Add(-1) == 0 {
		c.t.free <- c.idx
	}
}

// op is one read or write on the ring.
type op struct {
	write  bool
	c      *chunk
	d      *destination // nil for a read
	rb     *readBack    // a read-back behind the copy (c is its own chunk)
	pos    int          // start within the buffer
	end    int          // end within the buffer (past the data for a padded tail)
	direct bool         // submitted to a file in O_DIRECT mode
	fixed  bool         // READ_FIXED / WRITE_FIXED
	zeros  int          // writes that wrote nothing, in a row
}

// transfer is one Copy or Hash: the source, its destinations (none for a
// Hash), and the submission loop's state. Everything but chunk.release and
// the free channel belongs to the loop's goroutine.
type transfer struct {
	e         *Engine
	ctx       context.Context
	src       *os.File
	srcPath   string
	srcFd     int
	srcDirect bool
	srcDirOK  bool // an O_DIRECT read has succeeded
	srcAlign  int
	size      int64
	// layout finds the source's data; its holes are hashed as zeros and
	// neither read nor written. dataEnd is the end of the data region
	// nextOff is in, align what the regions are widened to (O_DIRECT).
	layout  *copyfile.Layout
	dataEnd int64
	align   int
	// dropCache, for Hash: flush cached pages if O_DIRECT is refused late.
	dropCache bool
	dests     []*destination
	progress  func(int64)

	stage   *hashing.Stage
	maxBufs int      // the most buffers the transfer may hold
	held    int      // buffers taken from the pool and not given back
	joined  bool     // counted among the pool's users
	free    chan int // this transfer's free buffers
	spare   []int    // buffers taken off free, not yet used
	lost    int      // buffers the kernel may still hold after a failed submit
	slots   int      // ring slots reserved
	results chan iouring.Result

	nextOff  int64
	inflight int
	queue    []*op
	err      error // source error, cancellation, submit failure: the end
	stats    cvv.Stats
	sum      string
	hashed   int64
	allDead  bool // every destination failed

	// The verification behind the copy (readback_linux.go): readBack asks
	// for it; srcRB and each destination's rb are the files read back,
	// rbs all of them.
	readBack   bool
	srcRB      *readBack
	rbs        []*readBack
	rbInflight int
	rbProgress func(int64)
}

// start reserves ring slots and a first share of buffers and starts the
// hashing Stage. The transfer may hold up to maxBufs buffers; how many it
// holds at a time follows the pool's fair share (see takeBuffer).
func (t *transfer) start(alg hashing.Algorithm) error {
	block := int64(t.e.opts.BlockSize)
	depth := int64(t.e.opts.QueueDepth)
	if t.readBack {
		depth *= 2 // as many buffers again for the read-backs
	}
	want := min(depth, int64(len(t.e.pool.bufs)), (t.size+block-1)/block)
	if want == 0 {
		t.stage = hashing.NewStage(alg.New(), 1)
		return nil
	}
	per := max(1, len(t.dests)) // operations one buffer can have in flight
	t.maxBufs = int(min(want, int64(cqEntries/per)))
	t.slots = t.maxBufs * per
	if err := t.e.slots.Acquire(t.ctx, int64(t.slots)); err != nil {
		t.slots = 0
		return err
	}
	t.e.pool.join()
	t.joined = true
	bufs, err := t.e.pool.reserve(t.ctx, t.e.pool.share(t.maxBufs))
	if err != nil {
		t.e.pool.leave()
		t.joined = false
		t.e.slots.Release(int64(t.slots))
		t.slots = 0
		return err
	}
	t.held = len(bufs)
	t.free = make(chan int, t.maxBufs)
	t.spare = append(t.spare, bufs...)
	t.results = make(chan iouring.Result, t.slots)
	t.stage = hashing.NewStage(alg.New(), t.maxBufs+1)
	return nil
}

// finish stops the Stage, waits for every buffer to come back and returns
// the buffers and slots. It runs after the loop, with nothing in flight.
func (t *transfer) finish() {
	if t.err == nil && !t.allDead {
		sum, n, err := t.stage.Close()
		if err != nil {
			t.err = fmt.Errorf("hash %s: %w", t.srcPath, err)
		}
		t.sum, t.hashed = sum, n
	} else {
		t.stage.Abort()
	}
	t.finishReadBacks()
	back := len(t.spare)
	for _, i := range t.spare {
		t.e.pool.put(i)
	}
	t.spare = nil
	for ; back < t.held-t.lost; back++ {
		t.e.pool.put(<-t.free)
	}
	t.held = t.lost
	if t.joined {
		t.e.pool.leave()
		t.joined = false
	}
	if t.slots > 0 {
		t.e.slots.Release(int64(t.slots))
		t.slots = 0
	}
}

// takeBuffer returns a buffer for the next read without waiting: one of
// the transfer's own that has come back, or a new one from the pool while
// the transfer holds less than its fair share. Buffers above the share
// (other transfers have started since) go back to the pool on the way.
func (t *transfer) takeBuffer() (int, bool) {
	share := t.e.pool.share(t.maxBufs)
	for {
		idx, ok := t.returned()
		if !ok {
			if t.held < share {
				select {
				case idx = <-t.e.pool.free:
					t.held++
					return idx, true
				default:
				}
			}
			return 0, false
		}
		if t.held > share {
			t.e.pool.put(idx)
			t.held--
			continue
		}
		return idx, true
	}
}

// returned takes, without waiting, one of the transfer's own buffers that
// has come back: a spare one, or one handed back on t.free.
func (t *transfer) returned() (int, bool) {
	if n := len(t.spare); n > 0 {
		idx := t.spare[n-1]
		t.spare = t.spare[:n-1]
		return idx, true
	}
	select {
	case idx := <-t.free:
		return idx, true
	default:
		return 0, false
	}
}

// giveBack returns to the pool the buffers that have come back once the
// last read is issued, so that other transfers need not wait for this one
// to end.
func (t *transfer) giveBack() {
	for {
		idx, ok := t.returned()
		if !ok {
			return
		}
		t.e.pool.put(idx)
		t.held--
	}
}

// fail ends the transfer with err unless it has already ended.
func (t *transfer) fail(err error) {
	if t.err == nil {
		t.err = err
	}
}

// live reports whether d is still written to.
func (d *destination) live() bool { return d.err == nil }

// run is the submission loop: keep up to the reserved number of chunks in
// flight, write each chunk that is read to every live destination in one
// batched submission, and wait for completions. It returns with nothing in
// flight.
func (t *transfer) run() {
	for {
		if t.err == nil {
			if err := t.ctx.Err(); err != nil {
				t.fail(fmt.Errorf("%s: %w", t.srcPath, err))
			}
		}
		if t.err == nil && !t.allDead {
			t.issueReadBacks()
			t.issueReads()
		}
		if t.nextOff >= t.size && !t.readBackPending() {
			t.giveBack()
		}
		t.submit()
		if t.inflight == 0 {
			if t.nextOff >= t.size {
				t.stalledReadBacks()
			}
			if t.err != nil || t.allDead || t.nextOff >= t.size && !t.readBackPending() {
				return
			}
			// Every buffer is with the hasher: wait for one (or for a
			// new one from the pool, below the fair share).
			var pool chan int
			if t.held < t.e.pool.share(t.maxBufs) {
				pool = t.e.pool.free
			}
			select {
			case i := <-t.free:
				t.spare = append(t.spare, i)
			case i := <-pool:
				t.held++
				t.spare = append(t.spare, i)
			case <-t.ctx.Done():
			}
			continue
		}
		select {
		case r := <-t.results:
			t.complete(r)
		case <-t.ctx.Done():
			// Noted at the top of the loop; what is in flight still
			// completes below before any buffer or file is let go.
			t.fail(fmt.Errorf("%s: %w", t.srcPath, t.ctx.Err()))
			continue
		}
		for more := true; more; {
			select {
			case r := <-t.results:
				t.complete(r)
			default:
				more = false
			}
		}
	}
}

// issueReads starts reads of the next chunks while buffers are free.
func (t *transfer) issueReads() {
	for t.nextOff < t.size {
		if t.nextOff >= t.dataEnd {
			t.skipHole()
			continue
		}
		idx, ok := t.takeBuffer()
		if !ok {
			return
		}
		c := &chunk{t: t, idx: idx, buf: t.e.pool.bufs[idx], off: t.nextOff}
		c.want = int(min(int64(len(c.buf)), t.dataEnd-t.nextOff))
		t.nextOff += int64(c.want)
		t.queueRead(c)
	}
}

// skipHole moves nextOff to the next data region, handing the hole before
// it to the hasher as zeros: it is neither read nor written.
func (t *transfer) skipHole() {
	start, end := t.layout.Next(t.nextOff, t.align)
	if hole := start - t.nextOff; hole > 0 {
		t.stage.PushZeros(t.nextOff, hole)
		if t.progress != nil {
			t.progress(hole)
		}
	}
	t.nextOff, t.dataEnd = start, end
}

// queueRead queues the read of what is missing of c.
func (t *transfer) queueRead(c *chunk) {
	o := &op{c: c, pos: c.got, end: c.want, direct: t.srcDirect, fixed: t.e.pool.registered}
	if o.direct {
		o.pos = alignDown(c.got, t.srcAlign)
		o.end = alignUp(c.want, t.srcAlign)
	}
	t.queue = append(t.queue, o)
}

// queueWrite queues the write of c to d from byte pos of the buffer.
func (t *transfer) queueWrite(c *chunk, d *destination, pos int) {
	o := &op{write: true, c: c, d: d, pos: pos, end: c.want, direct: d.direct, fixed: t.e.pool.registered && !d.pwrite}
	if o.direct {
		o.pos = alignDown(pos, d.align)
		o.end = alignUp(c.want, d.align)
	}
	if o.pos >= o.end {
		// Nothing left (a buffered retry of an already written tail).
		d.bytes += int64(c.want)
		t.writeDone(c)
		return
	}
	d.inflight++
	t.queue = append(t.queue, o)
}

// submit hands the queued operations to the ring, at most a ring's worth
// per call, then does the queued writes to pwrite destinations
// (writeInline), until nothing is queued.
func (t *transfer) submit() {
	for len(t.queue) > 0 {
		if t.err != nil {
			t.dropQueued()
			return
		}
		t.dropDead()
		var inline []*op
		keep := t.queue[:0]
		for _, o := range t.queue {
			if o.write && o.d.pwrite {
				inline = append(inline, o)
			} else {
				keep = append(keep, o)
			}
		}
		clear(t.queue[len(keep):])
		t.queue = keep
		t.submitRing()
		t.writeInline(inline)
	}
}

// dropQueued ends the queued operations of a transfer that is over: they
// never start.
func (t *transfer) dropQueued() {
	for _, o := range t.queue {
		switch {
		case o.write:
			o.d.inflight--
			t.writeDone(o.c)
			t.closeFailed(o.d)
		case o.rb != nil:
			t.readBackOver(o)
			t.free <- o.c.idx
		default:
			t.free <- o.c.idx
		}
	}
	clear(t.queue)
	t.queue = t.queue[:0]
}

// dropDead drops the queued writes for a destination that has failed
// since, and the read-backs of a file no longer read back: they never
// start.
func (t *transfer) dropDead() {
	keep := t.queue[:0]
	for _, o := range t.queue {
		if o.write && !o.d.live() {
			o.d.inflight--
			t.writeDone(o.c)
			t.closeFailed(o.d)
			continue
		}
		if o.rb != nil && !o.rb.live() {
			t.readBackOver(o)
			t.free <- o.c.idx
			continue
		}
		keep = append(keep, o)
	}
	clear(t.queue[len(keep):])
	t.queue = keep
}

// submitRing submits the queued operations to the ring.
func (t *transfer) submitRing() {
	for start := 0; start < len(t.queue); {
		batch := t.queue[start:min(len(t.queue), start+ringEntries)]
		start += len(batch)
		reqs := make([]iouring.PrepRequest, len(batch))
		for i, o := range batch {
			reqs[i] = t.prep(o)
		}
		_, err := t.e.ring.SubmitRequests(reqs, t.results)
		t.stats.Submits++
		if err != nil {
			// The entries may or may not have reached the kernel: their
			// chunks' buffers never go back to the pool (their writes
			// never count as done) and the transfer ends.
			t.fail(fmt.Errorf("io_uring submit: %w", err))
			for _, o := range batch {
				if !o.c.lost {
					o.c.lost = true
					t.lost++
				}
				if o.write {
					o.d.inflight--
				}
				if o.rb != nil {
					o.rb.inflight--
					t.rbInflight--
					if o.rb.d != nil {
						o.rb.d.inflight--
					}
				}
			}
			continue
		}
		t.inflight += len(batch)
	}
	clear(t.queue)
	t.queue = t.queue[:0]
}

// writeInline does writes to pwrite destinations with pwrite, in order,
// after the reads and the other writes of the same round are in the
// kernel's hands. On a page-cache destination a write is a copy into the
// cache that the ring would hand to one of its worker threads anyway
// (ext4 and most filesystems cannot do it without blocking): done here,
// it costs no thread wake-up and no completion to reap (issue 12: 20%
// less CPU and a third fewer context switches for a 2 GiB copy on one
// disk). Retries (a short write, EINTR) are queued as from the ring.
func (t *transfer) writeInline(ops []*op) {
	for _, o := range ops {
		if t.err != nil || !o.d.live() {
			o.d.inflight--
			t.writeDone(o.c)
			t.closeFailed(o.d)
			continue
		}
		n, err := unix.Pwrite(o.d.fd, o.c.buf[o.pos:o.end], o.c.off+int64(o.pos))
		if err != nil {
			n = -int(errnoOf(err))
		}
		t.result(o, n)
	}
}

// errnoOf is the errno of a failed system call (EIO if it has none).
func errnoOf(err error) syscall.Errno {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return syscall.EIO
}

// prep returns the request for o: READ_FIXED/WRITE_FIXED on a registered
// buffer, READ/WRITE otherwise.
func (t *transfer) prep(o *op) iouring.PrepRequest {
	fd := t.srcFd
	opcode := iouring_syscall.IORING_OP_READ
	if o.write {
		fd = o.d.fd
		opcode = iouring_syscall.IORING_OP_WRITE
	}
	if o.rb != nil {
		fd = o.rb.fd
	}
	if o.fixed {
		opcode = iouring_syscall.IORING_OP_READ_FIXED
		if o.write {
			opcode = iouring_syscall.IORING_OP_WRITE_FIXED
		}
	}
	addr := uint64(uintptr(unsafe.Pointer(&o.c.buf[o.pos])))
	n := uint32(o.end - o.pos)
	off := uint64(o.c.off + int64(o.pos))
	idx := uint16(o.c.idx)
	return func(sqe iouring_syscall.SubmissionQueueEntry, ud *iouring.UserData) {
		sqe.PrepOperation(opcode, int32(fd), addr, n, off)
		if o.fixed {
			sqe.SetBufIndex(idx)
		}
		ud.SetRequestInfo(o)
	}
}

// complete handles one completion.
func (t *transfer) complete(r iouring.Result) {
	t.inflight--
	o := r.GetRequestInfo().(*op)
	res, err := r.(iouring.Request).GetRes()
	if err != nil {
		// Cannot happen for a result the ring delivered.
		res = -int(syscall.EIO)
	}
	t.result(o, res)
}

// result acts on the result res of o: bytes, or a negative errno.
func (t *transfer) result(o *op, res int) {
	if hook := completionHook; hook != nil {
		path := t.srcPath
		switch {
		case o.write:
			path = o.d.final
		case o.rb != nil:
			path = o.rb.path
		}
		res = int(hook(completion{Write: o.write, ReadBack: o.rb != nil, Path: path, Off: o.c.off + int64(o.pos), Len: o.end - o.pos, Res: int32(res)}))
	}
	switch {
	case o.write:
		t.completeWrite(o, res)
	case o.rb != nil:
		t.completeReadBack(o, res)
	default:
		t.completeRead(o, res)
	}
}

func (t *transfer) completeRead(o *op, res int) {
	c := o.c
	if t.err != nil {
		t.free <- c.idx
		return
	}
	switch errno := syscall.Errno(-res); {
	case res < 0 && (errno == syscall.EINTR || errno == syscall.EAGAIN):
		t.queue = append(t.queue, o)
	case res < 0 && errno == syscall.EINVAL && o.direct && !t.srcDirOK:
		// The filesystem refused O_DIRECT at the first read: go on
		// buffered through the same ring.
		if err := setFlag(t.src, unix.O_DIRECT, false); err != nil {
			t.free <- c.idx
			t.fail(err)
			return
		}
		if t.dropCache {
			_ = copyfile.DropCache(t.src) // best effort, as in Hash
		}
		t.srcDirect, t.srcAlign = false, 1
		if t.srcRB != nil {
			t.srcRB.off = true // a read back would come from the page cache
		}
		t.queueRead(c)
	case res < 0:
		t.free <- c.idx
		t.fail(&os.PathError{Op: "read", Path: t.srcPath, Err: errno})
	case res == 0:
		t.free <- c.idx
		t.fail(fmt.Errorf("%w: %s ended at %d bytes, expected %d", cvv.ErrSourceChanged, t.srcPath, c.off+int64(c.got), t.size))
	default:
		t.stats.Reads++
		if o.fixed {
			t.stats.FixedReads++
		}
		if o.direct {
			t.srcDirOK = true
		}
		c.got = max(c.got, min(o.pos+res, c.want))
		if c.got < c.want {
			t.queueRead(c)
			return
		}
		t.chunkRead(c)
	}
}

// chunkRead hands a fully read chunk to the hasher and to every live
// destination, all its writes going into the next submission.
func (t *transfer) chunkRead(c *chunk) {
	var pad int
	for _, d := range t.dests {
		if d.live() && d.direct {
			pad = max(pad, alignUp(c.want, d.align))
		}
	}
	if pad > c.want {
		clear(c.buf[c.want:pad])
	}
	c.refs.Store(2)
	t.stage.Push(c.off, c.buf[:c.want], c.release)
	for _, d := range t.dests {
		if d.live() {
			c.writes++
		}
	}
	if c.writes == 0 {
		if len(t.dests) > 0 {
			t.allDead = true
		}
		t.chunkWritten(c)
		return
	}
	for _, d := range t.dests {
		if d.live() {
			t.queueWrite(c, d, 0)
		}
	}
}

func (t *transfer) completeWrite(o *op, res int) {
	c, d := o.c, o.d
	d.inflight--
	if t.err != nil || !d.live() {
		t.writeDone(c)
		t.closeFailed(d)
		return
	}
	switch errno := syscall.Errno(-res); {
	case res < 0 && (errno == syscall.EINTR || errno == syscall.EAGAIN):
		d.inflight++
		t.queue = append(t.queue, o)
	case res < 0 && errno == syscall.EINVAL && o.direct && !d.directOK:
		// The filesystem refused O_DIRECT at the first write: go on
		// buffered through the same ring.
		if d.direct {
			if err := setFlag(d.f, unix.O_DIRECT, false); err != nil {
				t.destFailed(d, err)
				t.writeDone(c)
				return
			}
			d.direct, d.align, d.mode = false, 1, "buffered"
			d.note = "O_DIRECT refused by filesystem at the first write: " + errno.Error()
			if d.rb != nil {
				d.rb.off = true // a read back would come from the page cache
			}
		}
		t.queueWrite(c, d, o.pos)
	case res < 0:
		t.destFailed(d, &os.PathError{Op: "write", Path: d.final, Err: errno})
		t.writeDone(c)
	case res == 0:
		if o.zeros++; o.zeros > maxZeroWrites {
			t.destFailed(d, &os.PathError{Op: "write", Path: d.final, Err: io.ErrShortWrite})
			t.writeDone(c)
			return
		}
		d.inflight++
		t.queue = append(t.queue, o)
	default:
		t.stats.Writes++
		if o.fixed {
			t.stats.FixedWrites++
		}
		if o.direct {
			d.directOK = true
		}
		o.zeros = 0
		if o.pos+res < o.end {
			// Short write: the rest, from an aligned point if O_DIRECT.
			// Bytes written twice are the same bytes.
			t.queueWrite(c, d, o.pos+res)
			return
		}
		d.bytes += int64(c.want)
		d.end = max(d.end, c.off+int64(o.end))
		if d.behind != nil {
			d.behind.written(c.off, c.off+int64(c.want))
		}
		if d.rb != nil {
			// On the media: an O_DIRECT write is complete.
			d.rb.ready[c.off] = c.want
		}
		t.writeDone(c)
	}
}

// writeDone notes that one of c's destination writes is over.
func (t *transfer) writeDone(c *chunk) {
	c.writes--
	if c.writes == 0 {
		t.chunkWritten(c)
	}
}

// chunkWritten runs when every write of c is over.
func (t *transfer) chunkWritten(c *chunk) {
	if t.err == nil && t.progress != nil {
		t.progress(int64(c.want))
	}
	if t.srcRB != nil {
		t.srcRB.ready[c.off] = c.want
	}
	c.release()
	if !t.allDead && len(t.dests) > 0 {
		dead := true
		for _, d := range t.dests {
			dead = dead && !d.live()
		}
		t.allDead = dead
	}
}

// destFailed fails d alone: no more writes go to it, and its temp file goes
// as soon as nothing is in flight on it.
func (t *transfer) destFailed(d *destination, err error) {
	if d.err == nil {
		d.err = cvv.DestError(err)
	}
	t.closeFailed(d)
}

// closeFailed removes a failed destination's temp file once the kernel has
// no operation on it left.
func (t *transfer) closeFailed(d *destination) {
	if d.err != nil && d.f != nil && d.inflight == 0 {
		d.abort()
	}
}
