package ui

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

// bars is the terminal display: a byte bar for the copy and one for the
// verification, each with its throughput and ETA, and a file counter with
// the files in flight, drawn from the latest snapshot pushed to it.
type bars struct {
	p      *mpb.Progress
	copy   *mpb.Bar // nil for cvv verify
	verify *mpb.Bar // nil when nothing is verified by reading
	files  *mpb.Bar
	dests  []*mpb.Bar // one line per destination of a copy
	mu     sync.Mutex
	snap   Snapshot
}

// newBars starts the bars on w, showing s; opts add to the container's
// options (tests draw into a buffer with mpb.WithAutoRefresh).
func newBars(w io.Writer, s Snapshot, opts ...mpb.ContainerOption) *bars {
	opts = append([]mpb.ContainerOption{mpb.WithOutput(w), mpb.WithWidth(32), mpb.WithRefreshRate(150 * time.Millisecond)}, opts...)
	b := &bars{p: mpb.New(opts...), snap: s}
	if !s.VerifyOnly {
		b.copy = b.byteBar("copy", s.BytesTotal, func(s Snapshot) (int64, int64, float64, time.Duration) {
			return s.BytesDone, s.BytesTotal, s.Rate, s.ETA
		})
	}
	if s.Verifies && (s.VerifyTotal > 0 || s.VerifyOnly) {
		b.verify = b.byteBar("verify", s.VerifyTotal, func(s Snapshot) (int64, int64, float64, time.Duration) {
			return s.VerifyDone, s.VerifyTotal, s.VerifyRate, s.VerifyETA
		})
	}
	b.files = b.p.New(int64(max(s.FilesTotal, 1)), mpb.NopStyle(),
		mpb.PrependDecorators(decor.Any(func(decor.Statistics) string { return filesLine(b.get()) })),
	)
	width := 0
	for _, d := range s.Dests {
		width = max(width, len(DisplayName(d.Name)))
	}
	for i := range s.Dests {
		b.dests = append(b.dests, b.p.New(1, mpb.NopStyle(),
			mpb.PrependDecorators(decor.Any(func(decor.Statistics) string { return destBarLine(b.get(), i, width) })),
		))
	}
	b.update(s)
	return b
}

// destBarLine is the line of destination i: its state, rate, bytes and
// failures.
func destBarLine(s Snapshot, i, width int) string {
	if i >= len(s.Dests) {
		return ""
	}
	d := s.Dests[i]
	line := fmt.Sprintf("  %-*s  %-9s", width, DisplayName(d.Name), d.State)
	if d.State == "writing" || d.State == "verifying" {
		line += fmt.Sprintf("  %10s/s", plan.HumanBytes(int64(d.Rate)))
	}
	line += "  " + plan.HumanBytes(d.Bytes) + " written"
	if d.Failed > 0 {
		line += fmt.Sprintf(", %d failed", d.Failed)
	}
	return line
}

// byteBar adds a bar named name over the bytes of, with its rate and ETA.
func (b *bars) byteBar(name string, total int64, of func(Snapshot) (done, total int64, rate float64, eta time.Duration)) *mpb.Bar {
	return b.p.AddBar(max(total, 1),
		mpb.PrependDecorators(
			decor.Any(func(decor.Statistics) string { return fmt.Sprintf("%-7s", name) }),
			decor.Any(func(decor.Statistics) string {
				done, total, _, _ := of(b.get())
				return fmt.Sprintf("%s / %s", plan.HumanBytes(done), plan.HumanBytes(total))
			}, decor.WCSyncSpaceR),
		),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
			_, _, rate, eta := of(b.get())
			return rateETA(rate, eta)
		})),
	)
}

func (b *bars) get() Snapshot {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.snap
}

// rateETA is the throughput and the ETA when known.
func rateETA(rate float64, eta time.Duration) string {
	out := plan.HumanBytes(int64(rate)) + "/s"
	if eta >= 0 {
		out += "  ETA " + eta.Round(time.Second).String()
	}
	return out
}

// filesLine is the file counter and the files in flight.
func filesLine(s Snapshot) string {
	out := fmt.Sprintf("files   %d/%d copied", s.FilesDone, s.FilesTotal)
	if s.Verifies {
		out += fmt.Sprintf(", %d verified", s.Verified)
	}
	if len(s.Current) > 0 {
		cur := make([]string, len(s.Current))
		for i, c := range s.Current {
			cur[i] = DisplayName(c)
		}
		out += "  now: " + strings.Join(cur, ", ")
		if len(out) > 160 {
			out = out[:157] + "..."
		}
	}
	return out
}

// update shows s.
func (b *bars) update(s Snapshot) {
	b.mu.Lock()
	b.snap = s
	b.mu.Unlock()
	setBar(b.copy, s.BytesDone, s.BytesTotal)
	setBar(b.verify, s.VerifyDone, s.VerifyTotal)
	setBar(b.files, s.FilesDone, int64(s.FilesTotal))
}

// setBar shows done of total on bar (not complete: stop completes it).
func setBar(bar *mpb.Bar, done, total int64) {
	if bar == nil {
		return
	}
	total = max(total, 1)
	bar.SetTotal(total, false)
	bar.SetCurrent(min(done, total-1))
}

// stop draws the bars a last time and ends the display: a bar whose work
// is done is drawn complete, one cut short (Ctrl-C) as far as it got, not
// full beside numbers that say otherwise.
func (b *bars) stop() {
	s := b.get()
	finish(b.copy, s.BytesDone >= s.BytesTotal)
	finish(b.verify, s.VerifyDone >= s.VerifyTotal)
	finish(b.files, s.FilesDone >= int64(s.FilesTotal))
	for _, bar := range b.dests {
		finish(bar, true)
	}
	b.p.Wait()
}

// finish ends bar (nil: none): complete when done, else where it is.
func finish(bar *mpb.Bar, done bool) {
	switch {
	case bar == nil:
	case done:
		bar.SetTotal(-1, true)
	default:
		bar.Abort(false)
	}
}
