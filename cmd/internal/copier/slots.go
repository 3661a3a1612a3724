package copier

import (
	"context"
	"sync/atomic"
)

// A file of a tree copy to a destination trusted for syncfs waits, after
// its last write, for a syncfs that commits its data (dataSyncs). One
// syncfs commits the data of every file waiting at that moment, so the
// more files wait, the fewer syncfs calls a file costs; but a job that
// waits holds its place among --jobs, and with 16 jobs a syncfs committed
// 1.8 files on average (1,082 syncfs for 2,000 files of 4 KiB). So a job
// gives up its place (a slot of runner.active) while it waits: the
// engine holds no buffer by then (its reads and writes are done), only
// the file's descriptors. It takes a slot again to verify by reading
// (modes source and full); in transfer mode the size checks and the
// rename need none. At most Options.SyncWaiters more jobs are in flight
// (by default, not with an explicit --jobs); the ones that read and write
// are still --jobs. A job without a slot never waits for one while its
// engine holds buffers, so the jobs that hold the slots always go on.

// slot is a file job's place among runner.active, held while it copies
// and verifies, given up while it waits for a syncfs.
type slot struct {
	ch   chan struct{}
	held atomic.Bool
}

// takeSlot waits for a place among active; nil when ctx is done first.
func takeSlot(ctx context.Context, active chan struct{}) *slot {
	s := &slot{ch: active}
	if s.take(ctx) != nil {
		return nil
	}
	return s
}

// take waits for the slot again after give. Only the job's own goroutine
// calls it, with nothing of the job running elsewhere (no give at the
// same time).
func (s *slot) take(ctx context.Context) error {
	if s.held.Load() {
		return nil
	}
	select {
	case s.ch <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.held.Store(true)
	return nil
}

// give gives the slot up, if held: the commits of a file's destinations
// may call it at the same time, once each; one of them gives it.
func (s *slot) give() {
	if s != nil && s.held.CompareAndSwap(true, false) {
		<-s.ch
	}
}

// waitsForSyncs reports whether file jobs may wait for a syncfs of their
// data (dataSyncs): a tree copy with fsync to a destination trusted for it.
func (r *runner) waitsForSyncs() bool {
	if r.opts.SyncWaiters <= 0 || r.opts.NoFsync || r.dirSync == nil {
		return false
	}
	for _, s := range r.nameSyncers() {
		if s != nil {
			return true
		}
	}
	return false
}
