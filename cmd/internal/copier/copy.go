package copier

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/cmd/internal/plan"
	"github.com/cvv-project/cvv/cmd/internal/testhook"
	"github.com/cvv-project/cvv/cmd/internal/ui"
	"github.com/cvv-project/cvv/cmd/internal/usage"
	"github.com/cvv-project/cvv/cmd/internal/workers"
	"github.com/cvv-project/cvv/internal/atomicfile"
	"github.com/cvv-project/cvv/internal/spill"
)

// destState is where one file stands on one destination: the printers'
// vocabulary (ui.State).
type destState = ui.State

const (
	dsPending = ui.Pending // to be copied
	dsSkipped = ui.Skipped // existing file kept, not re-read
	dsCopied  = ui.Copied  // copied, not verified (yet): held under a temp name, or given its name unverified (keepUnverified)
	dsOK      = ui.OK      // copied (or kept) and verified
	dsFailed  = ui.Failed  // copy or verification failed
)

// runner is one copy run.
type runner struct {
	opts   Options
	stdout io.Writer
	stderr io.Writer

	plan *plan.Plan
	tree *plan.Tree
	// dropped[i] is why destination i was given up before the copy (not
	// enough space), nil for a destination that takes part.
	dropped []error
	// created[i] are the directories createRoots made for destination i.
	created [][]string
	// destFS[i] is what destination i's filesystem can hold; refused[i]
	// maps the Rel of each entry it cannot hold to why (nil: all fit).
	destFS  []plan.DestFS
	refused []map[string]error
	// writes[i] is how destination i is written (plan.Plan.WritePaths).
	writes []plan.WriteChoice
	// attrsAgain[i] is set once destination i needed attributes set
	// again after a rename (said once).
	attrsAgain []atomic.Bool
	// noXattrs[i] is set once destination i was found unable to hold
	// extended attributes (said once).
	noXattrs []atomic.Bool
	// noHardLinks[i] is set once destination i was found unable to hold
	// hard links (said once); linked[i][k] once tree.HardLinks[k] is
	// linked (or copied) there.
	noHardLinks []atomic.Bool
	linked      [][]bool
	linksMade   bool // a hard link was made (or copied) by this run
	// folded caches, by destination directory path, whether a directory
	// of a filesystem with case-folding directories folds (ext4 casefold).
	folded sync.Map
	// looks are the directories decide looks into, one per destination
	// (decideAt).
	looks []lookDir
	// locks hold the destination roots for the run (lockDests).
	locks []*DestLock
	// roots[i] is destination i's root directory, open (openRoots): every
	// write below it is made from there (atomicfile.Dir), nil for a destination
	// dropped before the copy.
	roots []*atomicfile.Dir
	// nameSync[i] makes names durable on destination i with syncfs where
	// its filesystem is trusted for it, nil elsewhere (namesync.go).
	nameSync []*fsSyncer
	// blocked[i][d] is why directory d of the tree (index into tree.Dirs)
	// could not be made or reached on destination i (a symlink in its
	// place, a file), nil when it is there; nil for a file source.
	blocked [][]error
	eng     cvv.Engine
	// engineWhy says why --engine auto took eng ("" for the default).
	engineWhy string
	out       ui.CopyPrinter
	// feed pushes the progress to out while the run is shown.
	feed *ui.Feed
	// interrupted: the run was interrupted (for the summary).
	interrupted bool
	report      *transferReport // nil without a report to write
	start       time.Time
	// files is what the run keeps for each file of the tree, in the
	// order of the tree's files (jobs yields views of them).
	files *jobTable
	// reused are the source hashes decide took from the destinations'
	// verification records (hashSkipped), in the order of the files,
	// until the copy reaches them (copyFeed); hashLog the source hashes
	// of the settled files, for the manifests (logHash). Both are
	// spilled to temporary files: nothing per file is held for them.
	reused, hashLog spill.File
	// linkFirst holds the index of every file that is the first path of
	// a hard link (tree.HardLinks): its hash is kept to the end.
	linkFirst map[int32]bool
	// dirIdx maps the Rel of each directory of the tree to its index in
	// tree.Dirs.
	dirIdx map[string]int32
	// big admits the files larger than one block, opts.BigJobs at a time.
	big chan struct{}
	// active admits the file jobs that copy or verify, opts.Jobs at a
	// time, where jobs may wait for a syncfs of their data without a
	// place (slots.go); nil where every job holds its place throughout.
	active chan struct{}
	// dirSync fsyncs the destination directories of a tree copy, nil when
	// every file's commit fsyncs its own directory (a file source) or
	// nothing is fsynced (--no-fsync).
	dirSync *dirSyncs
	// dirsFinished: finishDirs gave the directories their modes and
	// times.
	dirsFinished bool
	// shard is this process's part of a sharded job (shard.go), nil when
	// the run is not sharded.
	shard *shardRun
	// casc is the cascade of the run (--cascade), nil without one.
	casc *cascadeRun
	// mem keeps the soft memory limit above the live heap (memlimit.go),
	// nil when GOMEMLIMIT is set.
	mem *memGovernor
	// lists are the checks of the hash lists begun ahead (hashfile.go).
	lists *listChecks
	// released is when the source was released (releaseSource), after
	// the start; 0 until then.
	released time.Duration

	bytesTotal atomic.Int64 // source bytes to copy (read by the progress feed)
	bytesDone  atomic.Int64 // source bytes copied
	bytesRead  atomic.Int64 // bytes the engine moved (for throughput)
	filesDone  atomic.Int64 // files finished (copied or kept)
	verifyDone atomic.Int64 // files verified
	// The verification's progress: the bytes its reads are to hash (the
	// source and each copy in full mode), the bytes hashed so far, and
	// their recent rate (used by the progress feed only).
	verifyTotal atomic.Int64
	verifyBytes atomic.Int64
	verifyMeter ui.RateMeter
	// copying and verifying are the files in their copy and their
	// verification now.
	copying, verifying atomic.Int64
	// destProg[i] is the progress of destination i, for the display.
	destProg []destProgress
	phase    atomic.Value // "copy" or "verify"
	failures atomic.Int64 // failed entries (files, links, dirs)
	inFlight sync.Map     // rel -> struct{}: files being worked on
	warnings atomic.Int64 // skipped specials and other warnings
}

// run copies src to dests: validate and plan (nothing written on a usage
// error or a shortfall of space), create the destination roots and
// directories, recreate the symlinks, copy and verify the files, write the
// manifests, then give the directories their modes and times. It returns
// ErrFailures when some entries failed (they have been reported), or the
// context's error when interrupted.
func (r *runner) run(ctx context.Context, src string, dests []string) (err error) {
	r.start = time.Now()
	r.phase.Store("copy")
	r.mem = startMemoryLimit()
	defer r.mem.stop()
	defer func() {
		if r.tree != nil {
			r.tree.Close()
		}
		r.reused.Close()
		r.hashLog.Close()
		r.files.close()
	}()
	if err := r.planRun(ctx, src, dests); err != nil {
		return err
	}
	if r.opts.DryRun {
		return r.dryRun(ctx)
	}
	// From here on, a failure before the start removes the destination
	// directories made so far: nothing is left behind.
	if err := r.createRoots(); err != nil {
		return err
	}
	// No other run may write into, sweep or decide on a destination while
	// this one does.
	if err := r.lockDests(ctx); err != nil {
		r.uncreateAll()
		return err
	}
	defer r.unlockDests()
	// Below each root, decide looks and the run writes from the root's
	// descriptor.
	r.openRoots()
	defer r.closeRoots()
	r.startListChecks()
	defer r.closeListChecks()
	if err := r.decide(ctx); err != nil {
		r.uncreateAll()
		return err
	}
	if err := r.checkSpace(); err != nil {
		r.uncreateAll()
		return err
	}
	opened, err := r.opts.OpenEngine(r.inMemory())
	if err != nil {
		r.uncreateAll()
		return err
	}
	eng, note := opened.Engine, opened.Warning
	r.eng, r.engineWhy, r.opts.EngineOpts = eng, opened.Why, opened.Opts
	r.mem.setBuffers(r.engineBuffers())
	defer func() {
		if cerr := eng.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing the %s engine: %w", eng.Name(), cerr)
		}
	}()
	for i := range r.plan.Dests {
		if !r.live(i) {
			r.drop(i)
		}
	}
	r.out = r.opts.Printer()
	defer r.closeOutput()
	r.startOutput()
	r.reportStart(note)
	return r.execute(ctx)
}

