//go:build linux

package uring

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"

	"github.com/iceber/iouring-go"
	"golang.org/x/sys/unix"

	"github.com/cvv-project/cvv"
)

// maxArena caps the default arena so that the engine's resident memory stays
// well below 64 MiB however block size and queue depth are set.
const maxArena = 32 << 20

// Seams for tests; production code never changes them.
var (
	// registerBuffers registers the arena's buffers with the ring.
	registerBuffers = func(r *iouring.IOURing, bufs [][]byte) error { return r.RegisterBuffers(bufs) }
	// memlockPrecheck makes the pool size the arena to RLIMIT_MEMLOCK
	// before registering; a test turns it off to reach the kernel's own
	// refusal.
	memlockPrecheck = true
)

// BufferPool owns an engine's I/O buffers: one anonymous mmap'd arena cut in
// Count buffers of Size bytes, page aligned (so aligned for O_DIRECT), and
// registered with the ring when the kernel and RLIMIT_MEMLOCK allow. It
// hands out buffer indices and takes them back; it is bounded, so a copy
// waits for a buffer rather than allocating one.
type BufferPool struct {
	arena      []byte
	bufs       [][]byte
	size       int
	free       chan int
	registered bool
	reason     string
	// users counts the transfers (Copy and Hash calls) running now; each
	// may hold at most its fair share of the buffers while others run.
	users atomic.Int32
}

// newBufferPool maps and, if it can, registers the arena for opts.
func newBufferPool(ring *iouring.IOURing, opts cvv.Options) (*BufferPool, error) {
	size := opts.BlockSize
	count := min(2*opts.QueueDepth, maxArena/size)
	count = max(count, 2)

	registered := true
	reason := ""
	if memlockPrecheck {
		if limit, applies := memlockLimit(); applies {
			fit := 0
			if limit > ringLockedBytes {
				fit = int(min((limit-ringLockedBytes)/uint64(size), uint64(count)))
			}
			if fit >= 2 {
				count = fit
			} else {
				registered = false
				reason = fmt.Sprintf("RLIMIT_MEMLOCK of %d bytes cannot pin two %d-byte buffers", limit, size)
			}
		}
	}

	arena, err := unix.Mmap(-1, 0, count*size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, fmt.Errorf("mmap %d-byte buffer arena: %w", count*size, err)
	}
	p := &BufferPool{arena: arena, size: size, free: make(chan int, count)}
	for i := range count {
		p.bufs = append(p.bufs, arena[i*size:(i+1)*size:(i+1)*size])
		p.free <- i
	}
	if registered {
		if err := registerBuffers(ring, p.bufs); err != nil {
			if !errors.Is(err, syscall.ENOMEM) && !errors.Is(err, syscall.EPERM) &&
				!errors.Is(err, syscall.EFAULT) && !errors.Is(err, syscall.EOPNOTSUPP) {
				unix.Munmap(arena)
				return nil, fmt.Errorf("register io_uring buffers: %w", err)
			}
			registered = false
			reason = fmt.Sprintf("registering %d buffers of %d bytes refused: %v", count, size, err)
		}
	}
	p.registered, p.reason = registered, reason
	return p, nil
}

// memlockLimit raises RLIMIT_MEMLOCK's soft limit to the hard one and
// returns it; applies is false when the limit does not bind this process
// (unlimited, or CAP_IPC_LOCK, which the kernel exempts from accounting).
func memlockLimit() (limit uint64, applies bool) {
	if hasCapIPCLock() {
		return 0, false
	}
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &rl); err != nil {
		return 0, false
	}
	if rl.Cur < rl.Max {
		raised := unix.Rlimit{Cur: rl.Max, Max: rl.Max}
		if unix.Setrlimit(unix.RLIMIT_MEMLOCK, &raised) == nil {
			rl.Cur = rl.Max
		}
	}
	if rl.Cur == unix.RLIM_INFINITY {
		return 0, false
	}
	return rl.Cur, true
}

// hasCapIPCLock reports whether the calling thread has CAP_IPC_LOCK in its
// effective set.
func hasCapIPCLock() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	return data[unix.CAP_IPC_LOCK/32].Effective&(1<<(unix.CAP_IPC_LOCK%32)) != 0
}

// reserve takes between 1 and want buffers: it waits (until ctx is done)
// for the first and takes more only if they are free now, so that copies
// running at once never wait on each other while holding buffers.
func (p *BufferPool) reserve(ctx context.Context, want int) ([]int, error) {
	var got []int
	select {
	case i := <-p.free:
		got = append(got, i)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for len(got) < want {
		select {
		case i := <-p.free:
			got = append(got, i)
		default:
			return got, nil
		}
	}
	return got, nil
}

// join counts a transfer in for the fair share; leave counts it out.
func (p *BufferPool) join()  { p.users.Add(1) }
func (p *BufferPool) leave() { p.users.Add(-1) }

// share is the number of buffers one transfer may hold now: an equal part
// of the arena among the transfers running, at least 1, at most limit. A
// transfer above its share gives buffers back as they come free, so that a
// Hash started after others still gets its part (and its queue depth)
// instead of the one buffer left over.
func (p *BufferPool) share(limit int) int {
	n := max(1, int(p.users.Load()))
	return max(1, min(limit, len(p.bufs)/n))
}

// put gives buffer i back. The caller guarantees that neither the kernel
// nor a hasher will touch it again.
func (p *BufferPool) put(i int) { p.free <- i }

func (p *BufferPool) info() BufferInfo {
	return BufferInfo{
		Count:      len(p.bufs),
		Size:       p.size,
		Free:       len(p.free),
		Registered: p.registered,
		Reason:     p.reason,
	}
}

// release unmaps the arena; the ring must be closed first.
func (p *BufferPool) release() error {
	if p.arena == nil {
		return nil
	}
	err := unix.Munmap(p.arena)
	p.arena, p.bufs = nil, nil
	if err != nil {
		return &os.SyscallError{Syscall: "munmap", Err: err}
	}
	return nil
}
