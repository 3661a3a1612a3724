package copier

import (
	"fmt"
	"iter"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/cvv-project/cvv/cmd/internal/plan"
	"github.com/cvv-project/cvv/internal/atomicfile"
)

// syncDir fsyncs a directory, through the test seam if there is one.
func (r *runner) syncDir(d *atomicfile.Dir) error {
	if r.opts.Seams.SyncDir != nil {
		return r.opts.Seams.SyncDir(d)
	}
	return d.Sync()
}

// syncPath fsyncs the directory at path (a destination root or above it)
// through syncDir.
func (r *runner) syncPath(path string) error { return syncPath(path, r.syncDir) }

// syncPath fsyncs the directory at path with syncDir.
func syncPath(path string, syncDir func(*atomicfile.Dir) error) error {
	d, err := atomicfile.OpenRoot(path)
	if err != nil {
		return err
	}
	serr := syncDir(d)
	if cerr := d.Close(); serr == nil {
		serr = cerr
	}
	return serr
}

// dirSyncs makes the renames of a tree copy durable with few directory
// fsyncs (cvv.Job.DeferDirSync), and holds back the report of each file
// until its name is durable: a file or verify event promises that the file
// survives a power cut.
//
// A worker done with a file (copied, verified or left to verifyAll) hands
// it to fileDone, which queues its report on its directory. The queue is
// flushed (the directory fsynced on every destination where a name was
// created since its last fsync, then the reports written) when the last
// file of the directory is done, when batchFiles reports wait, or when the
// oldest has waited batchWait: one fsync per directory for a small one,
// and no report held back for long in a large one. A failed fsync fails
// the files of the batch written into that directory on that destination:
// their names may not survive a crash.
//
// Directories that got new subdirectories or symlinks are fsynced by
// syncCreated, before any file is copied, so that the path to every file
// reported is durable too.
//
// On a destination whose filesystem is trusted for it, a syncfs shared by
// all the directories waiting takes the place of each directory's fsync
// (namesync.go): a directory fsync there can return success for names the
// filesystem lost.
type dirSyncs struct {
	r  *runner
	mu sync.Mutex
	// left[i][d] is the number of files in directory d (index into
	// r.tree.Dirs) still to be done on destination i; dirty[i][d] reports
	// that a name in d was created on destination i since d's last fsync
	// there.
	left  [][]int32
	dirty [][]bool
	// waiting[d] are the reports held back until d is durable; since[d]
	// is when the oldest was queued.
	waiting [][]heldReport
	since   []time.Time
	// fs[i], where destination i's filesystem is trusted for it, makes
	// names durable there with syncfs instead of directory fsyncs
	// (namesync.go); nil entries fsync.
	fs []*fsSyncer
}

// heldReport is a file whose report waits for its directory's fsync.
type heldReport struct {
	fj *fileJob
	// copied is the file's state on each destination when its copy
	// ended, for its file event.
	copied []destState
	// settle: the file's fate is final (else verifyAll settles it).
	settle bool
	// cascade, when set, is how its cascade destinations were filled:
	// the report is the file's cascade event (settleCascade).
	cascade *cascadeInfo
}

// The bounds of a batch of held reports.
const (
	batchFiles = 64
	batchWait  = time.Second
)

// newDirSyncs counts the files each destination directory waits for. It is
// for a tree copy with fsync; call it after the destinations have been
// decided and dropped.
func newDirSyncs(r *runner) *dirSyncs {
	return newDirSyncsFor(r, r.jobs())
}

// newDirSyncsFor is newDirSyncs for the files fjs only: --verify-after
// names its copies after the copy phase, and reports them once their
// directories are durable again.
func newDirSyncsFor(r *runner, fjs iter.Seq2[int, *fileJob]) *dirSyncs {
	n := len(r.plan.Dests)
	s := &dirSyncs{r: r, left: make([][]int32, n), dirty: make([][]bool, n),
		waiting: make([][]heldReport, len(r.tree.Dirs)), since: make([]time.Time, len(r.tree.Dirs)), fs: r.nameSyncers()}
	for i := range n {
		s.left[i] = make([]int32, len(r.tree.Dirs))
		s.dirty[i] = make([]bool, len(r.tree.Dirs))
	}
	for _, fj := range fjs {
		for i, a := range fj.actions() {
			if a != plan.Skip {
				s.left[i][fj.dir]++
			}
		}
	}
	return s
}

// made records that directory d (index into r.tree.Dirs) was created on
// destination i: its parent must be fsynced.
func (s *dirSyncs) made(i, d int) {
	if p := s.r.parentDir(d); p >= 0 {
		s.mu.Lock()
		s.dirty[i][p] = true
		s.mu.Unlock()
	}
}

// linked records that a symlink was created in directory d on destination
// i.
func (s *dirSyncs) linked(i, d int) {
	s.mu.Lock()
	s.dirty[i][d] = true
	s.mu.Unlock()
}

// syncCreated fsyncs every directory that got a new subdirectory or
// symlink (one syncfs for them all where syncfs makes names durable). It
// is called before the copy.
func (s *dirSyncs) syncCreated() {
	for i := range s.dirty {
		synced := false
		for d := range s.dirty[i] {
			if s.dirty[i][d] {
				s.dirty[i][d] = false
				if !synced {
					s.sync(i, d, nil)
					synced = s.fs[i] != nil
				}
			}
		}
	}
}

