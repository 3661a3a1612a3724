package copier

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/cvv-project/cvv/cmd/internal/plan"
	"github.com/cvv-project/cvv/cmd/internal/ui"
	"github.com/cvv-project/cvv/cmd/internal/workers"
	"github.com/cvv-project/cvv/internal/atomicfile"
)

// Cascading (--cascade DEST): a slow destination must not hold up the
// card. The other destinations (the fast ones) are copied and verified at
// their own pace, as if DEST were not there; then the source is released
// (the "source_released" event: its data is read no more, so the card may
// go) and each cascade destination is filled from a verified copy on a
// fast destination, the first one in command-line order that verified the
// file.
//
// A cascade copy is checked against the source's hash, never against the
// copy it is read from: the engine hashes the bytes it reads from the fast
// copy in flight, and they must give the source hash of this run, or that
// fast copy has changed since its verification (it is then demoted to a
// transfer-level record, fails there, and the next verified copy is
// tried). In full mode the cascade copy is then re-read from the media
// and must give the source hash too. So the cascade adds no read of the
// source (a file copied is read twice: the copy, and the re-read of
// source and full modes), and no corruption of a fast copy is propagated
// silently.
//
// A file that no fast destination copies or re-checks in this run (a
// resumed run that finds it verified there already) has no fresh verified
// copy to cascade from: it is copied to the cascade destination from the
// source, like any other destination, before the release.
//
// Why not automatic (a destination that falls behind by more than the
// buffer arena is detached): both engines hand each block to every
// destination and reuse its buffer only when all writes are done, so
// detaching a destination in the middle of a file needs a per-destination
// queue in the engines and a way to give up its half-written temp file;
// the decision would also rest on a few seconds of a device's rate, which
// page-cache writeback makes wrong. Until the engines carry that, the
// slow destinations are named.

// cascadeRun is the cascade part of a run.
type cascadeRun struct {
	// dest[i] says destination i is a cascade destination.
	dest []bool
	// dirAttrs are the source directories' attributes, read before the
	// source is released (for finishDirs), by Rel.
	dirAttrs map[string]*atomicfile.SourceAttrs
	// mu guards from: from[i][j] says a file was cascaded to destination
	// i from its copy on destination j (for the manifests).
	mu   sync.Mutex
	from map[int]map[int]bool
}

// cascaded records that a file went to cascade destinations idx from
// destination from.
func (c *cascadeRun) cascaded(idx []int, from int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.from == nil {
		c.from = map[int]map[int]bool{}
	}
	for _, i := range idx {
		if c.from[i] == nil {
			c.from[i] = map[int]bool{}
		}
		c.from[i][from] = true
	}
}

// cascadeComment is the manifest comment of destination i: from which
// destinations' verified copies its files were cascaded ("" for none).
func (r *runner) cascadeComment(i int) string {
	if r.casc == nil || r.casc.from[i] == nil {
		return ""
	}
	var names []string
	for j := range r.plan.Dests {
		if r.casc.from[i][j] {
			names = append(names, r.plan.Dests[j].Root(r.plan.IsDir))
		}
	}
	return fmt.Sprintf("cascaded by cvv from the verified copies in %s of %s, each checked against the source hash",
		strings.Join(names, ", "), r.plan.Source)
}

// initCascade marks the cascade destinations: the last len(opts.Cascade)
// of the plan.
func (r *runner) initCascade() {
	n := len(r.opts.Cascade)
	if n == 0 {
		return
	}
	c := &cascadeRun{dest: make([]bool, len(r.plan.Dests))}
	for i := len(c.dest) - n; i < len(c.dest); i++ {
		c.dest[i] = true
	}
	r.casc = c
}

// isCascade reports whether destination i is a cascade destination.
func (r *runner) isCascade(i int) bool { return r.casc != nil && r.casc.dest[i] }

// cascades reports whether fj goes to its cascade destinations from a
// verified copy: a fast destination copies or re-checks it in this run,
// and a cascade destination needs it.
func (r *runner) cascades(fj *fileJob) bool {
	if r.casc == nil {
		return false
	}
	fast, slow := false, false
	for i, a := range fj.actions() {
		if a == plan.Skip {
			continue
		}
		if r.casc.dest[i] {
			slow = true
		} else {
			fast = true
		}
	}
	return fast && slow
}

// deferred reports whether destination i of fj waits for the cascade.
func (r *runner) deferred(fj *fileJob, i int) bool {
	return r.isCascade(i) && r.cascades(fj)
}

