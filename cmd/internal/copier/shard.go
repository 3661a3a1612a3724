package copier

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cvv-project/cvv/cmd/internal/plan"
	"github.com/cvv-project/cvv/cmd/internal/ui"
	"github.com/cvv-project/cvv/cmd/internal/usage"
	"github.com/cvv-project/cvv/hashing/manifest"
	"github.com/cvv-project/cvv/internal/atomicfile"
)

// A sharded copy (--shard I/N) is N processes, started together by a
// scheduler (a Slurm job array, a Kubernetes Indexed Job, an MPI launch),
// that each copy and verify their part of one tree (plan.ShardTree) into
// the same destinations:
//
//   - Each takes the destination lock shared (DestLock), so the shards of
//     a job write together and every other run stays out. Its state
//     directory ROOT/.cvv-shard-<job> is locked shared too; a shard that
//     finds another job's state directory locked is refused, so two
//     sharded jobs never write one destination at once. Nothing is swept
//     under the shared lock: a temp file may be another shard's copy.
//   - Every shard makes every directory (mkdir is idempotent) and fsyncs
//     the parent of each, made by it or by another shard, before it
//     reports a file below it.
//   - At its end each writes its part of the manifest record (a
//     manifest.Partial) to the state directory, then, under the state
//     directory's merge lock, looks whether every shard's part is there.
//     The one that finds them all (the last to finish) merges them into
//     one Record, writes the manifests from it, removes the state
//     directory, takes the destination lock exclusive once the others
//     have exited and sweeps the temp files interrupted shards left, and
//     gives the directories their modes and times: once, and durably, as
//     a single run does.
//
// The job is named by what its shards must agree on (shardKey): the tree
// they walked, N, the hash and the manifest formats.

// shardDirPrefix starts the name of a job's state directory in a
// destination root.
const shardDirPrefix = ".cvv-shard-"

// shardRun is this process's part of a sharded job.
type shardRun struct {
	// syncDir fsyncs a directory (runner.syncDir).
	syncDir func(*atomicfile.Dir) error
	shard   plan.Shard
	// key names the job (shardKey).
	key string
	// seq[k] is the place of the part's file k (then of its hard links)
	// in the order of the whole tree (plan.ShardTree).
	seq []int
	// states are the job's state directories this shard joined, one per
	// destination root.
	states []*shardState
	// merged[i]: this shard merged the records of destination i, so it
	// gives its directories their attributes (dirsHere).
	merged []bool
}

// shardState is a job's state directory in one destination root.
type shardState struct {
	root, dir string
	lock      *DestLock // shared, for the whole run
	// done: the root is marked as where the job finished (JobDoneAttr),
	// so the shard, run again, has not entered the state directory; it
	// does only if it finds a copy of its part to make again (reenter).
	done bool
}

// applyShard keeps of the walked tree the part that falls to this shard.
func (r *runner) applyShard() error {
	if !r.opts.Shard.Sharded() {
		return nil
	}
	if !r.tree.IsDir {
		return usage.Errorf("--shard splits a directory tree; %s is a file", r.plan.Arg)
	}
	part, seq, fp, err := plan.ShardTree(r.tree, r.opts.Shard)
	if err != nil {
		return err
	}
	r.shard = &shardRun{syncDir: r.syncDir, shard: r.opts.Shard, seq: seq, key: r.shardKey(fp), merged: make([]bool, len(r.plan.Dests))}
	r.tree.Close()
	r.tree = part
	return nil
}

// shardKey names the job: the tree the shards walked (its fingerprint),
// their number, the hash and the manifest formats. Shards that differ in
// any of these cannot make one record, so they are different jobs.
func (r *runner) shardKey(fingerprint string) string {
	var formats []string
	for _, f := range r.opts.HashFiles.Formats {
		formats = append(formats, f.String())
	}
	h := sha256.Sum256(fmt.Appendf(nil, "%s\x00%d\x00%s\x00%s", fingerprint, r.opts.Shard.Count, r.opts.Alg, strings.Join(formats, ",")))
	return hex.EncodeToString(h[:8])
}

