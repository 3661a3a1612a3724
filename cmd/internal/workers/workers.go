// Package workers is the CLI's one worker pool: work items (numbered, or
// drawn from a sequence such as a tree walk: EachOf, OrderedOf) run on
// a bounded number of goroutines, started in index order, with their
// results handed back either as they finish (Each) or in index order
// (Ordered). The copy runs its files through it, the --verify-after pass
// its verifications, cvv verify and cvv hash their hashes, and a file's
// verification its destinations.
//
// Memory is proportional to the goroutines, never to the item count: an
// item is started only when a slot is free, and with Ordered a slot is
// held until the item's result has been handed over.
package workers

import (
	"context"
	"iter"
	"sync"
	"sync/atomic"
)

// Each calls f(k) for every k in [0, count), from at most n goroutines at
// once, starting them in order (each k once). After the first error, or
// once ctx is done, no further k is started; the calls in progress run to
// their end. It returns the first error f returned, else ctx's error if ctx
// is done (even when every k was handed out).
func Each(ctx context.Context, n, count int, f func(k int) error) error {
	return EachOf(ctx, n, indexes(count), f)
}

// EachOf is Each over the items of seq, which it draws one at a time, only
// when a goroutine is free: a walk feeding it is never further ahead than
// the work.
//
// The goroutines are started as items come, up to n, and each runs items
// until seq ends: a goroutine per item would cost its start and the growth
// of its stack every time (a run of 200,000 skipped files spent 8% of its
// CPU growing stacks).
func EachOf[I any](ctx context.Context, n int, seq iter.Seq[I], f func(it I) error) error {
	p := newPool(ctx, n)
	items := make(chan I)
	run := func(it I) {
		if p.stopped() {
			return // drawn before the stop: not started
		}
		if err := f(it); err != nil {
			p.fail(err)
		}
	}
	worker := func(first I) {
		run(first)
		for it := range items {
			run(it)
		}
	}
	started := 0
	for it := range seq {
		if p.stopped() {
			break
		}
		if hand(p, items, it, &started, worker) {
			continue
		}
		select {
		case items <- it:
			continue
		case <-ctx.Done():
		}
		break
	}
	close(items)
	p.wg.Wait()
	return p.err()
}

// Ordered calls work(k) for every k in [0, count), from at most n
// goroutines at once, starting them in order, and calls done with each
// result in index order, from the calling goroutine. At most n items are
// started and not yet handed to done, so a slow item holds back at most n
// others. An error from work is a result, handed to done; an error from
// done stops the run: no further k is started, the calls in progress run
// to their end and their results are dropped. Once ctx is done no further
// k is started either: the items in progress are still handed to done, the
// items not started are not.
// It returns the first error done returned, else ctx's error.
func Ordered[T any](ctx context.Context, n, count int, work func(k int) (T, error), done func(k int, v T, err error) error) error {
	return OrderedOf(ctx, n, indexes(count), work, done)
}

// OrderedOf is Ordered over the items of seq, in seq's order. seq is
// drawn from another goroutine, one item at a time, only when a slot is
// free, and is stopped (its yield returns false) when the run stops.
func OrderedOf[I, T any](ctx context.Context, n int, seq iter.Seq[I], work func(it I) (T, error), done func(it I, v T, err error) error) error {
	type result struct {
		v   T
		err error
	}
	type item struct {
		it  I
		out chan result
	}
	p := newPool(ctx, n)
	// The queue holds the started items in seq's order; a slot bounds it.
	queue := make(chan item, n)
	// At most n goroutines work, each on item after item: a slot is free
	// only once its item's result was handed over, so a goroutine is
	// always free (or about to be) for the item a slot admits.
	jobs := make(chan item)
	run := func(it item) {
		v, err := work(it.it)
		it.out <- result{v, err}
	}
	worker := func(first item) {
		run(first)
		for it := range jobs {
			run(it)
		}
	}
	started := 0
	go func() {
		defer close(queue)
		defer close(jobs)
		for x := range seq {
			if !p.acquire() {
				return
			}
			it := item{x, make(chan result, 1)}
			queue <- it
			if !hand(p, jobs, it, &started, worker) {
				jobs <- it
			}
		}
	}()
	for it := range queue {
		r := <-it.out
		if !p.failed() {
			if err := done(it.it, r.v, r.err); err != nil {
				p.fail(err)
			}
		}
		p.release()
	}
	p.wg.Wait()
	return p.err()
}

// hand gives it to a goroutine idle on items, or else, while fewer than
// the pool's n were started (*started counts them), to a new one running
// worker(it). It returns false when neither could take it: every
// goroutine is busy.
func hand[I any](p *pool, items chan<- I, it I, started *int, worker func(I)) bool {
	select {
	case items <- it:
		return true
	default:
	}
	if *started < cap(p.slots) {
		*started++
		p.wg.Go(func() { worker(it) })
		return true
	}
	return false
}

// indexes yields 0, 1, ... count-1.
func indexes(count int) iter.Seq[int] {
	return func(yield func(int) bool) {
		for k := range count {
			if !yield(k) {
				return
			}
		}
	}
}

// pool is the state Each and Ordered share: the slots and the first error.
type pool struct {
	ctx   context.Context
	slots chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex
	first error
	// failedOnce is set with first: what each item checks, without the
	// lock.
	failedOnce atomic.Bool
}

func newPool(ctx context.Context, n int) *pool {
	return &pool{ctx: ctx, slots: make(chan struct{}, max(n, 1))}
}

// acquire waits for a free slot; it returns false, holding none, when the
// run has stopped or ctx is done.
func (p *pool) acquire() bool {
	if p.stopped() {
		return false
	}
	select {
	case p.slots <- struct{}{}:
	case <-p.ctx.Done():
		return false
	}
	if p.stopped() {
		p.release()
		return false
	}
	return true
}

func (p *pool) release() { <-p.slots }

// fail records err as the run's error if it is the first.
func (p *pool) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.first == nil {
		p.first = err
		p.failedOnce.Store(true)
	}
}

// failed reports whether an item failed.
func (p *pool) failed() bool { return p.failedOnce.Load() }

// stopped reports whether an item failed or ctx is done.
func (p *pool) stopped() bool { return p.failed() || p.ctx.Err() != nil }

func (p *pool) err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.first != nil {
		return p.first
	}
	return p.ctx.Err()
}
