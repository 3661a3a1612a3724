package copier

import (
	"fmt"
	"sync"

	"github.com/cvv-project/cvv/internal/atomicfile"
)

// Names made durable with syncfs. A directory fsync cannot be trusted to
// report a lost write: on xfs, once a failed cache flush has shut the
// filesystem down, a directory fsync returns success as soon as the
// directory's log item is no longer pinned (the aborted log unpinned it),
// and on ext4 a second directory fsync after a failed journal commit
// returns success too, the commit's transaction being past (TestBlockFS
// checks both). Before this, cvv reported files done whose names the
// power cut then took (TestBlockPowerCut on xfs).
//
// syncfs(2) does not lie there: it commits the whole journal (xfs log
// force, jbd2 commit, btrfs transaction commit), fails every time once the
// filesystem has shut down or its journal aborted, and reports the
// writeback errors recorded since the descriptor it is called on was
// opened. So where the filesystem is trusted for it (plan.DestFS.SyncFS),
// dirSyncs makes names durable with syncfs instead of a fsync of each
// directory: one syncfs makes the names of every directory of the
// destination durable, and is shared by every batch waiting at that moment
// (a group commit per destination). syncfs also writes out the dirty data
// of the whole filesystem, which a directory fsync does not: a tree
// copy's files wait on the same fsSyncer for their data before their
// rename (dataSyncs), in place of an fdatasync each, so that one syncfs
// commits the data of every file waiting then and the names of every
// batch; where other writers keep the filesystem dirty, each syncfs
// writes their data out too.
//
// Why a success can be trusted, given that syncfs reports a writeback
// error once per open file description (f_sb_err sampled at open, advanced
// when reported):
//
//   - each destination has one descriptor, its root (r.roots[i], opened by
//     openRoots before anything is created below it), so an error recorded
//     during the run is not hidden from it by an open after the error;
//   - the syncfs calls on it run one at a time (fsSyncer), so no two
//     calls race for one error;
//   - a caller asks once its names are created, and takes the result of a
//     syncfs that started after it asked, never of one already running;
//   - a failure is sticky: once a syncfs of the destination failed, every
//     later sync there fails with its error. The failed call may have
//     consumed an error that was about the names of a batch that waits
//     for the next call (renamed while it ran), and a next call would
//     then succeed. An xfs shut down or an aborted ext4 journal fails
//     every later syncfs anyway; a single lost data write elsewhere on the
//     filesystem fails the rest of the run on that destination, which a
//     rerun finishes.
//
// A failure fails the files whose reports waited on it on that destination
// only (dirSyncs.sync), and the files whose data waited on it there: the
// engine removes their temp files, so they never get their names
// (dataSyncs). Each destination has its own fsSyncer.

// fsSyncer runs the syncfs calls of one destination, one at a time, each
// shared by every caller waiting when it starts.
type fsSyncer struct {
	root   *atomicfile.Dir
	syncFS func(*atomicfile.Dir) error

	mu   sync.Mutex
	cond sync.Cond
	// started and finished number the syncfs calls; running says one is
	// under way (number started).
	started, finished uint64
	running           bool
	// err is the error of the first syncfs that failed: every later sync
	// returns it.
	err error
}

func newFSSyncer(root *atomicfile.Dir, syncFS func(*atomicfile.Dir) error) *fsSyncer {
	if syncFS == nil {
		syncFS = (*atomicfile.Dir).SyncFS
	}
	s := &fsSyncer{root: root, syncFS: syncFS}
	s.cond.L = &s.mu
	return s
}

// sync returns once a syncfs that started after the call has succeeded,
// or once any syncfs of the destination has failed, with its error.
func (s *fsSyncer) sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	want := s.started + 1
	for s.err == nil && s.finished < want {
		if s.running {
			s.cond.Wait()
			continue
		}
		s.running = true
		s.started++
		n := s.started
		s.mu.Unlock()
		err := s.syncFS(s.root)
		s.mu.Lock()
		s.running, s.finished = false, n
		if err != nil && s.err == nil {
			s.err = err
		}
		s.cond.Broadcast()
	}
	return s.err
}

// failed reports whether a syncfs of the destination has failed.
func (s *fsSyncer) failed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err != nil
}

// nameSyncers returns the fsSyncer of each destination whose filesystem is
// trusted to make names durable with syncfs, nil for the others, made the
// first time: the same for the whole run, so that a failure stays.
func (r *runner) nameSyncers() []*fsSyncer {
	if r.nameSync != nil {
		return r.nameSync
	}
	r.nameSync = make([]*fsSyncer, len(r.plan.Dests))
	for i := range r.nameSync {
		if i < len(r.destFS) && r.destFS[i].SyncFS && i < len(r.roots) && r.roots[i] != nil {
			r.nameSync[i] = newFSSyncer(r.roots[i], r.opts.Seams.SyncFS)
		}
	}
	return r.nameSync
}

// dataSyncs returns the cvv.Job.SyncData of a copy to the destinations
// idx: on each destination trusted for syncfs, in a tree copy with fsync,
// the file's data is made durable by that destination's fsSyncer instead
// of an fdatasync of its own. One syncfs then commits the data of every
// file waiting on that destination at that moment, where an fdatasync per
// file is a journal commit and a cache flush each. The file is renamed
// only after it (the engine's order stays data, sync, rename), and its
// name waits for a later syncfs (dirSyncs). Nil where no destination is
// trusted.
func (r *runner) dataSyncs(idx []int, sl *slot) []func() error {
	if r.opts.NoFsync || r.dirSync == nil {
		return nil
	}
	var out []func() error
	for k, i := range idx {
		if i < len(r.nameSync) && r.nameSync[i] != nil {
			if out == nil {
				out = make([]func() error, len(idx))
			}
			s := r.nameSync[i]
			out[k] = func() error {
				// The copy's place goes to another file while this
				// one waits (slots.go).
				sl.give()
				return s.sync()
			}
		}
	}
	return out
}

// syncNamesLast makes durable, with one last syncfs of each destination
// trusted for it, what the run wrote there after its files: hash lists,
// hard links, the directories' modes and mtimes, the transfer report, and
// a single file's name. Those rest on directory fsyncs, which need not
// report a lost write (above); a syncfs that fails here fails the run on
// that destination, since what was reported done there may not be
// durable.
func (r *runner) syncNamesLast() {
	if r.opts.NoFsync {
		return
	}
	for i, s := range r.nameSyncers() {
		if s == nil || s.failed() {
			continue // a failure there is reported already
		}
		if err := s.sync(); err != nil {
			target := r.plan.Target(i, "")
			r.failures.Add(1)
			r.out.Fail("", target, fmt.Errorf("what this run wrote into %s may not be durable: %w", target, err))
		}
	}
}