// seq returns the place of the run's entry k (a file of r.files, then
// r.files.len() plus a hard link's index) in the order of the whole tree.
func (r *runner) seq(k int) int {
	if r.shard == nil {
		return k
	}
	return r.shard.seq[k]
}

// dirsHere reports whether this run gives the directories of destination
// i their attributes at the end: with --shard only the shard that merged
// its records does.
func (r *runner) dirsHere(i int) bool {
	return r.live(i) && (r.shard == nil || r.shard.merged[i])
}

// join enters the job's state directory in root (created if missing),
// after the shared lock on root is taken, and refuses when another
// sharded job is in root. Where the job is marked finished (a scheduler
// started a finished shard again) it enters nothing, so that the shard
// leaves no state directory behind, and removes the one a power cut may
// have left.
func (s *shardRun) join(ctx context.Context, root string, noFsync bool) error {
	if atomicfile.JobDone(root) == s.key {
		st := &shardState{root: root, dir: filepath.Join(root, shardDirPrefix+s.key), done: true}
		s.states = append(s.states, st)
		if l, err := tryFlock(st.dir, false); err == nil {
			l.Unlock()
			os.RemoveAll(st.dir)
		}
		return s.refuseOthers(root)
	}
	st, err := s.enter(ctx, root, noFsync, s.refuseOthers)
	if err != nil {
		return err
	}
	s.states = append(s.states, st)
	return nil
}

// enter creates the job's state directory in root if missing, takes its
// lock shared, then asks check whether the shard may stay.
func (s *shardRun) enter(ctx context.Context, root string, noFsync bool, check func(root string) error) (_ *shardState, rerr error) {
	name := shardDirPrefix + s.key
	dir := filepath.Join(root, name)
	err := os.Mkdir(dir, 0o700)
	if err == nil {
		defer func() {
			if rerr != nil {
				// Refused: the empty state directory goes again.
				os.Remove(dir)
			}
		}()
	}
	switch {
	case err == nil && !noFsync:
		if err := syncPath(root, s.syncDir); err != nil {
			return nil, fmt.Errorf("destination %s: %w", root, err)
		}
	case err != nil && !errors.Is(err, fs.ErrExist):
		return nil, fmt.Errorf("destination %s: %w", root, err)
	}
	if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("destination %s: %s is not a directory", root, name)
	}
	l, err := lockBriefly(ctx, dir, true)
	if err != nil {
		return nil, fmt.Errorf("destination %s: %w", root, err)
	}
	if err := check(root); err != nil {
		l.Unlock()
		return nil, err
	}
	return &shardState{root: root, dir: dir, lock: l}, nil
}

// reenter enters the state directory after all, where the job was marked
// finished but the shard made copies again: the job is no longer finished
// there (the mark goes, durably, first), and the shard's part is merged
// once every shard of the job has run again.
func (s *shardRun) reenter(st *shardState, noFsync bool) error {
	if err := atomicfile.MarkJobDone(st.root, ""); err != nil {
		return fmt.Errorf("destination %s: %w", st.root, err)
	}
	if !noFsync {
		if err := syncPath(st.root, s.syncDir); err != nil {
			return fmt.Errorf("destination %s: %w", st.root, err)
		}
	}
	in, err := s.enter(context.Background(), st.root, noFsync, s.refuseOthers)
	if err != nil {
		return err
	}
	*st = *in
	return nil
}

// refuseOthers refuses root when another sharded job is in it: its state
// directory is locked.
func (s *shardRun) refuseOthers(root string) error {
	name := shardDirPrefix + s.key
	ents, err := os.ReadDir(root)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), shardDirPrefix) || e.Name() == name || !e.IsDir() {
			continue
		}
		other := filepath.Join(root, e.Name())
		o, err := tryFlock(other, false)
		if errors.Is(err, errLocked) {
			return usage.Errorf("destination %s is in use by another sharded cvv job%s, with another source tree, shard count, --hash or --hash-file (the shards of one job must all walk the same tree with the same options)",
				root, lockHolder(other))
		}
		if err == nil {
			o.Unlock()
		}
	}
	return nil
}