// fileDone takes over the report of fj, which the worker is done with:
// copied are its states at the end of its copy (nil: its file event was
// written already), settle says its fate is final (else verifyAll settles
// it after the copy). The report is written once fj's directory is
// durable.
func (s *dirSyncs) fileDone(fj *fileJob, copied []destState, settle bool) {
	s.done(heldReport{fj: fj, copied: copied, settle: settle})
}

// cascadeDone takes over the report of fj's cascade (c), as fileDone.
func (s *dirSyncs) cascadeDone(fj *fileJob, c cascadeInfo) {
	s.done(heldReport{fj: fj, settle: true, cascade: &c})
}

// skipped reports whether fj, skipped on every destination, can be
// reported at once: its directory holds no report and waits for no file
// and no fsync, so done would flush it with nothing else. Else the
// caller hands it to fileDone.
func (s *dirSyncs) skipped(fj *fileJob) bool {
	d := fj.dir
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.waiting[d]) > 0 {
		return false
	}
	for i := range s.left {
		if s.left[i][d] > 0 || s.dirty[i][d] {
			return false
		}
	}
	return true
}

// done queues the report h on its file's directory and flushes the
// directory when it is due.
func (s *dirSyncs) done(h heldReport) {
	fj := h.fj
	d := fj.dir
	s.mu.Lock()
	done := true
	for i, a := range fj.actions() {
		if a == plan.Copy {
			// A copy was attempted: a file may have been renamed in.
			s.dirty[i][d] = true
		}
		if a != plan.Skip {
			s.left[i][d]--
		}
		if s.left[i][d] > 0 {
			done = false
		}
	}
	if len(s.waiting[d]) == 0 {
		s.since[d] = time.Now()
	}
	s.waiting[d] = append(s.waiting[d], h)
	if !done && len(s.waiting[d]) < batchFiles && time.Since(s.since[d]) < batchWait {
		s.mu.Unlock()
		return
	}
	s.flushLocked(int(d))
}

// flushLocked fsyncs directory d where it is dirty and writes the reports
// held for it. It is called with s.mu held and releases it.
func (s *dirSyncs) flushLocked(d int) {
	batch := s.waiting[d]
	s.waiting[d] = nil
	var due []int
	for i := range s.dirty {
		if s.dirty[i][d] {
			s.dirty[i][d] = false
			due = append(due, i)
		}
	}
	s.mu.Unlock()
	// A name created after the dirty flags were taken sets them again and
	// is flushed with its own batch.
	for _, i := range due {
		s.sync(i, d, batch)
	}
	r := s.r
	for _, h := range batch {
		if h.cascade != nil {
			r.settleCascade(h.fj, *h.cascade)
			continue
		}
		if h.settle {
			r.reportDone(h.fj, h.copied)
			continue
		}
		if h.copied != nil {
			r.copied(h.fj, h.copied)
		}
		if !slices.Contains(h.fj.states(), dsCopied) {
			// Nothing left for verifyAll: a failed fsync settled it.
			r.settle(h.fj)
		}
	}
}

// finish fsyncs what is still dirty and writes the reports still held. It
// is called after every file is done.
func (s *dirSyncs) finish() {
	for d := range s.waiting {
		s.mu.Lock()
		s.flushLocked(d)
	}
}

// sync makes the names in directory d on destination i durable: a fsync
// of d, or a syncfs shared with the other directories waiting where the
// filesystem is trusted for it. On failure, every file of the batch
// written there fails with the error: its rename may be lost.
func (s *dirSyncs) sync(i, d int, batch []heldReport) {
	r := s.r
	target := r.plan.Target(i, r.tree.Dirs[d].Rel)
	var err error
	if s.fs[i] != nil {
		err = s.fs[i].sync()
	} else {
		var dir *atomicfile.Dir
		if dir, err = r.roots[i].OpenDir(r.tree.Dirs[d].Rel); err == nil {
			err = r.syncDir(dir)
			dir.Close()
		}
	}
	if err == nil {
		return
	}
	err = fmt.Errorf("the files written into %s are not durable: %w", target, err)
	r.failures.Add(1)
	r.out.Fail(r.tree.Dirs[d].Rel, target, err)
	for _, h := range batch {
		fj := h.fj
		if fj.actions()[i] != plan.Copy {
			continue
		}
		if st := fj.states()[i]; st == dsCopied || st == dsOK {
			fj.fail(i, err)
			if h.copied != nil {
				h.copied[i] = dsFailed
			}
		}
	}
}

// parentDir returns the index in r.tree.Dirs of the directory holding the
// entry at rel, -1 for the root.
func (r *runner) parentDir(d int) int {
	rel := r.tree.Dirs[d].Rel
	if rel == "" {
		return -1
	}
	return r.dirIndex(filepath.Dir(rel))
}

// dirIndex returns the index in r.tree.Dirs of the directory at rel ("."
// or "" for the root).
func (r *runner) dirIndex(rel string) int {
	if rel == "." {
		rel = ""
	}
	return int(r.dirIdx[rel])
}
