//go:build linux

package uring

import (
	"context"
	"fmt"
	"sync"

	"github.com/iceber/iouring-go"
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
type metaQueue struct {
	mu      sync.Mutex
	pending []*metaCall
	busy    bool // a caller is submitting for everyone
}

// metaCall is the operations of one Engine.meta call.
type metaCall struct {
	reqs  []iouring.PrepRequest
	got   []iouring.Request
	err   error
	ready chan struct{} // closed once submitted (got) or failed (err)
}

// meta runs the operations reqs (at most ringEntries) through the ring
// and returns the kernel's result of each: a count, or a negative errno.
// It returns an error only when they could not be submitted. It waits for
// all of them: nothing of reqs is in the kernel's hands when it returns.
func (e *Engine) meta(reqs []iouring.PrepRequest) ([]int, error) {
	if len(reqs) == 0 {
		return nil, nil
	}
	if len(reqs) > ringEntries {
		return nil, fmt.Errorf("io_uring: %d metadata operations at once, at most %d", len(reqs), ringEntries)
	}
	// Each operation takes a completion queue entry: counted with the
	// data path's, so that the queue never overflows.
	if err := e.slots.Acquire(context.Background(), int64(len(reqs))); err != nil {
		return nil, err
	}
	defer e.slots.Release(int64(len(reqs)))
	c := &metaCall{reqs: reqs, ready: make(chan struct{})}
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
	res := make([]int, len(reqs))
	for i, r := range c.got {
		<-r.Done()
		n, err := r.GetRes()
		if err != nil {
			return nil, err // cannot happen once Done
		}
		res[i] = n
	}
	return res, nil
}

// submitMeta submits the operations of calls, as few submissions as the
// ring's size allows, a call never split between two.
func (e *Engine) submitMeta(calls []*metaCall) {
	for len(calls) > 0 {
		n, k := 0, 0
		for k < len(calls) && n+len(calls[k].reqs) <= ringEntries {
			n += len(calls[k].reqs)
			k++
		}
		batch := calls[:k]
		calls = calls[k:]
		reqs := make([]iouring.PrepRequest, 0, n)
		for _, c := range batch {
			reqs = append(reqs, c.reqs...)
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
				c.got, got = got[:len(c.reqs)], got[len(c.reqs):]
			}
			close(c.ready)
		}
	}
}
