//go:build linux

package uring

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/iceber/iouring-go"
	iouring_syscall "github.com/iceber/iouring-go/syscall"
)

// metaQueue carries the per-file metadata operations of every Copy running
// at once (fallocate, statx, fsync) to the engine's ring, combined: the
// operations a call brings while another call's submission is under way go
// into the next submission, made by that other call for everyone waiting.
// Files in flight so share their io_uring_enter calls instead of each
// making its own system calls, and the kernel runs the operations of one
// submission (the fsyncs of all destinations, say) side by side.
//
// The order of a file's operations is the caller's: it hands over only
// operations that may run in any order, and waits for all of them before
// it goes on (Engine.meta).
//
// A file's create, close and rename are not carried: the kernel runs a
// create and a rename only on an io_uring worker thread, whose wake-up
// costs more than the system call saved. BenchmarkMetaFiles measured
// them at about twice the CPU a file through the ring, even 64 files a
// submission (README, small files).
type metaQueue struct {
	mu      sync.Mutex
	pending []*metaCall
	busy    bool // a caller is submitting for everyone
	// rescued counts the operations that were still waiting to start
	// after metaGrace, taken back from the kernel and run directly.
	rescued atomic.Int64
}

// metaOp is one metadata operation: its ring request, and the same
// operation as a direct system call (a count, or a negative errno), for
// when the ring does not start it (Engine.await).
type metaOp struct {
	req    iouring.PrepRequest
	direct func() int
}

// metaCall is the operations of one Engine.meta call.
type metaCall struct {
	ops   []metaOp
	ids   []uint64 // the ring's user_data of each operation, once prepared
	got   []iouring.Request
	err   error
	ready chan struct{} // closed once submitted (got) or failed (err)
}

// metaGrace is how long an operation may go without completing before
// meta asks the kernel whether it has started at all (Engine.await).
var metaGrace = 5 * time.Second

// meta runs the operations ops (at most ringEntries) through the ring and
// returns the kernel's result of each: a count, or a negative errno. It
// returns an error only when they could not be submitted. It waits for
// all of them: nothing of ops is in the kernel's hands when it returns.
func (e *Engine) meta(ops []metaOp) ([]int, error) {
	if len(ops) == 0 {
		return nil, nil
	}
	if len(ops) > ringEntries {
		return nil, fmt.Errorf("io_uring: %d metadata operations at once, at most %d", len(ops), ringEntries)
	}
	// Each operation takes a completion queue entry, and its cancellation
	// may take another: counted with the data path's, so that the queue
	// never overflows.
	if err := e.slots.Acquire(context.Background(), int64(2*len(ops))); err != nil {
		return nil, err
	}
	defer e.slots.Release(int64(2 * len(ops)))
	c := &metaCall{ops: ops, ids: make([]uint64, len(ops)), ready: make(chan struct{})}
	q := &e.mq
	q.mu.Lock()
	q.pending = append(q.pending, c)
	if !q.busy {
		q.busy = true
		for len(q.pending) > 0 {
			calls := q.pending
			q.pending = nil
			q.mu.Unlock()
			e.submitMeta(calls)
			q.mu.Lock()
		}
		q.busy = false
	}
	q.mu.Unlock()
	<-c.ready
	if c.err != nil {
		return nil, c.err
	}
	return e.await(c), nil
}

// submitMeta submits the operations of calls, as few submissions as the
// ring's size allows, a call never split between two.
func (e *Engine) submitMeta(calls []*metaCall) {
	for len(calls) > 0 {
		n, k := 0, 0
		for k < len(calls) && n+len(calls[k].ops) <= ringEntries {
			n += len(calls[k].ops)
			k++
		}
		batch := calls[:k]
		calls = calls[k:]
		reqs := make([]iouring.PrepRequest, 0, n)
		for _, c := range batch {
			for i, op := range c.ops {
				reqs = append(reqs, noteID(op.req, &c.ids[i]))
			}
		}
		set, err := e.ring.SubmitRequests(reqs, nil)
		var got []iouring.Request
		if err == nil {
			got = set.Requests()
		}
		for _, c := range batch {
			if err != nil {
				c.err = fmt.Errorf("io_uring submit: %w", err)
			} else {
				c.got, got = got[:len(c.ops)], got[len(c.ops):]
			}
			close(c.ready)
		}
	}
}

