package copier

import (
	"slices"
	"sort"
	"sync/atomic"
	"time"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/cmd/internal/plan"
	"github.com/cvv-project/cvv/cmd/internal/ui"
)

// displayName makes a path printable on one line (ui.DisplayName).
func displayName(s string) string { return ui.DisplayName(s) }

// startOutput announces the run to the printer and starts the progress
// feed.
func (r *runner) startOutput() {
	toCopy := 0
	for _, fj := range r.records() {
		if fj.needsCopy() {
			toCopy++
		}
	}
	ev := ui.Start{
		Source: r.plan.Source, SourceIsDir: r.plan.IsDir,
		Mode: r.opts.Mode.String(), Hash: r.opts.Alg.String(), Engine: r.eng.Name(),
		Jobs: r.opts.Jobs, VerifyAfter: r.opts.VerifyAfter,
		Files: r.files.len(), Dirs: len(r.tree.Dirs), Symlinks: len(r.tree.Links),
		Bytes: r.tree.Bytes, FilesToCopy: toCopy, BytesToCopy: r.bytesTotal.Load(),
	}
	for i, d := range r.plan.Dests {
		ev.Dests = append(ev.Dests, d.Path)
		ev.Names = append(ev.Names, d.Arg)
		if r.isCascade(i) {
			ev.Cascade = append(ev.Cascade, d.Path)
		}
	}
	ev.Writes, ev.Verbose = r.writeEvents(), r.opts.Verbose
	ev.Shard = r.shardInfo()
	r.out.Start(ev)
	r.countVerifyBytes()
	if !r.opts.Quiet {
		r.feed = ui.StartFeed(r.out, r.snapshot)
	}
}

// destProgress is where one destination stands, for the display: the
// bytes handed to it, its files in their copy and in their verification,
// its files failed, and its recent rate (used by the progress feed only).
type destProgress struct {
	bytes              atomic.Int64
	copying, verifying atomic.Int32
	failed             atomic.Int64
	meter              ui.RateMeter
}

func (d *destProgress) copyingNow() *atomic.Int32   { return &d.copying }
func (d *destProgress) verifyingNow() *atomic.Int32 { return &d.verifying }

// destsBusy adds delta to the counter which picks out of each destination
// in idx.
func (r *runner) destsBusy(idx []int, which func(*destProgress) *atomic.Int32, delta int32) {
	for _, i := range idx {
		which(&r.destProg[i]).Add(delta)
	}
}

// destSnapshot is where each destination stands now (progress feed only).
func (r *runner) destSnapshot(now time.Time, copyOver bool) []ui.DestProgress {
	ds := make([]ui.DestProgress, len(r.destProg))
	for i := range r.destProg {
		p := &r.destProg[i]
		d := ui.DestProgress{Name: r.plan.Dests[i].Arg, Path: r.plan.Dests[i].Path, Bytes: p.bytes.Load(), Failed: p.failed.Load()}
		d.Rate, _ = p.meter.RateAndETA(now, d.Bytes, 0)
		switch {
		case !r.live(i):
			d.State, d.Rate = "failed", 0
		case p.copying.Load() > 0:
			d.State = "writing"
		case p.verifying.Load() > 0:
			d.State = "verifying"
		case copyOver:
			d.State = "done"
		default:
			d.State = "waiting"
		}
		ds[i] = d
	}
	return ds
}

// writeEvents describes how each destination is written.
func (r *runner) writeEvents() []ui.Write {
	out := make([]ui.Write, len(r.plan.Dests))
	for i, d := range r.plan.Dests {
		w := r.writes[i]
		out[i] = ui.Write{Dest: d.Path, Path: w.Path.String(), Why: w.Why}
		if r.eng.Name() == "fallback" {
			out[i].Path, out[i].Why = "pwrite", "the portable engine writes through the page cache"
			if r.engineWhy != "" {
				out[i].Why = r.engineWhy
			}
		} else if w.Path == cvv.WriteAuto {
			out[i].Path = cvv.WriteDirect.String()
		}
	}
	return out
}

// inMemory reports whether the source and every destination are held in
// memory (tmpfs, ramfs), where --engine auto takes the portable engine.
func (r *runner) inMemory() bool {
	paths := []string{r.plan.Source}
	for _, d := range r.plan.Dests {
		paths = append(paths, d.Path)
	}
	return plan.InMemory(paths...)
}

// closeOutput ends the progress feed and the live display.
func (r *runner) closeOutput() {
	r.feed.Stop()
	r.out.Close()
}

// warn reports a warning and counts it.
func (r *runner) warn(rel, msg string) {
	r.warnings.Add(1)
	r.out.Warn(rel, msg)
}

// uiFile is fj as the printers show it, with states on its destinations.
func (r *runner) uiFile(fj *fileJob, states []destState) ui.File {
	f := ui.File{
		Rel: fj.entry().Rel, Source: r.source(fj), Size: fj.entry().Size, Bytes: fj.size(), Elapsed: fj.elapsed(),
		Mode: r.opts.Mode.String(), Alg: r.opts.Alg.String(), Hash: fj.hash(),
		SourceState: fj.srcState(), SourceErr: fj.sourceErr(), Verified: fj.verified(), HashReused: fj.hashReused(),
		Dests: make([]ui.Dest, len(states)),
	}
	for i, st := range states {
		err := fj.err(i)
		d := ui.Dest{Path: r.target(fj, i), State: st, Hash: fj.destHashOf(i), Err: err, Reported: err != nil && err == r.dropped[i]}
		if c := fj.conflict(i); c.alt != "" {
			d.RenamedFrom = r.plan.Target(i, fj.entry().Rel)
		} else {
			d.Replaces = c.replaced
		}
		f.Dests[i] = d
	}
	return f
}

