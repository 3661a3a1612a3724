package command

import (
	"fmt"
	"path/filepath"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/cmd/internal/plan"
)

// Nothing is written outside a destination root: below each root, every
// directory is reached from the root's descriptor with no symlink followed
// (cvv.Dir), by this package and by the engines (cvv.Job.Roots). A symlink
// in a destination where the source has a directory or a file is a
// conflict (linkConflict).

// openRoots opens the root directory of every live destination. A root
// that cannot be opened drops its destination.
func (r *runner) openRoots() {
	r.roots = make([]*cvv.Dir, len(r.plan.Dests))
	for i, d := range r.plan.Dests {
		if !r.live(i) {
			continue
		}
		root, err := cvv.OpenRoot(d.Root(r.plan.IsDir))
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
func linkConflict(dir *cvv.Dir, name, what string) error {
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
	for i, blocked := range r.blocked {
		if blocked == nil {
			continue
		}
		for _, fj := range r.files {
			err := blocked[fj.dir]
			if err == nil || fj.state[i] == dsFailed {
				continue
			}
			if r.dirSync != nil && fj.actions[i] != plan.Skip {
				r.dirSync.left[i][fj.dir]--
			}
			fj.actions[i] = plan.Skip
			fj.fail(i, fmt.Errorf("not copied: %w", err))
			changed = true
		}
	}
	if changed {
		r.countBytes()
	}
}
