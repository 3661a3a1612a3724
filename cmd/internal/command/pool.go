package command

import (
	"context"
	"sync"
	"sync/atomic"
)

// forEach calls f(k) for every k in [0, count), from at most n goroutines at
// once, starting them in order (each k once). After the first error, or
// once ctx is done, no further k is started; the calls in progress run to
// their end. It returns the first error f returned, else ctx's error if ctx
// is done (even when every k was handed out). The copy and the
// --verify-after pass both run their files through it.
func forEach(ctx context.Context, n, count int, f func(k int) error) error {
	var (
		next     atomic.Int64
		stop     atomic.Bool
		firstErr error
		once     sync.Once
		wg       sync.WaitGroup
	)
	for range min(n, count) {
		wg.Go(func() {
			for !stop.Load() && ctx.Err() == nil {
				k := int(next.Add(1) - 1)
				if k >= count {
					return
				}
				if err := f(k); err != nil {
					once.Do(func() { firstErr = err })
					stop.Store(true)
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}
