package ui

import (
	"sync"
	"time"
)

// Feed pushes a snapshot of a run's progress to its printer every
// tenth of a second, from its own goroutine, until stopped; the snapshot
// function reads only what is safe to read concurrently (atomics).
type Feed struct {
	p        Printer
	snap     func() Snapshot
	stopOnce sync.Once
	quit     chan struct{}
	done     chan struct{}
}

// StartFeed starts pushing snap() to p.
func StartFeed(p Printer, snap func() Snapshot) *Feed {
	f := &Feed{p: p, snap: snap, quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				p.Progress(snap())
			case <-f.quit:
				return
			}
		}
	}()
	return f
}

// Stop ends the feed and pushes a last snapshot, so that the display ends
// on the final numbers. It may be called more than once.
func (f *Feed) Stop() {
	if f == nil {
		return
	}
	f.stopOnce.Do(func() {
		close(f.quit)
		<-f.done
		f.p.Progress(f.snap())
	})
}
