//go:build linux

package uring

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"unsafe"

	"github.com/iceber/iouring-go"
	iouring_syscall "github.com/iceber/iouring-go/syscall"
	"golang.org/x/sync/semaphore"

	"github.com/cvv-project/cvv"
)

var (
	_ cvv.Engine         = (*Engine)(nil)
	_ cvv.ProgressHasher = (*Engine)(nil)
)

const (
	// ringEntries is the submission queue size of an engine's ring; one
	// SubmitRequests call never carries more.
	ringEntries = 256
	// cqEntries is the completion queue size. The engine never has more
	// operations in flight than this, so the completion queue cannot
	// overflow.
	cqEntries = 1024
	// ringLockedBytes is a generous estimate of the memory the ring itself
	// pins (SQ entries, CQ entries, index array), which counts against
	// RLIMIT_MEMLOCK like the buffers do.
	ringLockedBytes = 128 << 10
	// pageSize is the alignment of the arena and the granularity of the
	// block size.
	pageSize = 4096
)

// Engine is the io_uring copy engine: one ring and one registered buffer
// arena, shared by all concurrent Copy and Hash calls.
type Engine struct {
	opts cvv.Options // defaults applied, BlockSize a multiple of pageSize
	ring *iouring.IOURing
	pool *BufferPool
	// slots bounds the operations in flight on the ring, over all calls,
	// to the completion queue's size. A call reserves all the slots it may
	// use before it submits anything and gives them back when it is done,
	// so calls never wait on each other while holding part of what they
	// need. Waiters are served in order (FIFO), so a large request for
	// many destinations is not starved by a stream of small ones.
	slots *semaphore.Weighted
	// mq combines the metadata operations of the files in flight.
	mq metaQueue

	closeOnce sync.Once
	closeErr  error
}

// New returns an io_uring engine tuned by opts. If the kernel does not offer
// io_uring (ENOSYS, EPERM, EACCES, io_uring_disabled, missing opcodes) the
// error wraps cvv.ErrNotHandled.
func New(opts cvv.Options) (*Engine, error) {
	if err := probe(); err != nil {
		return nil, err
	}
	opts = opts.WithDefaults()
	opts.BlockSize = alignUp(opts.BlockSize, pageSize)
	ring, err := newRing()
	if err != nil {
		return nil, setupError(err)
	}
	pool, err := newBufferPool(ring, opts)
	if err != nil {
		ring.Close()
		return nil, err
	}
	return &Engine{
		opts:  opts,
		ring:  ring,
		pool:  pool,
		slots: semaphore.NewWeighted(cqEntries),
	}, nil
}

// Name returns "uring".
func (e *Engine) Name() string { return "uring" }

// Buffers describes the engine's buffer arena.
func (e *Engine) Buffers() BufferInfo { return e.pool.info() }

// Close closes the ring and releases the buffer arena. It must be called
// only after every Copy and Hash has returned.
func (e *Engine) Close() error {
	e.closeOnce.Do(func() {
		// Closing the ring unregisters (unpins) the buffers; only then may
		// the arena go.
		rerr := e.ring.Close()
		if rerr != nil {
			// The ring may still reference the arena: keep it mapped.
			e.closeErr = fmt.Errorf("close io_uring: %w", rerr)
			return
		}
		e.closeErr = e.pool.release()
	})
	return e.closeErr
}

// newRing creates the engine's ring. It asks for IORING_SETUP_SUBMIT_ALL
// (Linux 5.18): without it the kernel stops a batch at the first entry it
// cannot prepare and leaves the rest in the queue until the next
// submission, which may never come. Older kernels get a plain ring.
func newRing() (*iouring.IOURing, error) {
	ring, err := iouring.New(ringEntries,
		iouring.WithParams(&iouring_syscall.IOURingParams{Flags: iouring_syscall.IORING_SETUP_SUBMIT_ALL}),
		iouring.WithCQSize(cqEntries))
	if errors.Is(err, syscall.EINVAL) {
		ring, err = iouring.New(ringEntries, iouring.WithCQSize(cqEntries))
	}
	return ring, err
}

var (
	probeOnce sync.Once
	probeErr  error
)

// probe checks once per process that the kernel offers io_uring with the
// operations the engine uses.
func probe() error {
	probeOnce.Do(func() { probeErr = probeKernel() })
	return probeErr
}

// ioUringProbe mirrors struct io_uring_probe with room for every opcode.
type ioUringProbe struct {
	lastOp uint8
	opsLen uint8
	_      uint16
	_      [3]uint32
	ops    [256]ioUringProbeOp
}

type ioUringProbeOp struct {
	op    uint8
	_     uint8
	flags uint16
	_     uint32
}

const opSupported = 1 // IO_URING_OP_SUPPORTED

func probeKernel() error {
	if b, err := os.ReadFile("/proc/sys/kernel/io_uring_disabled"); err == nil {
		if strings.TrimSpace(string(b)) == "2" {
			return fmt.Errorf("%w: io_uring is disabled (kernel.io_uring_disabled=2)", cvv.ErrNotHandled)
		}
	}
	var params iouring_syscall.IOURingParams
	fd, err := iouring_syscall.IOURingSetup(4, &params)
	if err != nil {
		return setupError(err)
	}
	defer syscall.Close(fd)
	p := new(ioUringProbe)
	err = iouring_syscall.IOURingRegister(fd, iouring_syscall.IORING_REGISTER_PROBE, unsafe.Pointer(p), uint32(len(p.ops)))
	if err != nil {
		// IORING_REGISTER_PROBE came with IORING_OP_READ/WRITE (5.6).
		return fmt.Errorf("%w: io_uring too old (no opcode probe): %w", cvv.ErrNotHandled, err)
	}
	for _, op := range []struct {
		code uint8
		name string
	}{
		{iouring_syscall.IORING_OP_READ_FIXED, "READ_FIXED"},
		{iouring_syscall.IORING_OP_WRITE_FIXED, "WRITE_FIXED"},
		{iouring_syscall.IORING_OP_READ, "READ"},
		{iouring_syscall.IORING_OP_WRITE, "WRITE"},
		{iouring_syscall.IORING_OP_FSYNC, "FSYNC"},
		{iouring_syscall.IORING_OP_FALLOCATE, "FALLOCATE"},
		{iouring_syscall.IORING_OP_STATX, "STATX"},
		{iouring_syscall.IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"},
	} {
		if op.code > p.lastOp || p.ops[op.code].flags&opSupported == 0 {
			return fmt.Errorf("%w: io_uring lacks IORING_OP_%s", cvv.ErrNotHandled, op.name)
		}
	}
	return nil
}

// setupError wraps a failure to create a ring; the errors that mean "no
// io_uring here" also wrap cvv.ErrNotHandled.
func setupError(err error) error {
	for _, no := range []syscall.Errno{syscall.ENOSYS, syscall.EPERM, syscall.EACCES, syscall.ENOMEM, syscall.EINVAL} {
		if errors.Is(err, no) {
			return fmt.Errorf("%w: io_uring_setup: %w", cvv.ErrNotHandled, err)
		}
	}
	return fmt.Errorf("io_uring_setup: %w", err)
}

func alignUp[T int | int64](n, a T) T   { return (n + a - 1) / a * a }
func alignDown[T int | int64](n, a T) T { return n / a * a }