// planRun resolves the command line and walks the source: nothing is
// written yet.
func (r *runner) planRun(ctx context.Context, src string, dests []string) (err error) {
	r.plan, err = plan.Resolve(src, dests, plan.ResolveOptions{MkPath: r.opts.MkPath})
	if err != nil {
		return err
	}
	r.dropped = make([]error, len(r.plan.Dests))
	r.destProg = make([]destProgress, len(r.plan.Dests))
	r.tree, err = plan.WalkExcluding(ctx, r.plan.Source, r.opts.Excludes)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		return usage.Errorf("source %s: %v", src, err)
	}
	if err := r.plan.CheckTree(r.tree); err != nil {
		return err
	}
	if !r.tree.IsDir {
		r.tree.NameFile(r.plan.Name())
	}
	r.initCascade()
	r.detectDests()
	r.writes = r.plan.WritePaths(r.opts.Write)
	// The refusals above looked at the whole tree (names that collide
	// may fall to different shards); the rest is this shard's part.
	return r.applyShard()
}

// reportStart reports what is known before the first byte moves: the
// report file, the engine's note, shared devices, dropped destinations,
// skipped special files and entries the walk could not read.
func (r *runner) reportStart(note string) {
	if err := r.startReport(); err != nil {
		r.failures.Add(1)
		r.out.Fail("", "", err)
	}
	if note != "" {
		r.warn("", note)
	}
	for _, msg := range r.sharedDevices() {
		r.warn("", msg)
	}
	for i, d := range r.plan.Dests {
		if !r.live(i) {
			r.failures.Add(1)
			r.out.Fail("", d.Path, r.dropped[i])
		}
	}
	for _, s := range r.tree.Specials {
		r.warn(s.Rel, fmt.Sprintf("skipped: %s is a %s", r.tree.Path(s.Rel), describeSpecial(s.Mode)))
	}
	for _, p := range r.tree.Problems {
		r.failures.Add(1)
		r.out.Fail(p.Rel, "", p.Err)
	}
}

// execute creates the directories and links, copies and verifies the
// files, writes the manifests and finishes the directories.
func (r *runner) execute(ctx context.Context) error {
	if r.plan.IsDir && !r.opts.NoFsync {
		r.dirSync = newDirSyncs(r)
	}
	r.makeDirs()
	r.makeLinks(ctx)
	if r.dirSync != nil {
		r.dirSync.syncCreated()
	}
	if err := r.copyAll(ctx); err != nil {
		r.keepAllUnverified()
		r.finish(true)
		return err
	}
	if r.opts.VerifyAfter {
		if err := r.verifyAll(ctx); err != nil {
			r.keepAllUnverified()
			r.finish(ctx.Err() != nil)
			return err
		}
	}
	if r.casc != nil {
		// The fast destinations are copied and verified: they are
		// finished while the source is still there (the card may be
		// gone once it is released), then the source may go.
		r.loadDirAttrs()
		r.finishDests(ctx, func(i int) bool { return !r.isCascade(i) })
		r.releaseSource()
		if err := r.cascadeAll(ctx); err != nil {
			r.keepAllUnverified()
			r.finish(true)
			return err
		}
		r.finishDests(ctx, r.isCascade)
	} else {
		r.finishDests(ctx, nil)
	}
	r.releaseSource()
	if err := errors.Join(r.tree.Files.Err(), r.reused.Err(), r.hashLog.Err(), r.files.err()); err != nil {
		// A pass over the files stopped short: the run cannot say all
		// is well.
		r.failures.Add(1)
		r.out.Fail("", "", err)
	}
	r.finish(false)
	if r.failures.Load() > 0 {
		return ErrFailures
	}
	if r.unverified() > 0 {
		return ErrNotVerified
	}
	return nil
}

// decide maps every file to its targets and what to do on each.
func (r *runner) decide(ctx context.Context) error {
	n := len(r.plan.Dests)
	r.dirIdx = make(map[string]int32, len(r.tree.Dirs))
	for k, d := range r.tree.Dirs {
		r.dirIdx[d.Rel] = int32(k)
	}
	// A destination root this run creates holds nothing yet: every file
	// is copied there, without a look at its target.
	fresh := make([]bool, n)
	for i := range r.plan.Dests {
		fresh[i] = r.plan.IsDir && r.rootIsNew(i)
	}
	defer r.closeLooks()
	for _, h := range r.tree.HardLinks {
		if r.linkFirst == nil {
			r.linkFirst = make(map[int32]bool)
		}
		r.linkFirst[int32(h.File)] = true
	}
	// One allocation each for the flags of all files and their
	// per-destination state, sized exactly.
	nf := r.tree.Files.Len()
	if nf > math.MaxInt32 {
		return fmt.Errorf("%d files in one tree: at most %d", nf, math.MaxInt32)
	}
	t, err := newJobTable(nf, r.dropped)
	if err != nil {
		return err
	}
	defer func() {
		if r.files != t {
			t.close()
		}
	}()
	seen := 0
	var dc dirCache
	// found[i] is what destination i holds under the file's name.
	found := make([]plan.Existing, n)
	ahead := r.lookAhead(ctx, fresh)
	defer ahead.stop()
	// One view, made again for each file (jobTable.viewIn): decide
	// keeps what it decided in t and holds no view.
	var fj *fileJob
	var ent plan.Entry
	for k, e := range r.tree.Files.All() {
		if k%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		ent = e
		fj = t.viewIn(fj, int32(k), &ent)
		if r.tree.IsDir {
			fj.dir = r.dirOf(&dc, e.Rel)
		}
		looks := ahead.file(k)
		for i := range n {
			found[i] = plan.Existing{}
			if err := r.refusal(i, e.Rel); err != nil {
				// The destination cannot hold it: it fails there alone.
				fj.actions()[i] = plan.Skip
				fj.fail(i, err)
				continue
			}
			a := plan.Copy
			switch {
			case fresh[i]:
			case looks != nil:
				l := &looks[i]
				a, found[i] = r.decideFound(fj, i, l.a, l.ex, l.err)
			default:
				a, found[i] = r.decideDest(fj, i)
			}
			fj.actions()[i] = a
		}
		if r.opts.hashFilesWanted() {
			// A manifest lists every file with its hash.
			r.hashSkipped(fj, found)
		}
		for i, a := range fj.actions() {
			if a == plan.Skip && fj.states()[i] == dsPending {
				fj.states()[i] = dsSkipped
			}
		}
		if fj.needsCopy() {
			r.bytesTotal.Add(e.Size)
		}
		t.keep(fj)
		seen = k + 1
	}
	if err := r.tree.Files.Err(); err != nil {
		return err
	}
	if seen != nf {
		return fmt.Errorf("file list: %d of %d files read back", seen, nf)
	}
	r.files = t
	return nil
}

// dirCache is the last directory a pass over the files looked up.
type dirCache struct {
	rel string
	idx int32
	ok  bool
}