// lockBriefly takes the flock on dir, waiting up to a few seconds: the
// lock a job's state directory is held exclusive only for the moment
// another job's shard looks whether it is in use.
func lockBriefly(ctx context.Context, dir string, shared bool) (*DestLock, error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		l, err := tryFlock(dir, shared)
		if !errors.Is(err, errLocked) || time.Now().After(deadline) {
			return l, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// leave releases the state directories' locks.
func (s *shardRun) leave() {
	for _, st := range s.states {
		st.leave()
	}
	s.states = nil
}

// leave releases the lock on the state directory, once.
func (st *shardState) leave() {
	if st.lock != nil {
		st.lock.Unlock()
		st.lock = nil
	}
}

// alone reports whether no other shard of the job is in the state
// directory: its shared lock can be made exclusive. Every part may be
// there while a shard still runs: one run again after an earlier
// attempt, whose stale part must not be merged. When not alone the shard
// leaves the state directory at once, so that the one still running,
// which may wait for the merge lock held now, finds itself alone when it
// finishes and merges. It asks again for a moment: a failed conversion
// also meets another job's brief look at the lock (join).
func (st *shardState) alone() bool {
	for deadline := time.Now().Add(200 * time.Millisecond); ; time.Sleep(10 * time.Millisecond) {
		if exclusive, _ := st.lock.upgrade(); exclusive {
			return true
		}
		if time.Now().After(deadline) {
			st.leave()
			return false
		}
	}
}

// state returns the state directory joined in root.
func (s *shardRun) state(root string) *shardState {
	for _, st := range s.states {
		if st.root == root {
			return st
		}
	}
	return nil
}

// shardHashFiles writes this shard's part of each destination's record
// and merges the parts where it is the last shard to finish.
func (r *runner) shardHashFiles() error {
	var errs []error
	for i := range r.plan.Dests {
		if r.live(i) {
			errs = append(errs, r.shardRecord(i))
		}
	}
	return errors.Join(errs...)
}

// shardRecord writes this shard's part of destination i's record, then
// merges the parts if they are all there (MergeShards).
func (r *runner) shardRecord(i int) error {
	root := r.plan.Dests[i].Root(r.plan.IsDir)
	st := r.shard.state(root)
	if st == nil {
		return fmt.Errorf("destination %s: not joined to the job", root)
	}
	if st.done {
		if !r.wroteTo(i) {
			r.out.Notice("", fmt.Sprintf("%s: shard %s: the job is already finished here (its shards merged their records): nothing to do", displayName(root), r.shard.shard))
			// As a plain run again, it gives the directories their
			// modes and times again.
			r.shard.merged[i] = true
			return nil
		}
		if err := r.shard.reenter(st, r.opts.NoFsync); err != nil {
			return err
		}
	}
	host, _ := os.Hostname()
	p := &manifest.Partial{Job: r.shard.key, Shard: r.shard.shard.Index, Count: r.shard.shard.Count, Alg: r.opts.Alg.String(),
		Start: r.start, Process: "transfer", Ignore: r.opts.Excludes.Patterns(), Dirs: r.manifestDirs(), Host: host, Files: []manifest.PartialFile{}}
	for _, f := range r.opts.HashFiles.Formats {
		p.Formats = append(p.Formats, f.String())
	}
	if r.opts.hashFilesWanted() {
		p.Unchanged = r.destHashEntries(i, root, func(seq int, f manifest.File) {
			p.Files = append(p.Files, manifest.PartialFile{Seq: seq, File: f})
		})
		// In the order of the tree, as a single run lists them.
		slices.SortFunc(p.Files, func(a, b manifest.PartialFile) int { return cmp.Compare(a.Seq, b.Seq) })
	}
	if err := manifest.WritePartial(root, filepath.Base(st.dir), p); err != nil {
		return fmt.Errorf("writing the record of shard %s in %s: %w", r.shard.shard, root, err)
	}
	merged, err := MergeShards(st.dir, root, r.shard.shard, r.opts.NoFsync, r.syncDir, r.out, st.alone)
	if merged {
		r.shard.merged[i] = true
		r.sweepLeftovers(i)
	}
	return err
}

// sweepLeftovers removes from destination i the temp files that
// interrupted shards of the job (or other runs) left, once this shard,
// the last, holds the destination lock exclusive: the other shards have
// exited, so none of them is a copy in progress. It waits up to two
// seconds for them to exit, else leaves the sweep to the next run that
// is not sharded. When another run took the lock meanwhile (a failed
// conversion of a flock drops it), the directories are left to that run.
func (r *runner) sweepLeftovers(i int) {
	root := r.plan.Dests[i].Root(r.plan.IsDir)
	k := slices.IndexFunc(r.locks, func(l *DestLock) bool { return l.dir == root })
	if k < 0 || r.blocked == nil || r.blocked[i] == nil {
		return
	}
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		exclusive, held := r.locks[k].upgrade()
		if exclusive {
			break
		}
		if !held {
			r.shard.merged[i] = false
			r.warn("", fmt.Sprintf("%s: another cvv run took the destination as this shard finished: it gives the directories their modes and times", displayName(root)))
			return
		}
		if time.Now().After(deadline) {
			return
		}
	}
	for d, dir := range r.tree.Dirs {
		if r.blocked[i][d] != nil {
			continue
		}
		if h, err := r.roots[i].OpenDir(dir.Rel); err == nil {
			r.sweepTemps(h)
			h.Close()
		}
	}
}

// MergeShards merges the partial records in the state directory dir of
// root, under its merge lock, if every shard's is there: it writes the
// manifests, removes dir, and reports true. It reports false, and writes
// nothing, when some shard has not finished, or when another shard merged
// them already (dir is gone).
//
// self is the shard that asks (the zero Shard for cvv manifest merge).
// alone, nil for cvv manifest merge (which holds dir's lock exclusive),
// reports whether self is the only shard of the job still running; when
// it is not, the one still running merges when it finishes.
func MergeShards(dir, root string, self plan.Shard, noFsync bool, syncDir func(*atomicfile.Dir) error, out HashRecordOutput, alone func() bool) (merged bool, err error) {
	done := ""
	if self.Sharded() {
		done = fmt.Sprintf("shard %s done; ", self)
	}
	mergedElsewhere := func() (bool, error) {
		out.Notice("", fmt.Sprintf("%s: %sanother shard, the last, merged the records", displayName(root), done))
		return false, nil
	}
	mu, err := lockFile(filepath.Join(dir, "merge.lock"))
	if errors.Is(err, fs.ErrNotExist) {
		return mergedElsewhere() // and removed dir
	}
	if err != nil {
		return false, err
	}
	defer mu.Unlock()
	parts, err := manifest.ReadPartials(dir)
	if errors.Is(err, fs.ErrNotExist) || err == nil && len(parts) == 0 {
		return mergedElsewhere()
	}
	if err != nil {
		return false, err
	}
	if missing := manifest.Missing(parts, parts[0].Count); len(missing) > 0 {
		out.Notice("", fmt.Sprintf("%s: %s%d of %d shards done; the last to finish writes the hash lists and gives the directories their modes and times (waiting for %s)",
			displayName(root), done, parts[0].Count-len(missing), parts[0].Count, shardList(missing)))
		return false, nil
	}
	if alone != nil && !alone() {
		out.Notice("", fmt.Sprintf("%s: %severy shard's part is there, but another shard of the job still runs (run again): it merges the records when it finishes", displayName(root), done))
		return false, nil
	}
	rec, formats, unchanged, err := manifest.MergePartials(root, parts)
	if err != nil {
		return false, err
	}
	defer rec.Spool.Close()
	if len(formats) > 0 {
		if err := writeHashRecord(hashRecord{Record: rec, unchanged: unchanged}, formats, nil, out); err != nil {
			return false, err
		}
	}
	if alone == nil {
		// (A shard removes it at its very end: removeState.)
		if err := removeState(dir, root, noFsync, syncDir); err != nil {
			return true, err
		}
	}
	out.Notice("", fmt.Sprintf("%s: %sall %d shards done: merged their records", displayName(root), done, len(parts)))
	return true, nil
}

// removeState removes the job's state directory dir from root, durably.
func removeState(dir, root string, noFsync bool, syncDir func(*atomicfile.Dir) error) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if noFsync {
		return nil
	}
	return syncPath(root, syncDir)
}

