package copier

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/cmd/internal/plan"
	"github.com/cvv-project/cvv/internal/atomicfile"
)

// Nothing is written outside a destination root: below each root, every
// directory is reached from the root's descriptor with no symlink followed
// (atomicfile.Dir), by this package and by the engines (cvv.Job.Roots). A symlink
// in a destination where the source has a directory or a file is a
// conflict (linkConflict).

// openRoots opens the root directory of every live destination. A root
// that cannot be opened drops its destination.
func (r *runner) openRoots() {
	r.roots = make([]*atomicfile.Dir, len(r.plan.Dests))
	for i, d := range r.plan.Dests {
		if !r.live(i) {
			continue
		}
		root, err := atomicfile.OpenRoot(d.Root(r.plan.IsDir))
		if err != nil {
			r.dropped[i] = err
			continue
		}
		r.roots[i] = root
	}
}

// closeRoots closes the destination roots. Nothing was written through
// the descriptors themselves: a failed close loses nothing.
func (r *runner) closeRoots() {
	for i, root := range r.roots {
		if root != nil {
			root.Close()
			r.roots[i] = nil
		}
	}
}

// linkConflict decides what becomes of the symlink name in dir, found on a
// destination where the source has a "directory" or a "file" (what). It is
// the one place that decides it: today the link is always refused (the
// entry, a directory with all it holds, fails on that destination with the
// returned error) and left as it is; nothing is written through it.
// An --on-conflict policy that replaces it must replace the link itself
// (a rename over it), never write to its target.
func linkConflict(dir *atomicfile.Dir, name, what string) error {
	target, err := dir.Readlink(name)
	if err != nil {
		target = "?"
	}
	return &symlinkConflict{path: filepath.Join(dir.Path(), name), target: target, what: what}
}

// symlinkConflict is linkConflict's refusal; it wraps cvv.ErrSymlink.
type symlinkConflict struct{ path, target, what string }

func (e *symlinkConflict) Error() string {
	return fmt.Sprintf("%s is a symlink (to %s) where the source has a %s: conflict, not followed, left as it is", e.path, e.target, e.what)
}

func (e *symlinkConflict) Unwrap() error { return cvv.ErrSymlink }

// blockFiles fails, on each destination, the files whose directory could
// not be made or reached there (makeDirs): they are not copied, and no
// directory fsync waits for them.
func (r *runner) blockFiles() {
	changed := false
	// One error for the files of each directory that could not be made
	// (jobTable.notCopied): a destination that fails early makes no
	// error per file.
	notCopied := make([][]error, len(r.blocked))
	for i, blocked := range r.blocked {
		if !slices.ContainsFunc(blocked, func(err error) bool { return err != nil }) {
			continue
		}
		notCopied[i] = make([]error, len(blocked))
		for d, err := range blocked {
			if err != nil {
				notCopied[i][d] = fmt.Errorf("not copied: %w", err)
			}
		}
	}
	r.files.notCopied = notCopied
	for i, blocked := range notCopied {
		if blocked == nil {
			continue
		}
		for _, fj := range r.jobs() {
			err := blocked[fj.dir]
			if err == nil || fj.states()[i] == dsFailed {
				continue
			}
			if r.dirSync != nil && fj.actions()[i] != plan.Skip {
				r.dirSync.left[i][fj.dir]--
			}
			fj.actions()[i] = plan.Skip
			fj.fail(i, err)
			changed = true
		}
	}
	if changed {
		r.countBytes()
	}
}

// at calls f with the directory of p, a path below destination i's root,
// opened from the root's descriptor with no symlink followed, and p's name
// in it. Every operation on a copy (a held temp file, a final name) goes
// through it: a symlink planted on the way, before or during the run,
// fails the operation instead of leading it outside the root. So does a
// root that is no longer at its path (a drive unmounted during the run):
// its copies could not be found there.
func (r *runner) at(i int, p string, f func(dir *atomicfile.Dir, name string) error) error {
	if err := r.roots[i].CheckPath(); err != nil {
		return err
	}
	dir, name, err := atomicfile.OpenParent(r.roots[i], p)
	if err != nil {
		return err
	}
	defer dir.Close()
	return f(dir, name)
}

// removeCopy removes p (a held copy given up) on destination i. An error
// on the way to p's directory (moved out of the root, say, with the copy
// in it) is not the copy's absence: it never wraps fs.ErrNotExist, so
// the copy is not said to be gone (dropCopy).
func (r *runner) removeCopy(i int, p string) error {
	reached := false
	err := r.at(i, p, func(dir *atomicfile.Dir, name string) error {
		reached = true
		return dir.Remove(name)
	})
	if err != nil && !reached {
		return fmt.Errorf("its directory cannot be reached: %v", err)
	}
	return err
}

// lstatCopy returns the file information of p on destination i, not
// following a symlink.
func (r *runner) lstatCopy(i int, p string) (fi fs.FileInfo, err error) {
	err = r.at(i, p, func(dir *atomicfile.Dir, name string) error {
		fi, err = dir.Lstat(name)
		return err
	})
	return fi, err
}

// hashCopies hashes, in parallel through the engine, the source file src
// and the copies paths[k] on the destinations idx[k]; result k+1 is
// paths[k]'s. Each copy is opened first from its root's descriptor, not
// following a symlink, and the engine reads that open file
// (atomicfile.FilePath): a symlink planted on the way or in the copy's place is
// never read through. The bytes read are reported to progress (if not
// nil).
func (r *runner) hashCopies(ctx context.Context, src string, idx []int, paths []string, progress func(int64)) ([]cvv.HashResult, []error) {
	all := append([]string{src}, paths...)
	openErrs := make([]error, len(paths))
	for k, p := range paths {
		var f *os.File
		err := r.at(idx[k], p, func(dir *atomicfile.Dir, name string) (err error) {
			f, err = dir.OpenFile(name)
			return err
		})
		if err != nil {
			openErrs[k], all[k+1] = err, ""
			continue
		}
		defer f.Close()
		if fp := atomicfile.FilePath(f); fp != "" {
			all[k+1] = fp
		}
	}
	hs, errs := r.hashAll(ctx, all, progress)
	for k, p := range paths {
		switch {
		case openErrs[k] != nil:
			errs[k+1] = openErrs[k]
		case errs[k+1] != nil && all[k+1] != p:
			errs[k+1] = &namedError{err: errs[k+1], as: all[k+1], path: p}
		default:
			hs[k+1].Path = p
		}
	}
	return hs, errs
}

// namedError is an error about a file the engine read as as (the path of
// an open file, atomicfile.FilePath), told with the file's path.
type namedError struct {
	err      error
	as, path string
}

func (e *namedError) Error() string { return strings.ReplaceAll(e.err.Error(), e.as, e.path) }

func (e *namedError) Unwrap() error { return e.err }