// noteID returns req, noting in *id the user_data the ring gives the
// request: iouring-go uses the address of its UserData (user_data.go,
// makeUserData), which stays in the ring's table, so unique, until the
// request completes.
func noteID(req iouring.PrepRequest, id *uint64) iouring.PrepRequest {
	return func(sqe iouring_syscall.SubmissionQueueEntry, ud *iouring.UserData) {
		req(sqe, ud)
		*id = uint64(uintptr(unsafe.Pointer(ud)))
	}
}

// await waits for the operations of c, submitted, and returns their
// results.
//
// An operation of a file (fallocate, statx, fsync) runs in the kernel's
// io-wq worker pool of the thread that submitted it. That pool has been
// seen to keep operations queued without ever starting them while its
// workers slept, and every copy then waited forever. So the operations
// not done after metaGrace are cancelled: one that never started is taken
// back (it completes with ECANCELED) and run here as a direct system call
// instead; one already running is left to finish, and run again directly
// if the cancellation interrupted it (every metadata operation can be
// repeated). TestMetaRescue.
func (e *Engine) await(c *metaCall) []int {
	state := make([]cancelState, len(c.got))
	if !waitAll(c.got, metaGrace) {
		for i, r := range c.got {
			select {
			case <-r.Done():
			default:
				state[i] = e.cancel(c.ids[i])
			}
		}
	}
	// The operations taken back first: they complete at once, while those
	// running may take long yet.
	res := make([]int, len(c.got))
	for _, first := range []bool{true, false} {
		for i, r := range c.got {
			if (state[i] == takenBack) != first {
				continue
			}
			<-r.Done()
			res[i] = result(r)
			if state[i] == takenBack && res[i] == -int(syscall.ECANCELED) ||
				state[i] == interrupted && isInterrupted(res[i]) {
				e.mq.rescued.Add(1)
				res[i] = c.ops[i].direct()
			}
		}
	}
	return res
}

// cancelState is what a cancellation found of an operation.
type cancelState int

const (
	notCancelled cancelState = iota
	takenBack                // queued, not started: it completes with ECANCELED
	interrupted              // running: told to stop, which it may or may not do
)

// cancel asks the ring to cancel the request with user_data id.
func (e *Engine) cancel(id uint64) cancelState {
	req, err := e.ring.SubmitRequest(func(sqe iouring_syscall.SubmissionQueueEntry, _ *iouring.UserData) {
		sqe.PrepOperation(iouring_syscall.IORING_OP_ASYNC_CANCEL, -1, id, 0, 0)
	}, nil)
	if err != nil {
		return notCancelled
	}
	<-req.Done()
	switch result(req) {
	case 0:
		return takenBack
	case -int(syscall.EALREADY):
		return interrupted
	}
	return notCancelled // done meanwhile (ENOENT)
}

// isInterrupted reports whether an operation's result n is that of a wait
// cut short by a signal (EINTR, or the kernel's internal ERESTARTSYS,
// ERESTARTNOINTR, ERESTARTNOHAND, ERESTART_RESTARTBLOCK: 512 to 516).
func isInterrupted(n int) bool {
	return n == -int(syscall.EINTR) || n <= -512 && n >= -516
}

// waitAll waits up to d for every request of rs and reports whether they
// are all done.
func waitAll(rs []iouring.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for _, r := range rs {
		select {
		case <-r.Done():
		case <-t.C:
			return false
		}
	}
	return true
}

// result is the kernel's result of r, which is done.
func result(r iouring.Request) int {
	n, _ := r.GetRes() // the error cannot happen once Done
	return n
}