// cascadePending reports whether fj still has a cascade destination to
// fill: its report waits for the cascade.
func (r *runner) cascadePending(fj *fileJob) bool {
	if !r.cascades(fj) {
		return false
	}
	for i, st := range fj.states() {
		if r.isCascade(i) && st == dsPending {
			return true
		}
	}
	return false
}

// releaseSource reports that the source is read no more. With a cascade,
// the source directories' attributes are read first (finishDirs gives
// them to the cascade destinations' directories at the end).
func (r *runner) releaseSource() {
	if r.released != 0 {
		return
	}
	var pending []string
	if r.casc != nil {
		r.loadDirAttrs()
		for i, d := range r.plan.Dests {
			if r.isCascade(i) && r.live(i) {
				pending = append(pending, d.Path)
			}
		}
	}
	el := time.Since(r.start)
	r.released = max(el, 1)
	reads := 1
	if r.opts.Mode != plan.LevelTransfer {
		reads = 2
	}
	r.out.SourceReleased(ui.SourceReleased{Source: r.plan.Source, Seconds: el.Seconds(), Reads: reads, Pending: pending})
}

// loadDirAttrs reads the attributes of every source directory that
// finishDirs will need.
func (r *runner) loadDirAttrs() {
	if r.opts.NoPreserve || !r.plan.IsDir || r.casc.dirAttrs != nil {
		return
	}
	r.casc.dirAttrs = make(map[string]*atomicfile.SourceAttrs, len(r.tree.Dirs))
	for _, d := range r.tree.Dirs {
		if a, err := r.dirAttrs(d.Rel); err == nil {
			r.casc.dirAttrs[d.Rel] = a
		}
	}
}

// cachedDirAttrs returns the attributes of source directory rel read
// before the release, nil if none.
func (r *runner) cachedDirAttrs(rel string) *atomicfile.SourceAttrs {
	if r.casc == nil || r.casc.dirAttrs == nil {
		return nil
	}
	return r.casc.dirAttrs[rel]
}

// cascadeAll fills the cascade destinations of every file that waits for
// them, r.opts.Jobs files at a time. It returns an error only when the run
// is cancelled.
func (r *runner) cascadeAll(ctx context.Context) error {
	// A pass finds whether any waits; the work pass finds them again,
	// in order, with nothing kept per file.
	any := false
	for range r.jobsWhere(r.cascadePending) {
		any = true
		break
	}
	if !any {
		return nil
	}
	r.phase.Store("cascade")
	var ds *dirSyncs
	if r.dirSync != nil {
		ds = newDirSyncsFor(r, r.jobsWhere(r.cascadePending))
		r.dirSync = ds
		defer ds.finish()
	}
	return workers.EachOf(ctx, r.opts.Jobs, r.pinnedWhere(r.cascadePending), func(fj *fileJob) error {
		r.inFlight.Store(fj.entry().Rel, struct{}{})
		defer r.inFlight.Delete(fj.entry().Rel)
		c, err := r.cascadeFile(ctx, fj)
		if err != nil {
			return err // keepAllUnverified deals with its held copies
		}
		r.seal(fj)
		if ds != nil {
			ds.cascadeDone(fj, c)
		} else {
			r.settleCascade(fj, c)
		}
		return nil
	})
}

// cascadeInfo is how fj's cascade destinations were filled, for its
// report.
type cascadeInfo struct {
	// idx are the cascade destinations filled (or failed).
	idx []int
	// from is the destination whose copy was read, -1 for none.
	from    int
	bytes   int64
	elapsed time.Duration
}

// settleCascade reports the cascade of fj and settles the file.
func (r *runner) settleCascade(fj *fileJob, c cascadeInfo) {
	f := r.uiFile(fj, fj.states())
	ev := ui.Cascade{Rel: fj.entry().Rel, Size: fj.entry().Size, Mode: r.opts.Mode.String(), Alg: r.opts.Alg.String(),
		Hash: fj.hash(), Bytes: c.bytes, Elapsed: c.elapsed}
	if c.from >= 0 {
		ev.From = r.target(fj, c.from)
	}
	for _, i := range c.idx {
		ev.Dests = append(ev.Dests, f.Dests[i])
	}
	r.out.Cascaded(ev)
	r.account(fj)
}

// apartSource is the file a separate copy of hard link h on destination i
// is made from: the source, or on a cascade destination (filled after the
// source was released) the copy of h's file made there, which verified
// against the source hash.
func (r *runner) apartSource(i int, h plan.HardLink) string {
	if r.isCascade(i) && r.released != 0 {
		return r.targetAt(r.peek(h.File), i, h.First)
	}
	return r.tree.Path(h.Rel)
}