// dirOf returns the index in r.tree.Dirs of the directory of the file at
// rel, through c.
func (r *runner) dirOf(c *dirCache, rel string) int32 {
	d := ""
	if i := strings.LastIndexByte(rel, filepath.Separator); i >= 0 {
		d = rel[:i]
	}
	if !c.ok || d != c.rel {
		c.rel, c.idx, c.ok = d, int32(r.dirIndex(d)), true
	}
	return c.idx
}

// peek returns a view of file k without its entry, to read what the run
// knows of it (its states, hash, errors) out of a pass over the files:
// what is written to it may be lost.
func (r *runner) peek(k int) *fileJob { return r.files.view(int32(k), nil) }

// records yields the index and a view of each file of the run without
// its entry (peekIn: one view, made again for each), for a pass that
// only reads what the run decided and did for each file (its actions,
// states and flags): the tree's file list is not read back.
func (r *runner) records() iter.Seq2[int, *fileJob] {
	return func(yield func(int, *fileJob) bool) {
		var fj *fileJob
		for k := range r.files.len() {
			if fj = r.peekIn(fj, k); r.files.err() != nil || !yield(k, fj) {
				return
			}
		}
	}
}

// peekIn is peek made in the storage of prev, a view peekIn returned
// before that nobody holds any more (nil: none): a pass that only reads
// the files it peeks at allocates nothing for most of them.
func (r *runner) peekIn(prev *fileJob, k int) *fileJob { return r.files.viewIn(prev, int32(k), nil) }

// jobs yields the index and a view of each file of the run, in the
// order of the tree, with its entry (read back from the tree's
// FileList), until a record cannot be read back. A pass that hands a file to another goroutine pins it
// (fileJob.pin); the table keeps what an unpinned view was given when
// the pass moves on.
//
// The view of a file the pass moved on from, unpinned, is made again for
// the next (jobTable.viewIn), with its entry: a pass allocates nothing
// for a file that is not pinned and has no slot.
func (r *runner) jobs() iter.Seq2[int, *fileJob] {
	return func(yield func(int, *fileJob) bool) {
		var dc dirCache
		// spare is the view of the file before, which nobody holds.
		var spare *fileJob
		for k, e := range r.tree.Files.All() {
			if k >= r.files.len() {
				return
			}
			var fj *fileJob
			if spare != nil {
				*spare.e = e
				fj = r.files.viewIn(spare, int32(k), spare.e)
			} else {
				ent := e
				fj = r.files.view(int32(k), &ent)
			}
			if r.tree.IsDir {
				fj.dir = r.dirOf(&dc, e.Rel)
			}
			if r.files.err() != nil {
				// Its record may not be what the run decided: the pass
				// stops short, and the run fails (execute).
				return
			}
			ok := yield(k, fj)
			spare = nil
			if !fj.pinned {
				r.files.keep(fj)
				spare = fj
			}
			if !ok {
				return
			}
		}
	}
}

// copyFeed yields the jobs of the run (jobs), with the source hash
// decide took from the destinations' records (reused) given back to the
// files it was taken for. A file handed to a worker, or held after the
// pass moved on, must be pinned by whoever keeps it (copyWork,
// doSkipped): a file skipped everywhere is mostly reported at once, and
// its view made again for the next file.
func (r *runner) copyFeed() iter.Seq[*fileJob] {
	return func(yield func(*fileJob) bool) {
		next, stop := iter.Pull(r.reused.Records())
		defer stop()
		for _, fj := range r.jobs() {
			if fj.hashReused() && fj.h == nil {
				rec, ok := next()
				if !ok {
					r.reused.Fail(errors.New("reused hashes: fewer than the files that reuse one"))
					return
				}
				e := fj.entry()
				fj.h = &fileHash{hash: string(rec), size: e.Size, modTime: e.ModTime.UnixNano()}
			}
			if !yield(fj) {
				return
			}
		}
	}
}

// jobsWhere yields the jobs of the run (jobs) that want selects.
func (r *runner) jobsWhere(want func(*fileJob) bool) iter.Seq2[int, *fileJob] {
	return func(yield func(int, *fileJob) bool) {
		for k, fj := range r.jobs() {
			if want(fj) && !yield(k, fj) {
				return
			}
		}
	}
}

// pinnedWhere yields the jobs of the run (jobs) that want selects (nil:
// every one), each pinned: for a pool of workers, which may work on a
// file after the pass moved on.
func (r *runner) pinnedWhere(want func(*fileJob) bool) iter.Seq[*fileJob] {
	return func(yield func(*fileJob) bool) {
		for _, fj := range r.jobs() {
			if want != nil && !want(fj) {
				continue
			}
			fj.pin()
			if !yield(fj) {
				return
			}
		}
	}
}

// checkSpace groups the bytes to write by destination filesystem. The
// destinations on a filesystem that lacks space for all that is to be
// written to it are dropped before anything is written to them: every file
// fails there (exit status 1), the other destinations are copied. When every
// destination is dropped, the run stops with an error wrapping
// cvv.ErrDiskFull. The destination roots must exist (createRoots).
func (r *runner) checkSpace() error {
	fss, any, err := r.spaceNeeds()
	if err != nil || !any {
		return err
	}
	var msgs []string
	for _, f := range fss {
		if _, short := f.Short(); !short {
			continue
		}
		var names []string
		for _, i := range f.Dests {
			names = append(names, r.plan.Dests[i].Arg)
		}
		msg := fmt.Sprintf("%s (destinations %s)", f, strings.Join(names, ", "))
		msgs = append(msgs, msg)
		for _, i := range f.Dests {
			r.dropped[i] = fmt.Errorf("%w: %s", cvv.ErrDiskFull, msg)
		}
	}
	if len(msgs) > 0 && !slices.Contains(r.dropped, nil) {
		return fmt.Errorf("%w: %s; nothing was copied", cvv.ErrDiskFull, strings.Join(msgs, "; "))
	}
	return nil
}

// spaceNeeds groups the bytes decide chose to copy by destination
// filesystem; any reports whether anything is to be copied at all.
func (r *runner) spaceNeeds() (fss []*plan.Filesystem, any bool, err error) {
	dirs := make([]string, len(r.plan.Dests))
	for i, d := range r.plan.Dests {
		dirs[i] = d.Root(r.plan.IsDir)
	}
	// A file to recheck exists already and is copied again only if it
	// differs: it needs no new space in the common case.
	for _, fj := range r.records() {
		if any = slices.Contains(fj.actions(), plan.Copy); any {
			break
		}
	}
	if !any {
		return nil, false, nil
	}
	fss, err = plan.Space(dirs, func(add func(i int, size int64)) {
		for _, fj := range r.jobs() {
			for i, a := range fj.actions() {
				if a == plan.Copy {
					add(i, fj.entry().Size)
				}
			}
		}
	})
	if err != nil {
		return nil, true, fmt.Errorf("free-space check: %w", err)
	}
	return fss, true, nil
}

// drop gives up destination i before anything is written to it: the
// directories createRoots made for it are removed and every file fails
// there with r.dropped[i].
func (r *runner) drop(i int) {
	r.uncreate(i)
	for _, fj := range r.jobs() {
		fj.actions()[i] = plan.Skip
		fj.fail(i, r.dropped[i])
	}
	r.countBytes()
}

// countBytes sets bytesTotal to the bytes still to copy.
func (r *runner) countBytes() {
	var n int64
	for _, fj := range r.jobs() {
		if fj.needsCopy() {
			n += fj.entry().Size
		}
	}
	r.bytesTotal.Store(n)
}

// source returns the source path of fj.
func (r *runner) source(fj *fileJob) string { return r.tree.Path(fj.entry().Rel) }

// target returns the path of fj on destination i (another name with
// --on-conflict rename).
func (r *runner) target(fj *fileJob, i int) string { return r.targetAt(fj, i, fj.entry().Rel) }