// removeStates removes, at the end of the shard that merged the records
// of destination i, the job's state directory there, after the
// directories got their modes and times: a power cut before leaves the
// parts for the shard run again, which merges and finishes again. The
// root gets its times again, in the same fsync.
func (r *runner) removeStates(only func(i int) bool) {
	if r.shard == nil {
		return
	}
	for i, merged := range r.shard.merged {
		if !merged || only != nil && !only(i) {
			continue
		}
		root := r.plan.Dests[i].Root(r.plan.IsDir)
		st := r.shard.state(root)
		if st.done {
			continue // nothing was entered
		}
		err := r.markDone(root)
		if err == nil {
			err = os.RemoveAll(st.dir)
		}
		if err == nil && r.dirsFinished {
			r.finishRoot(i)
		} else if err == nil && !r.opts.NoFsync {
			err = r.syncPath(root)
		}
		if err != nil {
			r.failures.Add(1)
			r.out.Fail("", root, err)
		}
	}
}

// markDone marks root, durably, as where the job finished, before its
// state directory goes: a shard of the job run again then finds nothing to
// do (join). A filesystem without extended attributes keeps no mark: a
// shard run again there waits for the others, as in a new job.
func (r *runner) markDone(root string) error {
	err := atomicfile.MarkJobDone(root, r.shard.key)
	switch {
	case errors.Is(err, atomicfile.ErrNoXattrs):
		return nil
	case err != nil || r.opts.NoFsync:
		return err
	}
	return r.syncPath(root)
}