// snapshot is the run's progress now. It is called from the progress
// feed's goroutine and reads only atomics and what does not change during
// the copy.
func (r *runner) snapshot() ui.Snapshot {
	s := ui.Snapshot{
		Phase:       r.phase.Load().(string),
		BytesDone:   r.bytesDone.Load(),
		BytesTotal:  r.bytesTotal.Load(),
		FilesDone:   r.filesDone.Load(),
		Verified:    r.verifyDone.Load(),
		FilesTotal:  r.files.len(),
		ETA:         -1,
		Verifies:    r.opts.Mode != plan.LevelTransfer,
		VerifyDone:  r.verifyBytes.Load(),
		VerifyTotal: r.verifyTotal.Load(),
		VerifyETA:   -1,
	}
	copyOver := s.FilesDone == int64(s.FilesTotal)
	if s.Phase == "copy" && s.Verifies && ((copyOver && !r.opts.VerifyAfter) || (r.copying.Load() == 0 && r.verifying.Load() > 0)) {
		// The files in flight are all being verified.
		s.Phase = "verify"
	}
	now := time.Now()
	if el := now.Sub(r.start); el > 0 {
		s.Rate = float64(r.bytesRead.Load()) / el.Seconds()
	}
	if s.Rate > 0 && r.phase.Load() == "copy" && !copyOver {
		s.ETA = time.Duration(float64(s.BytesTotal-s.BytesDone) / s.Rate * float64(time.Second))
	}
	s.VerifyRate, s.VerifyETA = r.verifyMeter.RateAndETA(now, s.VerifyDone, s.VerifyTotal)
	s.Dests = r.destSnapshot(now, copyOver && r.verifying.Load() == 0)
	r.inFlight.Range(func(k, _ any) bool {
		s.Current = append(s.Current, k.(string))
		return len(s.Current) < 8
	})
	sort.Strings(s.Current)
	return s
}

// fileCounts are the files of a run by outcome. A file counts once: failed
// first, then not verified, not started, copied, skipped.
type fileCounts struct {
	copied, skipped, failed, notVerified, notStarted int
	// hashReused counts the files whose source hash came from their
	// verification records (aside from the outcomes above).
	hashReused int
}

func (r *runner) countFiles() fileCounts {
	var c fileCounts
	for _, fj := range r.records() {
		if fj.hashReused() {
			c.hashReused++
		}
		switch {
		case fj.failed():
			c.failed++
		case slices.Contains(fj.states(), dsCopied):
			// Copied (maybe given its name) but not verified.
			c.notVerified++
			if fj.wrote() {
				c.copied++
			}
		case slices.Contains(fj.states(), dsPending):
			// Not copied, or its check not done: the run stopped first.
			c.notStarted++
		case fj.wrote():
			c.copied++
		default:
			c.skipped++
		}
	}
	return c
}

// summary reports the end of the run.
func (r *runner) summary() {
	r.feed.Stop()
	c := r.countFiles()
	el := time.Since(r.start)
	moved := r.bytesRead.Load()
	var released *float64
	if r.released > 0 {
		s := r.released.Seconds()
		released = &s
	}
	r.out.Summary(ui.Summary{
		SourceReleased: released, ShowRelease: r.casc != nil,
		Files:       r.files.len(),
		FilesCopied: c.copied, FilesSkipped: c.skipped, FilesFailed: c.failed,
		FilesNotVerified: c.notVerified, FilesNotStarted: c.notStarted, FilesHashReused: c.hashReused,
		FilesVerified: r.verifyDone.Load(), Symlinks: int64(len(r.tree.Links)), Dirs: len(r.tree.Dirs),
		Failures: r.failures.Load(), Warnings: r.warnings.Load(),
		Bytes: r.tree.Bytes, BytesCopied: moved, Seconds: el.Seconds(), BytesPerSec: ui.Speed(moved, el),
		Interrupted: r.interrupted, Dests: r.destSummaries(),
		OK:      r.failures.Load() == 0 && !r.interrupted && c.notVerified == 0 && c.notStarted == 0,
		Elapsed: el, DestsCount: len(r.plan.Dests), Mode: r.opts.Mode.String(),
	})
}

// destSummaries is how each destination ended: its files by state.
func (r *runner) destSummaries() []ui.DestSummary {
	ds := make([]ui.DestSummary, len(r.plan.Dests))
	for i, d := range r.plan.Dests {
		ds[i] = ui.DestSummary{Path: d.Path, Name: d.Arg, Error: ui.ErrString(r.dropped[i])}
	}
	for _, fj := range r.records() {
		for i, st := range fj.states() {
			switch st {
			case dsOK:
				ds[i].FilesOK++
			case dsSkipped:
				ds[i].FilesSkipped++
			case dsFailed:
				ds[i].FilesFailed++
			case dsCopied:
				ds[i].FilesNotVerified++
			default:
				ds[i].FilesNotStarted++
			}
		}
	}
	for i := range ds {
		d := &ds[i]
		d.Complete = d.Error == "" && d.FilesFailed == 0 && d.FilesNotVerified == 0 && d.FilesNotStarted == 0
	}
	return ds
}