// targetAt is target for fj at rel, when fj's entry is not at hand.
func (r *runner) targetAt(fj *fileJob, i int, rel string) string {
	if alt := fj.conflict(i).alt; alt != "" {
		return alt
	}
	return r.plan.Target(i, rel)
}

// live reports whether destination i takes part in the run.
func (r *runner) live(i int) bool { return r.dropped[i] == nil }

// createRoots creates the missing destination directories, each made
// durable by an fsync of its parent (unless --no-fsync). If one cannot be
// created, the ones created so far are removed again and the run fails with
// a usage error: nothing is left behind.
func (r *runner) createRoots() error {
	r.created = make([][]string, len(r.plan.Dests))
	for i, d := range r.plan.Dests {
		for _, m := range d.Missing {
			if err := os.Mkdir(m, 0o755); err != nil {
				if errors.Is(err, fs.ErrExist) {
					if fi, serr := os.Stat(m); serr == nil && fi.IsDir() {
						if err := r.madeByAnother(m); err != nil {
							r.uncreateAll()
							return fmt.Errorf("creating destination %s: %w", d.Arg, err)
						}
						continue
					}
				}
				r.uncreateAll()
				return usage.Errorf("cannot create destination %s: %v", d.Arg, err)
			}
			r.created[i] = append(r.created[i], m)
			if r.opts.NoFsync {
				continue
			}
			if err := r.syncPath(filepath.Dir(m)); err != nil {
				r.uncreateAll()
				return fmt.Errorf("creating destination %s: %w", d.Arg, err)
			}
		}
	}
	return nil
}

// rootIsNew reports whether the root of destination i is made by this
// run: created by createRoots, or, before it ran, missing.
func (r *runner) rootIsNew(i int) bool {
	d := r.plan.Dests[i]
	if r.created == nil {
		return len(d.Missing) > 0
	}
	c := r.created[i]
	return len(c) > 0 && c[len(c)-1] == d.Root(r.plan.IsDir)
}

// uncreate removes the directories createRoots made for destination i, if
// they are still empty (a parent shared with another destination is not).
func (r *runner) uncreate(i int) {
	for _, c := range slices.Backward(r.created[i]) {
		os.Remove(c)
	}
	r.created[i] = nil
}

func (r *runner) uncreateAll() {
	for i := range slices.Backward(r.created) {
		r.uncreate(i)
	}
}

// makeDirs creates the directories of a tree source under every destination
// and removes the temp files an interrupted run left in existing ones. Every
// directory is reached from the destination root's descriptor, never
// through a symlink (see atomicfile.Dir): a directory that cannot be made or
// reached is reported once, and the files below it fail on that
// destination (blockFiles).
func (r *runner) makeDirs() {
	r.blocked = make([][]error, len(r.plan.Dests))
	for i := range r.plan.Dests {
		if !r.live(i) {
			continue
		}
		if !r.plan.IsDir {
			r.removeTemps(r.roots[i])
			continue
		}
		r.blocked[i] = make([]error, len(r.tree.Dirs))
		for k, d := range r.tree.Dirs {
			if p := r.parentDir(k); p >= 0 && r.blocked[i][p] != nil {
				r.blocked[i][k] = r.blocked[i][p]
				continue
			}
			err := r.refusal(i, d.Rel)
			if err == nil {
				err = r.makeDir(i, k)
			}
			if err != nil {
				r.blocked[i][k] = err
				r.failures.Add(1)
				r.out.Fail(d.Rel, r.plan.Target(i, d.Rel), err)
			}
		}
	}
	r.blockFiles()
}