// wroteTo reports whether the run made a copy of a file of its part on
// destination i: a shard run again where its job finished reopens the job
// only then. A failure alone (a source that cannot be read) leaves the
// finished job and its hash lists as they are; it is reported, and the
// exit status says so.
func (r *runner) wroteTo(i int) bool {
	for _, fj := range r.jobs() {
		if fj.actions()[i] != plan.Skip && fj.states()[i] != dsFailed {
			return true
		}
	}
	return false
}

// shardList lists shard indexes, the first few of them.
func shardList(ks []int) string {
	var s []string
	for j, k := range ks {
		if j == 8 {
			s = append(s, fmt.Sprintf("and %d more", len(ks)-j))
			break
		}
		s = append(s, fmt.Sprint(k))
	}
	return "shard " + strings.Join(s, ", ")
}

// madeByAnother is called for a missing parent or root m of a destination
// that another process made first: with --shard, another shard of the job,
// which may not have made it durable yet; its parent is fsynced before
// anything below it is reported.
func (r *runner) madeByAnother(m string) error {
	if r.shard == nil || r.opts.NoFsync {
		return nil
	}
	return r.syncPath(filepath.Dir(m))
}

// shardInfo is the shard of the run for the start event, nil when the
// run is not sharded.
func (r *runner) shardInfo() *ui.Shard {
	if r.shard == nil {
		return nil
	}
	return &ui.Shard{Index: r.shard.shard.Index, Count: r.shard.shard.Count, Job: r.shard.key}
}
