package command

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/cvv-project/cvv/cmd/internal/plan"
)

// tickerProgress calls show with a snapshot every interval, and once more
// when stopped if the run lasted long enough to have shown one.
type tickerProgress struct {
	stopOnce sync.Once
	quit     chan struct{}
	done     chan struct{}
}

func newTickerProgress(r *runner, every time.Duration, show func(snapshot)) *tickerProgress {
	t := &tickerProgress{quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(t.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				show(r.snapshot())
			case <-t.quit:
				return
			}
		}
	}()
	return t
}

func (t *tickerProgress) lineWriter() io.Writer { return nil }

func (t *tickerProgress) stop() {
	t.stopOnce.Do(func() {
		close(t.quit)
		<-t.done
	})
}

// barProgress is the terminal display: a byte bar with throughput and ETA,
// and a file counter with the files in flight, refreshed from the runner's
// counters (the copy's hot path never touches the bars).
type barProgress struct {
	p        *mpb.Progress
	bytes    *mpb.Bar
	files    *mpb.Bar
	linesToo bool
	r        *runner
	mu       sync.Mutex
	snap     snapshot
	stopOnce sync.Once
	quit     chan struct{}
	done     chan struct{}
}

func newBarProgress(r *runner, w io.Writer, stdoutIsTerminal bool) *barProgress {
	b := &barProgress{
		p:        mpb.New(mpb.WithOutput(w), mpb.WithWidth(32), mpb.WithRefreshRate(150*time.Millisecond)),
		linesToo: stdoutIsTerminal,
		quit:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	b.snap = r.snapshot()
	b.r = r
	get := func() snapshot {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.snap
	}
	total := max(r.bytesTotal, 1)
	b.bytes = b.p.AddBar(total,
		mpb.PrependDecorators(
			decor.Any(func(decor.Statistics) string { return fmt.Sprintf("%-7s", get().phase) }),
			decor.Any(func(decor.Statistics) string {
				s := get()
				return fmt.Sprintf("%s / %s", plan.HumanBytes(s.bytesDone), plan.HumanBytes(s.bytesTotal))
			}, decor.WCSyncSpaceR),
		),
		mpb.AppendDecorators(
			decor.Any(func(decor.Statistics) string {
				s := get()
				out := plan.HumanBytes(int64(s.rate)) + "/s"
				if s.eta >= 0 {
					out += "  ETA " + s.eta.Round(time.Second).String()
				}
				return out
			}),
		),
	)
	b.files = b.p.New(int64(max(len(r.files), 1)), mpb.NopStyle(),
		mpb.PrependDecorators(
			decor.Any(func(decor.Statistics) string {
				s := get()
				out := fmt.Sprintf("files   %d/%d copied", s.filesDone, s.filesTotal)
				if r.opts.mode != VerifyTransfer {
					out += fmt.Sprintf(", %d verified", s.verified)
				}
				if len(s.current) > 0 {
					cur := make([]string, len(s.current))
					for i, c := range s.current {
						cur[i] = displayName(c)
					}
					out += "  now: " + strings.Join(cur, ", ")
					if len(out) > 160 {
						out = out[:157] + "..."
					}
				}
				return out
			}),
		),
	)
	go func() {
		defer close(b.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				s := b.refresh()
				b.bytes.SetCurrent(min(s.bytesDone, total-1))
				b.files.SetCurrent(min(s.filesDone, int64(max(len(r.files), 1))-1))
			case <-b.quit:
				return
			}
		}
	}()
	return b
}

func (b *barProgress) lineWriter() io.Writer {
	if b.linesToo {
		return b.p
	}
	return nil
}

func (b *barProgress) stop() {
	b.stopOnce.Do(func() {
		close(b.quit)
		<-b.done
		b.refresh()
		b.bytes.SetTotal(-1, true)
		b.files.SetTotal(-1, true)
		b.p.Wait()
	})
}

// refresh takes a new snapshot for the decorators and returns it.
func (b *barProgress) refresh() snapshot {
	s := b.r.snapshot()
	b.mu.Lock()
	b.snap = s
	b.mu.Unlock()
	return s
}