// makeDir creates directory k of the tree on destination i, or readies an
// existing one: writable until finishDirs, no leftover temp files.
func (r *runner) makeDir(i, k int) error {
	d := r.tree.Dirs[k]
	perm := fs.FileMode(0o755)
	if !r.opts.NoPreserve {
		// Writable by us until finishDirs applies the real mode.
		perm = d.Mode.Perm() | 0o700
	}
	if d.Rel == "" {
		return r.readyDir(d.Rel, r.roots[i])
	}
	parent, err := r.roots[i].OpenDir(filepath.Dir(d.Rel))
	if err != nil {
		return err
	}
	defer parent.Close()
	name := filepath.Base(d.Rel)
	err = parent.Mkdir(name, perm)
	if err == nil {
		if r.dirSync != nil {
			r.dirSync.made(i, k)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return err
	}
	fi, err := parent.Lstat(name)
	switch {
	case err != nil:
		return err
	case fi.Mode()&fs.ModeSymlink != 0:
		return linkConflict(parent, name, "directory")
	case !fi.IsDir():
		return fmt.Errorf("%s exists and is not a directory", r.plan.Target(i, d.Rel))
	}
	dir, err := parent.OpenDir(name)
	if err != nil {
		return err
	}
	defer dir.Close()
	if r.shard != nil && r.dirSync != nil {
		// Maybe just made by another shard: its name is made durable
		// before a file below it is reported.
		r.dirSync.made(i, k)
	}
	return r.readyDir(d.Rel, dir)
}

// readyDir makes an existing destination directory writable (a read-only
// directory from an earlier run; finishDirs gives it its mode again) and
// removes the temp files an interrupted run left in it.
func (r *runner) readyDir(rel string, dir *atomicfile.Dir) error {
	if !r.opts.NoPreserve {
		fi, err := dir.Stat()
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o700 != 0o700 {
			if err := dir.SetMode(fi.Mode().Perm() | 0o700); err != nil {
				r.warn(rel, err.Error())
			}
		}
	}
	r.removeTemps(dir)
	return nil
}

// removeTemps removes the cvv temp files in dir, except with --shard: a
// temp file may be another shard's copy in progress.
func (r *runner) removeTemps(dir *atomicfile.Dir) {
	if r.shard != nil {
		return
	}
	r.sweepTemps(dir)
}

// sweepTemps removes the cvv temp files in dir. The destination lock must
// be held exclusive.
func (r *runner) sweepTemps(dir *atomicfile.Dir) {
	names, err := dir.ReadNames()
	if err != nil {
		return
	}
	for _, name := range names {
		if atomicfile.IsTempName(name) {
			if err := dir.Remove(name); err != nil {
				r.warn("", fmt.Sprintf("cannot remove leftover temp file: %v", err))
			}
		}
	}
}

// makeLinks recreates the symlinks under every destination, atomically
// (a temp link renamed over the final name).
func (r *runner) makeLinks(ctx context.Context) {
	for _, l := range r.tree.Links {
		if ctx.Err() != nil {
			return
		}
		dir := r.dirIndex(filepath.Dir(l.Rel))
		for i := range r.plan.Dests {
			if !r.live(i) {
				continue
			}
			err := r.blocked[i][dir]
			if err == nil {
				err = r.refusal(i, l.Rel)
			}
			if err == nil {
				err = r.makeLink(i, l)
			}
			if err != nil {
				r.failures.Add(1)
				r.out.Fail(l.Rel, r.plan.Target(i, l.Rel), err)
			} else if r.dirSync != nil {
				r.dirSync.linked(i, dir)
			}
		}
	}
}

// makeLink recreates l on destination i.
func (r *runner) makeLink(i int, l plan.Link) error {
	parent, err := r.roots[i].OpenDir(filepath.Dir(l.Rel))
	if err != nil {
		return err
	}
	defer parent.Close()
	name := filepath.Base(l.Rel)
	if !r.opts.Policy.Overwrite {
		if cur, err := parent.Readlink(name); err == nil && cur == l.Target {
			return nil
		}
	}
	tmp := atomicfile.TempName()
	if err := parent.Symlink(l.Target, tmp); err != nil {
		return err
	}
	if !r.opts.NoPreserve {
		if err := parent.Chtimes(tmp, l.ModTime); err != nil {
			parent.Remove(tmp)
			return err
		}
	}
	if err := parent.Rename(tmp, name); err != nil {
		parent.Remove(tmp)
		return err
	}
	return nil
}

// finishDests completes the destinations that only selects (nil: every
// one) once their files are in: the hard links, the hash lists, then the
// directories' attributes.
func (r *runner) finishDests(ctx context.Context, only func(i int) bool) {
	r.makeHardLinks(ctx, only)
	if err := r.writeHashFiles(only); err != nil {
		r.failures.Add(1)
		r.out.Fail("", "", err)
	}
	r.finishDirs(only)
	r.removeStates(only)
}

// finishDirs gives every directory of the destinations that only selects
// (nil: every one) its source mode, owner (as root), extended attributes
// and ACLs (unless --no-xattrs), and mtime, children before parents,
// after all contents are written, and fsyncs it so that they survive a
// power cut (unless --no-fsync).
func (r *runner) finishDirs(only func(i int) bool) {
	if r.opts.NoPreserve || !r.plan.IsDir {
		return
	}
	r.dirsFinished = true
	for k, d := range slices.Backward(r.tree.Dirs) {
		attrs, err := r.dirAttrs(d.Rel)
		if err != nil {
			r.failures.Add(1)
			r.out.Fail(d.Rel, "", err)
			attrs = &atomicfile.SourceAttrs{}
		}
		for i := range r.plan.Dests {
			if only != nil && !only(i) || !r.dirsHere(i) || r.blocked[i][k] != nil {
				continue
			}
			if err := r.finishDir(i, d, attrs); err != nil && !errors.Is(err, fs.ErrNotExist) {
				r.failures.Add(1)
				r.out.Fail(d.Rel, r.plan.Target(i, d.Rel), err)
			}
		}
	}
}

// dirAttrs reads the owner and extended attributes of the source
// directory rel.
func (r *runner) dirAttrs(rel string) (*atomicfile.SourceAttrs, error) {
	if a := r.cachedDirAttrs(rel); a != nil {
		return a, nil // read before the source was released
	}
	f, err := os.Open(r.tree.Path(rel))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return atomicfile.AttrsOf(f, fi, !r.opts.NoXattrs)
}

// finishDir gives directory d on destination i its attributes.
func (r *runner) finishDir(i int, d plan.Entry, attrs *atomicfile.SourceAttrs) error {
	dir, err := r.roots[i].OpenDir(d.Rel)
	if err != nil {
		return err
	}
	defer dir.Close()
	// What the directory has already (a re-run) is not set again: the
	// same values set again would change its ctime, for backup tools a
	// change, and make its fsync a journal commit.
	fi, err := dir.Stat()
	if err != nil {
		return err
	}
	if !dir.HoldsAttrs(attrs, fi) {
		err = dir.SetAttrs(attrs)
		if errors.Is(err, cvv.ErrNoXattrs) {
			r.xattrsUnkept(i, err)
		} else if err != nil {
			return err
		}
		fi = nil // a chown clears the set-id bits
	}
	return r.setDirTimes(i, dir, d, fi)
}

// dirModeBits are the bits of a directory's mode that setDirTimes sets.
const dirModeBits = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

// setDirTimes gives dir, directory d on destination i, its source mode
// and mtime, and fsyncs it: a directory's own mode and mtime are durable
// only once it is fsynced. fi is dir's Stat, nil when unknown: a mode or
// mtime dir has already is not set again (its atime is then left as it
// is), but dir is fsynced all the same, since what made it may not have
// been (an interrupted run).
func (r *runner) setDirTimes(i int, dir *atomicfile.Dir, d plan.Entry, fi fs.FileInfo) error {
	if !r.destFS[i].NoModes && (fi == nil || fi.Mode()&dirModeBits != d.Mode.Perm()) {
		if err := dir.SetMode(d.Mode.Perm()); err != nil {
			return err
		}
	}
	// Both times (Dir.SetModTime): exfat-fuse drops an mtime sent alone.
	if fi == nil || !fi.ModTime().Equal(d.ModTime) {
		if err := dir.SetModTime(d.ModTime); err != nil {
			return err
		}
	}
	if r.opts.NoFsync {
		return nil
	}
	return r.syncDir(dir)
}

// finishRoots gives the destination roots their source mode and mtime
// again (and fsyncs them) once something was written into them after
// finishDirs: the transfer report beside the manifests.
func (r *runner) finishRoots() {
	if !r.dirsFinished {
		return
	}
	for i := range r.plan.Dests {
		r.finishRoot(i)
	}
}

// finishRoot gives the root of destination i its source mode and mtime
// again, and fsyncs it.
func (r *runner) finishRoot(i int) {
	k := r.dirIndex("")
	d := r.tree.Dirs[k]
	if !r.dirsHere(i) || r.blocked[i][k] != nil {
		return
	}
	dir, err := r.roots[i].OpenDir(d.Rel)
	if err == nil {
		var fi fs.FileInfo
		if fi, err = dir.Stat(); err == nil {
			err = r.setDirTimes(i, dir, d, fi)
		}
		dir.Close()
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		r.failures.Add(1)
		r.out.Fail(d.Rel, r.plan.Target(i, d.Rel), err)
	}
}

// xattrsUnkept says once per destination that its filesystem could not
// hold the extended attributes of what was copied there (err wraps
// cvv.ErrNoXattrs; nil says nothing).
func (r *runner) xattrsUnkept(i int, err error) {
	if err == nil || r.noXattrs[i].Swap(true) {
		return
	}
	r.warn("", fmt.Sprintf("%s: %s cannot hold extended attributes or ACLs: they are not copied there",
		r.plan.Dests[i].Path, r.destFS[i].TypeOr("the filesystem")))
}

// copyAll runs the file jobs, r.opts.Jobs at a time. Without --verify-after
// each file is verified right after its copy, by the same worker.
func (r *runner) copyAll(ctx context.Context) error {
	if r.opts.BigJobs < r.opts.Jobs {
		r.big = make(chan struct{}, r.opts.BigJobs)
	}
	n := r.opts.Jobs
	if r.waitsForSyncs() {
		r.active = make(chan struct{}, r.opts.Jobs)
		n += r.opts.SyncWaiters
	}
	err := workers.EachOf(ctx, n, r.copyWork(ctx), func(fj *fileJob) error { return r.doFile(ctx, fj) })
	if r.dirSync != nil {
		// Also when interrupted: the files done are reported.
		r.dirSync.finish()
	}
	return err
}

// copyWork yields the jobs of copyFeed that have something to do on a
// destination. A file skipped on every one is done by the pass itself
// (doSkipped), without a worker: handing it over would cost more than
// what is left to do for it. Once ctx is done the pass stops, as a
// worker would not start the file.
func (r *runner) copyWork(ctx context.Context) iter.Seq[*fileJob] {
	return func(yield func(*fileJob) bool) {
		for fj := range r.copyFeed() {
			if fj.needsCopy() {
				fj.pin()
				if !yield(fj) {
					return
				}
				continue
			}
			if ctx.Err() != nil {
				return
			}
			r.doSkipped(fj)
		}
	}
}

// doSkipped is doFile for fj, skipped on every destination (or failed
// there before the copy): nothing to copy, verify or seal, and its
// states are final. Its file event tells them, and its report waits for
// its directory as any file's does (dirSyncs).
//
// fj is the pass's view (copyFeed), not pinned: doSkipped pins it when
// its report is held after the pass moved on.
func (r *runner) doSkipped(fj *fileJob) {
	r.filesDone.Add(1)
	if r.dirSync != nil && !r.dirSync.skipped(fj) {
		// Held for its directory: kept beyond the pass. No copy may
		// change the states the event tells: they are not copied.
		fj.pin()
		r.dirSync.fileDone(fj, fj.states(), true)
		return
	}
	r.reportDone(fj, fj.states())
}

// reportDone writes the file event of fj, which tells the states copied
// (nil: it was written already), and settles fj, its fate being final.
// The file is shown once for both when copied are its states now, as
// for a file skipped everywhere, and not at all for an event the
// printer does not show (shows).
func (r *runner) reportDone(fj *fileJob, copied []destState) {
	if copied == nil {
		r.settle(fj)
		return
	}
	var f ui.File
	built := false
	if r.shows(fj, false) {
		f, built = r.uiFile(fj, copied), true
		r.out.Copied(f)
	}
	if r.shows(fj, true) {
		if !built || !slices.Equal(copied, fj.states()) {
			f = r.uiFile(fj, fj.states())
		}
		r.out.Done(f)
	}
	r.settled(fj)
}

// copied writes the file event of fj: its states at the end of its copy.
func (r *runner) copied(fj *fileJob, states []destState) {
	if r.shows(fj, false) {
		r.out.Copied(r.uiFile(fj, states))
	}
}

// shows reports whether the printer shows the file event (done false)
// or the final report (done true) of fj: always for a file that failed
// somewhere, else as the printer says (ui.FileShows).
func (r *runner) shows(fj *fileJob, done bool) bool {
	fs, ok := r.out.(ui.FileShows)
	if !ok || fj.failed() || fj.sourceErr() != nil || (fj.x != nil && slices.ContainsFunc(fj.x.errs, func(err error) bool { return err != nil })) {
		return true
	}
	return fs.ShowsFile(done, fj.verified())
}

func (r *runner) doFile(ctx context.Context, fj *fileJob) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if r.big != nil && fj.entry().Size > int64(r.opts.EngineOpts.WithDefaults().BlockSize) {
		select {
		case r.big <- struct{}{}:
			defer func() { <-r.big }()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if r.active != nil {
		sl := takeSlot(ctx, r.active)
		if sl == nil {
			return ctx.Err()
		}
		defer sl.give()
		fj.extra().slot = sl
	}
	r.inFlight.Store(fj.entry().Rel, struct{}{})
	defer r.inFlight.Delete(fj.entry().Rel)
	r.copying.Add(1)
	err := r.copyFile(ctx, fj)
	r.copying.Add(-1)
	if err != nil {
		return err
	}
	if fj.x != nil && fj.x.slot != nil && r.opts.Mode != plan.LevelTransfer {
		// Given up while the data waited for a syncfs: the
		// verification reads (in transfer mode it only looks at the
		// sizes, then renames).
		if err := fj.x.slot.take(ctx); err != nil {
			return err // keepAllUnverified deals with its held copies
		}
	}
	r.filesDone.Add(1)
	var reported int64
	if fj.x != nil {
		reported = fj.x.reported.Load()
	}
	if rest := fj.entry().Size - reported; fj.needsCopy() && rest != 0 {
		r.bytesDone.Add(rest)
	}
	if r.dirSync != nil {
		// The reports wait until fj's name is durable; the file event
		// tells the states at the end of the copy.
		copied := slices.Clone(fj.states())
		if r.opts.VerifyAfter && slices.Contains(fj.states(), dsCopied) {
			r.dirSync.fileDone(fj, copied, false) // verifyAll verifies and settles it
			return nil
		}
		if err := r.verifyFile(ctx, fj); err != nil {
			return err // keepAllUnverified deals with its held copies
		}
		r.seal(fj)
		r.dirSync.fileDone(fj, copied, true)
		return nil
	}
	// The end of the copy (a copy is under its temp name until verified).
	r.copied(fj, fj.states())
	if r.opts.VerifyAfter && slices.Contains(fj.states(), dsCopied) {
		return nil // verifyAll verifies, seals and settles it
	}
	if err := r.verifyFile(ctx, fj); err != nil {
		return err // keepAllUnverified deals with its held copies
	}
	r.seal(fj)
	r.settle(fj)
	return nil
}

// engineCopy runs one copy through the engine, through the test seam if
// there is one.
func (r *runner) engineCopy(ctx context.Context, job cvv.Job) (*cvv.Result, error) {
	if r.opts.Seams.Copy != nil {
		return r.opts.Seams.Copy(ctx, r.eng, job)
	}
	return r.eng.Copy(ctx, job)
}

// settle counts and reports a file whose fate is final, then releases
// what the report needed.
func (r *runner) settle(fj *fileJob) {
	if r.shows(fj, true) {
		r.out.Done(r.uiFile(fj, fj.states()))
	}
	r.settled(fj)
}

// settled counts fj, reported, or leaves it to cascadeAll.
func (r *runner) settled(fj *fileJob) {
	if r.cascadePending(fj) {
		// cascadeAll settles it; until then it keeps its hash and what
		// its report needs, not what was just reported.
		fj.release(true, true)
		return
	}
	r.account(fj)
}

// account counts a file whose fate is final, records it in the report and
// releases what the report needed.
func (r *runner) account(fj *fileJob) {
	if fj.failed() {
		r.failures.Add(1)
	}
	for i, st := range fj.states() {
		if st == dsFailed && r.live(i) {
			r.destProg[i].failed.Add(1)
		}
	}
	r.reportFile(fj)
	r.logHash(fj)
	// The hash of a hard link's first path is kept for its links'
	// records (linkFiles).
	fj.release(r.opts.hashFilesWanted() && r.linkFirst[fj.k], false)
}

// copyFile copies fj to the destinations that need it. It returns an error
// only when the run is cancelled; failures are recorded in fj.
func (r *runner) copyFile(ctx context.Context, fj *fileJob) error {
	var recheck []int
	for i, a := range fj.actions() {
		if a == plan.Recheck && !r.deferred(fj, i) {
			recheck = append(recheck, i)
		}
	}
	if len(recheck) > 0 {
		if err := r.recheck(ctx, fj, recheck); err != nil {
			return err
		}
	}
	return r.copyDests(ctx, fj)
}

// copyDests copies fj through the engine to the destinations still to be
// copied. It returns an error only when the run is cancelled.
func (r *runner) copyDests(ctx context.Context, fj *fileJob) error {
	var idx []int
	var dests []string
	var roots []*atomicfile.Dir
	var writes []cvv.WritePath
	for i, a := range fj.actions() {
		if a == plan.Copy && fj.states()[i] == dsPending && !r.deferred(fj, i) {
			idx = append(idx, i)
			dests = append(dests, r.target(fj, i))
			roots = append(roots, r.roots[i])
			writes = append(writes, r.writes[i].ForFile(fj.size()))
		}
	}
	if len(idx) == 0 {
		return nil
	}
	x := fj.extra() // the progress count and timing of this copy
	job := cvv.Job{
		Source:  r.source(fj),
		Dests:   dests,
		Roots:   roots,
		Write:   writes,
		Hash:    r.opts.Alg,
		NoFsync: r.opts.NoFsync,
		// A tree copy fsyncs each directory once (dirSyncs).
		DeferDirSync: r.dirSync != nil,
		SyncData:     r.dataSyncs(idx, x.slot),
		NoPreserve:   r.opts.NoPreserve,
		NoXattrs:     r.opts.NoXattrs,
		// Only a verified copy gets its name (seal.go).
		Hold:     true,
		ReadBack: r.readBackWanted(),
		ReadBackProgress: func(n int64) {
			r.verifiedBytes(n)
			testhook.VerifyThrottle()
		},
		Progress: func(n int64) {
			x.reported.Add(n)
			r.bytesDone.Add(n)
			r.bytesRead.Add(n)
			for _, i := range idx {
				r.destProg[i].bytes.Add(n)
			}
			testhook.Throttle()
		},
	}
	r.destsBusy(idx, (*destProgress).copyingNow, 1)
	res, err := r.engineCopy(ctx, job)
	r.destsBusy(idx, (*destProgress).copyingNow, -1)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		fj.failSource(err)
		if errors.Is(err, cvv.ErrSourceChanged) {
			fj.setSrcState(srcChanged)
		} else {
			fj.setSrcState(srcError)
		}
		for _, i := range idx {
			fj.fail(i, err)
		}
		return nil
	}
	fj.h = &fileHash{hash: res.SourceHash, size: res.Size, modTime: res.ModTime.UnixNano(), hashDate: time.Now().UnixNano()}
	x.elapsed = res.Elapsed
	fj.set(flagHashReused, false) // the copy read the source
	for k, i := range idx {
		if derr := res.Dests[k].Err; derr != nil {
			fj.fail(i, derr)
		} else {
			fj.states()[i] = dsCopied
			fj.hold(i, res.Dests[k].Temp)
			fj.keepReadBack(i, res.SourceReadBack, res.Dests[k].ReadBack)
			r.xattrsUnkept(i, res.Dests[k].Unkept)
		}
	}
	return nil
}

// recheck hashes the destinations in idx, which hold a file of the
// source's size and mtime, and the source, unless reusableHash gives its
// hash: each destination that matches is kept (verified), the others are
// copied again. It returns an error only when the run is cancelled.
func (r *runner) recheck(ctx context.Context, fj *fileJob, idx []int) error {
	var srcPath string
	src, reused := r.reusableHash(fj, idx)
	if !reused {
		srcPath = r.source(fj)
	}
	var paths []string
	for _, i := range idx {
		paths = append(paths, r.target(fj, i))
	}
	hs, errs := r.hashCopies(ctx, srcPath, idx, paths, nil)
	if err := ctx.Err(); err != nil {
		return err
	}
	if reused {
		hs[0], errs[0] = src, nil
	}
	if errs[0] != nil {
		fj.failSource(errs[0])
		fj.setSrcState(srcError)
		for i := range fj.states() {
			if fj.states()[i] != dsSkipped {
				fj.fail(i, errs[0])
			}
		}
		return nil
	}
	fj.h = &fileHash{hash: hs[0].Hash, size: hs[0].Size, modTime: fj.entry().ModTime.UnixNano(), hashDate: time.Now().UnixNano()}
	fj.setSrcState(srcOK)
	fj.set(flagHashReused, reused)
	if reused {
		fj.setSrcState(srcNotRead)
	}
	for k, i := range idx {
		if errs[k+1] == nil && hs[k+1].Hash == hs[0].Hash && hs[k+1].Size == hs[0].Size {
			fj.states()[i] = dsOK
			fj.setDestHash(i, hs[k+1].Hash)
			if !reused {
				// Both sides were just read from the media. (A reused
				// hash leaves the record that gave it as it is.)
				r.writeRecord(fj, i, r.target(fj, i), r.record(fj, plan.LevelFull))
			}
		} else {
			fj.actions()[i] = plan.Copy
			r.out.Notice(fj.entry().Rel, "repair: "+r.recheckDiff(fj, i, hs[k+1], errs[k+1]))
		}
	}
	r.countVerified(fj)
	return nil
}

// reusableHash returns the source hash that --verify-existing may use
// instead of re-reading fj's source: the one the verification records
// (plan.Record) of fj's destinations agree on, when every destination is
// to be re-checked (idx) and each record proves a verification of this
// source (size and mtime) at least as strict as the run asks, with its
// hash algorithm. The destinations are still re-read and compared with it.
func (r *runner) reusableHash(fj *fileJob, idx []int) (cvv.HashResult, bool) {
	if !r.opts.Policy.VerifyExisting || len(idx) != len(fj.actions()) {
		return cvv.HashResult{}, false
	}
	return r.recordsHash(fj, idx, func(i int) (plan.Record, bool) { return plan.ReadRecord(r.target(fj, i)) })
}

// recordsHash returns the source hash the verification records of fj's
// destinations in idx agree on, when each record proves a verification of
// this source file (size and mtime) at least as strict as the run asks,
// with the run's hash algorithm. record returns the record of
// destination i (ok false: none).
func (r *runner) recordsHash(fj *fileJob, idx []int, record func(i int) (plan.Record, bool)) (cvv.HashResult, bool) {
	var hash string
	for _, i := range idx {
		rec, ok := record(i)
		if !ok || rec.Alg != r.opts.Alg.String() || !rec.Covers(*fj.entry(), r.policy(i)) || hash != "" && rec.Hash != hash {
			return cvv.HashResult{}, false
		}
		hash = rec.Hash
	}
	return cvv.HashResult{Hash: hash, Size: fj.entry().Size}, true
}

// hashAll hashes paths in parallel through the engine, reporting the
// bytes hashed to progress (if not nil); an empty path is left out (its
// result and error stay zero).
func (r *runner) hashAll(ctx context.Context, paths []string, progress func(int64)) ([]cvv.HashResult, []error) {
	hs := make([]cvv.HashResult, len(paths))
	errs := make([]error, len(paths))
	// All at once: one job per path (a file's destinations, or its source).
	handed := 0
	workers.Ordered(ctx, len(paths), len(paths), func(i int) (cvv.HashResult, error) {
		if paths[i] == "" {
			return cvv.HashResult{}, nil
		}
		return HashWithProgress(ctx, r.eng, paths[i], r.opts.Alg, progress)
	}, func(i int, h cvv.HashResult, err error) error {
		hs[i], errs[i] = h, err
		handed++
		return nil
	})
	// A path not started because ctx was done gets its error, as a hash
	// that started and was cancelled does.
	for i := handed; i < len(paths); i++ {
		if paths[i] != "" {
			errs[i] = ctx.Err()
		}
	}
	return hs, errs
}

// verifyFile checks the destinations fj was copied to, as the mode says.
// In transfer and source modes it also seals the copies it verified, or
// removes those it failed (checkAndSeal); seal does it in full mode. It
// returns an error only when the run is cancelled.
func (r *runner) verifyFile(ctx context.Context, fj *fileJob) error {
	var idx []int
	for i, s := range fj.states() {
		if s == dsCopied {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return nil
	}
	var dests []string
	for _, i := range idx {
		dests = append(dests, r.copyPath(fj, i))
	}
	if err := testhook.BeforeVerify(ctx, fj.entry().Rel, dests); err != nil {
		r.warn(fj.entry().Rel, fmt.Sprintf("test hook: %v", err))
	}
	if r.opts.Mode != plan.LevelTransfer {
		r.verifying.Add(1)
		defer r.verifying.Add(-1)
		r.destsBusy(idx, (*destProgress).verifyingNow, 1)
		defer r.destsBusy(idx, (*destProgress).verifyingNow, -1)
	}
	switch r.opts.Mode {
	case plan.LevelTransfer:
		r.checkAndSeal(fj, idx)
		r.countVerified(fj)
		return nil
	case plan.LevelSource:
		hs, errs := r.hashAll(ctx, []string{r.source(fj)}, r.verifiedBytes)
		if err := ctx.Err(); err != nil {
			return err
		}
		if r.checkSource(fj, hs[0], errs[0], idx) {
			r.checkAndSeal(fj, idx)
		}
		r.countVerified(fj)
		return nil
	}
	hs, errs := r.hashBehind(ctx, fj, idx, dests)
	if err := ctx.Err(); err != nil {
		return err
	}
	// Cancellation can no longer stop it: the verification completes.
	r.countVerified(fj)
	if !r.checkSource(fj, hs[0], errs[0], idx) {
		return nil
	}
	r.compareCopies(fj, idx, hs[1:], errs[1:])
	return nil
}

// compareCopies settles the copies idx of fj by their re-reads hs (or the
// errors errs that stopped them): verified if they give the source hash
// and size, failed otherwise.
func (r *runner) compareCopies(fj *fileJob, idx []int, hs []cvv.HashResult, errs []error) {
	for k, i := range idx {
		h, err := hs[k], errs[k]
		switch {
		case err != nil:
			fj.fail(i, fmt.Errorf("re-reading the copy: %w", err))
		case h.Hash != fj.hash() || h.Size != fj.size():
			fj.setDestHash(i, h.Hash)
			fj.fail(i, &os.PathError{Op: "verify", Path: r.target(fj, i), Err: fmt.Errorf("%w: destination differs (%s %s, source %s; %d bytes, source %d)",
				cvv.ErrVerifyMismatch, r.opts.Alg, h.Hash, fj.hash(), h.Size, fj.size())})
		default:
			fj.setDestHash(i, h.Hash)
			fj.states()[i] = dsOK
		}
	}
}

// checkSource compares a re-read of the source with what the copy saw. It
// fails every destination in idx and returns false when they differ.
func (r *runner) checkSource(fj *fileJob, h cvv.HashResult, herr error, idx []int) bool {
	var err error
	if herr != nil {
		fj.setSrcState(srcError)
		err = fmt.Errorf("re-reading the source: %w", herr)
	} else {
		fi, serr := os.Stat(r.source(fj))
		switch {
		case serr != nil:
			fj.setSrcState(srcError)
			err = fmt.Errorf("re-reading the source: %w", serr)
		case h.Hash != fj.hash() || h.Size != fj.size() || fi.Size() != fj.size() || fi.ModTime().UnixNano() != fj.modTime():
			fj.setSrcState(srcChanged)
			err = fmt.Errorf("%w: %s (copied %d bytes, %s %s, mtime %s; now %d bytes, %s %s, mtime %s)", cvv.ErrSourceChanged, r.source(fj),
				fj.size(), r.opts.Alg, fj.hash(), unixTime(fj.modTime()).Format(time.RFC3339Nano), fi.Size(), r.opts.Alg, h.Hash, fi.ModTime().Format(time.RFC3339Nano))
		default:
			fj.setSrcState(srcOK)
			return true
		}
	}
	fj.failSource(err)
	for _, i := range idx {
		fj.fail(i, err)
	}
	return false
}

// checkSizes compares the size of each copy in idx with the source's.
func (r *runner) checkSizes(fj *fileJob, idx []int) {
	for _, i := range idx {
		if fj.states()[i] != dsCopied {
			continue
		}
		fi, err := r.lstatCopy(i, r.copyPath(fj, i))
		r.sizeChecked(fj, i, fi, err)
	}
}

// sizeChecked settles fj's copy on destination i by its Lstat (fi, or the
// error err): verified if it is a regular file of the source's size,
// failed otherwise. It returns whether the copy was verified.
func (r *runner) sizeChecked(fj *fileJob, i int, fi fs.FileInfo, err error) bool {
	switch {
	case err != nil:
		fj.fail(i, err)
	case !fi.Mode().IsRegular():
		fj.fail(i, &os.PathError{Op: "verify", Path: r.target(fj, i), Err: fmt.Errorf("%w: the copy is not a regular file (%v)", cvv.ErrVerifyMismatch, fi.Mode().Type())})
	case fi.Size() != fj.size():
		fj.fail(i, &os.PathError{Op: "verify", Path: r.target(fj, i), Err: fmt.Errorf("%w: destination has %d bytes, source %d", cvv.ErrVerifyMismatch, fi.Size(), fj.size())})
	default:
		fj.states()[i] = dsOK
		return true
	}
	return false
}

// verifiedBytes counts n bytes read by a verification.
func (r *runner) verifiedBytes(n int64) { r.verifyBytes.Add(n) }

// verifyReads returns the bytes the verification of fj is to read: its
// source and each copy in full mode, its source in source mode.
func (r *runner) verifyReads(fj *fileJob, copies int) int64 {
	switch r.opts.Mode {
	case plan.LevelTransfer:
		return 0
	case plan.LevelSource:
		return fj.entry().Size
	}
	return fj.entry().Size * int64(1+copies)
}

// countVerifyBytes sets verifyTotal to the bytes the verification of the
// files to copy is to read.
func (r *runner) countVerifyBytes() {
	var n int64
	for _, fj := range r.jobs() {
		copies := 0
		for _, a := range fj.actions() {
			if a == plan.Copy {
				copies++
			}
		}
		if copies > 0 {
			n += r.verifyReads(fj, copies)
		}
	}
	r.verifyTotal.Store(n)
}

// verifyAll is the --verify-after pass over every copied file.
func (r *runner) verifyAll(ctx context.Context) error {
	// The others were settled by doFile. A pass counts them; the work
	// passes find them again, in order, with nothing kept per file.
	held := func(fj *fileJob) bool { return slices.Contains(fj.states(), dsCopied) }
	var todo int
	var bytes, reads int64
	for _, fj := range r.jobs() {
		if n := countState(fj.states(), dsCopied); n > 0 {
			todo++
			bytes += fj.size()
			reads += r.verifyReads(fj, n)
		}
	}
	r.verifyTotal.Store(r.verifyBytes.Load() + reads)
	if todo == 0 {
		return nil
	}
	if r.dirSync != nil {
		// The copies get their names now: their reports wait for their
		// directories' fsyncs again.
		r.dirSync = newDirSyncsFor(r, r.jobsWhere(held))
		defer r.dirSync.finish()
	}
	done := func(fj *fileJob) {
		if r.dirSync != nil {
			r.dirSync.fileDone(fj, nil, true)
		} else {
			r.settle(fj)
		}
	}
	if r.opts.Ask {
		ok, err := r.out.Ask(ctx, fmt.Sprintf("Copy done. Verify %d files (%s) now (%s mode)? [Y/n] ", todo, plan.HumanBytes(bytes), r.opts.Mode))
		if err != nil {
			return err
		}
		if !ok {
			for fj := range r.pinnedWhere(held) {
				r.keepUnverified(fj)
				done(fj)
			}
			r.warn("", fmt.Sprintf("verification skipped: %d files were not verified; the next run verifies them", todo))
			return nil
		}
	}
	r.phase.Store("verify")
	return workers.EachOf(ctx, r.opts.Jobs, r.pinnedWhere(held), func(fj *fileJob) error {
		r.inFlight.Store(fj.entry().Rel, struct{}{})
		err := r.verifyFile(ctx, fj)
		r.inFlight.Delete(fj.entry().Rel)
		if err != nil {
			return err // keepAllUnverified deals with its held copies
		}
		r.seal(fj)
		done(fj)
		return nil
	})
}

// countState returns the number of destinations in state st.
func countState(states []destState, st destState) int {
	n := 0
	for _, s := range states {
		if s == st {
			n++
		}
	}
	return n
}

// countVerified counts fj as verified, once: its verification completed
// (whatever it found).
func (r *runner) countVerified(fj *fileJob) {
	if !fj.verified() {
		fj.set(flagVerified, true)
		r.verifyDone.Add(1)
	}
}

// unverified returns the number of files with a copy that was not
// verified (declined or interrupted), failed ones aside.
func (r *runner) unverified() int {
	n := 0
	for _, fj := range r.records() {
		if !fj.failed() && slices.Contains(fj.states(), dsCopied) {
			n++
		}
	}
	return n
}

// recheckDiff says how destination i of fj differs from its source, from
// its re-read h (or the error that stopped it).
func (r *runner) recheckDiff(fj *fileJob, i int, h cvv.HashResult, err error) string {
	t := displayName(r.target(fj, i))
	if err != nil {
		return fmt.Sprintf("%s cannot be re-read (%v): copying it again", t, err)
	}
	return fmt.Sprintf("%s differs from the source (%s %s, source %s; %d bytes, source %d): copying it again",
		t, r.opts.Alg, h.Hash, fj.hash(), h.Size, fj.size())
}

func describeSpecial(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "FIFO"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	}
	return "special file"
}
