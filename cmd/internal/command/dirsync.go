package command

import (
	"fmt"
	"path/filepath"
	"sync"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/cmd/internal/plan"
)

// syncDir fsyncs a directory; a seam for tests.
var syncDir = cvv.SyncDir

// dirSyncs makes the renames of a tree copy durable with one fsync per
// destination directory instead of one per file (cvv.Job.DeferDirSync): a
// directory is fsynced on a destination when the last file in it that goes
// there is done, by the worker that finished that file, so the fsyncs
// overlap with the copies of other directories. A failed fsync fails every
// file written into that directory on that destination: its name may not
// survive a crash.
//
// Directories that hold no file to copy but got new subdirectories are
// fsynced by finish, after the copy.
type dirSyncs struct {
	r  *runner
	mu sync.Mutex
	// left[i][d] is the number of files in directory d (index into
	// r.tree.Dirs) still to be done on destination i; dirty[i][d] reports
	// that a name in d was created on destination i (a file renamed in, a
	// subdirectory made).
	left  [][]int32
	dirty [][]bool
}

// newDirSyncs counts the files each destination directory waits for. It is
// for a tree copy with fsync; call it after the destinations have been
// decided and dropped.
func newDirSyncs(r *runner) *dirSyncs {
	n := len(r.plan.Dests)
	s := &dirSyncs{r: r, left: make([][]int32, n), dirty: make([][]bool, n)}
	for i := range n {
		s.left[i] = make([]int32, len(r.tree.Dirs))
		s.dirty[i] = make([]bool, len(r.tree.Dirs))
	}
	for _, fj := range r.files {
		for i, a := range fj.actions {
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

// fileDone records that the worker is done with fj (copied, verified and
// reported, or left to verifyAll). It fsyncs the directory of fj on each
// destination where fj was the last file, and fails the files in it there
// if that fsync fails.
func (s *dirSyncs) fileDone(fj *fileJob) {
	var due []int
	s.mu.Lock()
	for i, a := range fj.actions {
		if a == plan.Skip {
			continue
		}
		if a == plan.Copy {
			// A copy was attempted: a file may have been renamed in.
			s.dirty[i][fj.dir] = true
		}
		s.left[i][fj.dir]--
		if s.left[i][fj.dir] == 0 && s.dirty[i][fj.dir] {
			s.dirty[i][fj.dir] = false
			due = append(due, i)
		}
	}
	s.mu.Unlock()
	for _, i := range due {
		s.sync(i, int(fj.dir))
	}
}

// finish fsyncs the directories still dirty: those that got a new
// subdirectory but had no file to wait for. It is called after every file
// is done.
func (s *dirSyncs) finish() {
	for i := range s.left {
		for d := range s.left[i] {
			if s.dirty[i][d] && s.left[i][d] == 0 {
				s.dirty[i][d] = false
				s.sync(i, d)
			}
		}
	}
}

// sync fsyncs directory d on destination i. On failure, every file of d
// that was written there fails with the error: its rename may be lost.
func (s *dirSyncs) sync(i, d int) {
	r := s.r
	target := r.plan.Target(i, r.tree.Dirs[d].Rel)
	err := syncDir(target)
	if err == nil {
		return
	}
	err = fmt.Errorf("the files written into %s are not durable: %w", target, err)
	r.failures.Add(1)
	r.out.entryError(r.tree.Dirs[d].Rel, target, err)
	// Every worker is done with these files (left reached 0 under mu).
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, fj := range r.files {
		if int(fj.dir) != d || fj.actions[i] != plan.Copy {
			continue
		}
		if st := fj.state[i]; st == dsCopied || st == dsOK {
			if !fj.failed() {
				r.failures.Add(1)
			}
			fj.fail(i, err)
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
