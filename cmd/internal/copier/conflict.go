package copier

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/cmd/internal/plan"
	"github.com/cvv-project/cvv/internal/atomicfile"
)

// OnConflict is what --on-conflict asks for a destination file that
// exists and differs from the source (plan.Conflict).
type OnConflict uint8

const (
	// ConflictFail: that file fails on that destination, the rest copies.
	ConflictFail OnConflict = iota
	// ConflictOverwrite: the existing file is replaced, once the new copy
	// is verified (the old one stays whole until then).
	ConflictOverwrite
	// ConflictRename: the copy goes to "NAME (2).EXT", the first such name
	// that is free (or holds this very file from an earlier run).
	ConflictRename
)

func (c OnConflict) String() string {
	switch c {
	case ConflictOverwrite:
		return "overwrite"
	case ConflictRename:
		return "rename"
	}
	return "fail"
}

// decideDest decides what to do with fj on destination i, conflicts
// included: the one place where what a destination holds becomes an
// action. A conflict that is not resolved fails fj there (Skip with the
// state failed). It also returns what is there under the name fj takes
// (its record with it), for an action Skip or Recheck.
func (r *runner) decideDest(fj *fileJob, i int) (plan.Action, plan.Existing) {
	a, ex, err := r.decideAt(i, r.target(fj, i), *fj.entry())
	return r.decideFound(fj, i, a, ex, err)
}

// decideFound is decideDest from what decideAt gave for fj's name on
// destination i (a, ex, err), looked at already (lookAhead).
func (r *runner) decideFound(fj *fileJob, i int, a plan.Action, ex plan.Existing, err error) (plan.Action, plan.Existing) {
	if err != nil {
		// Cannot look: copy, and let the copy report what is wrong.
		return plan.Copy, plan.Existing{}
	}
	if a != plan.Conflict {
		return a, ex
	}
	fi := ex.Info
	switch {
	case r.opts.OnConflict == ConflictRename:
		alt, a, ex, err := r.freeName(fj, i)
		if err != nil {
			fj.fail(i, fmt.Errorf("%w; and no other name: %v", r.conflictError(fj, i, fi), err))
			return plan.Skip, plan.Existing{}
		}
		fj.setConflict(i, alt, "")
		return a, ex
	case fi.IsDir():
		// A directory is never replaced by a file: that would delete a tree.
		fj.fail(i, r.conflictError(fj, i, fi))
		return plan.Skip, plan.Existing{}
	case r.opts.OnConflict == ConflictOverwrite:
		fj.setConflict(i, "", describeEntry(fi))
		return plan.Copy, plan.Existing{}
	}
	fj.fail(i, fmt.Errorf("%w (--on-conflict overwrite replaces it, --on-conflict rename keeps both)", r.conflictError(fj, i, fi)))
	return plan.Skip, plan.Existing{}
}

// freeName returns the name "NAME (k).EXT" (k = 2, 3, ...) that fj takes
// on destination i with --on-conflict rename, and the action there: the
// first name that is free (Copy) or that holds this source file from an
// earlier run (Skip or Recheck, like any resumed copy), with what is there.
// A name that a source file of this run has is never taken.
func (r *runner) freeName(fj *fileJob, i int) (string, plan.Action, plan.Existing, error) {
	final := r.target(fj, i)
	dir, base := filepath.Split(final)
	ext := filepath.Ext(base)
	stem := strings.TrimSuffix(base, ext)
	if stem == "" {
		stem, ext = base, "" // ".profile": no extension
	}
	for k := 2; k <= 999; k++ {
		name := fmt.Sprintf("%s (%d)%s", stem, k, ext)
		cand := filepath.Join(dir, name)
		if _, err := os.Lstat(filepath.Join(filepath.Dir(r.source(fj)), name)); !errors.Is(err, fs.ErrNotExist) {
			continue
		}
		a, ex, err := r.decideAt(i, cand, *fj.entry())
		if err != nil {
			return "", 0, plan.Existing{}, err
		}
		if a != plan.Conflict {
			return cand, a, ex, nil
		}
	}
	return "", 0, plan.Existing{}, fmt.Errorf("%s (2) to (999) are all taken", stem)
}

// conflictError says why fj is not copied onto what destination i holds
// under its name (fi, from lstat): what is there against the source.
func (r *runner) conflictError(fj *fileJob, i int, fi fs.FileInfo) error {
	return fmt.Errorf("%w: %s holds %s, the source %s; not replaced",
		cvv.ErrConflict, displayName(r.target(fj, i)), describeEntry(fi), describeFile(fj.entry().Size, fj.entry().ModTime))
}

// setConflict records how a conflict of fj on destination i was resolved:
// the copy goes to alt instead of its name, or it replaces what was there
// (described by replaced).
func (fj *fileJob) setConflict(i int, alt, replaced string) {
	x := fj.extra()
	if x.conflicts == nil {
		x.conflicts = make([]conflictFate, len(fj.states()))
	}
	x.conflicts[i] = conflictFate{alt: alt, replaced: replaced}
}

// conflict returns how a conflict of fj on destination i was resolved
// (zero if there was none).
func (fj *fileJob) conflict(i int) conflictFate {
	if fj.x == nil || fj.x.conflicts == nil {
		return conflictFate{}
	}
	return fj.x.conflicts[i]
}

// conflictFate is how a conflict on one destination was resolved.
type conflictFate struct {
	alt      string // the copy's path instead of the final name
	replaced string // what the copy replaced, described
}

// reportConflict tells, on the terminal and in JSON, that the verified
// copy of fj on destination i replaced a different file or went to
// another name.
func (r *runner) reportConflict(fj *fileJob, i int) {
	c := fj.conflict(i)
	switch {
	case c.alt != "":
		r.out.Notice(fj.entry().Rel, fmt.Sprintf("conflict: %s holds another file; copied as %s", displayName(r.plan.Target(i, fj.entry().Rel)), displayName(c.alt)))
	case c.replaced != "":
		r.out.Notice(fj.entry().Rel, fmt.Sprintf("replaced %s (it held %s) with the verified copy of the source", displayName(r.target(fj, i)), c.replaced))
	}
}

// describeEntry says what an existing destination entry is, for messages.
func describeEntry(fi fs.FileInfo) string {
	switch {
	case fi.IsDir():
		return "a directory"
	case fi.Mode()&fs.ModeSymlink != 0:
		return "a symlink"
	case fi.Mode().IsRegular():
		return "a file of " + describeFile(fi.Size(), fi.ModTime())
	}
	return "a " + describeSpecial(fi.Mode())
}

// describeFile is "SIZE bytes, mtime TIME".
func describeFile(size int64, mtime time.Time) string {
	return fmt.Sprintf("%s (%d bytes), mtime %s", plan.HumanBytes(size), size, mtime.Format("2006-01-02 15:04:05.000000000 -0700"))
}

// lookDir is the destination directory decide last looked into on one
// destination, kept open while the files of that directory are decided.
type lookDir struct {
	path string
	dir  *atomicfile.Dir
	err  error
}

func (c *lookDir) close() {
	if c.dir != nil {
		c.dir.Close()
	}
	*c = lookDir{}
}

// decideAt is plan.DecideIn for the file e at target on destination i:
// what is there is looked at from target's directory, opened from the
// root's descriptor with no symlink followed (the one opened last on that
// destination, while it is the same). Without open roots (a dry run) the
// directory is opened by its path.
func (r *runner) decideAt(i int, target string, e plan.Entry) (plan.Action, plan.Existing, error) {
	if r.looks == nil {
		r.looks = make([]lookDir, len(r.plan.Dests))
	}
	return r.decideWith(&r.looks[i], i, target, e)
}

// decideWith is decideAt through c, the directory one goroutine looked
// into last on destination i.
func (r *runner) decideWith(c *lookDir, i int, target string, e plan.Entry) (plan.Action, plan.Existing, error) {
	if parent := filepath.Dir(target); c.path != parent {
		c.close()
		var root *atomicfile.Dir
		if r.roots != nil {
			root = r.roots[i]
		}
		c.path = parent
		c.dir, _, c.err = atomicfile.OpenParent(root, target)
	}
	switch {
	case errors.Is(c.err, fs.ErrNotExist):
		return plan.Copy, plan.Existing{}, nil // a directory this run makes
	case c.err != nil:
		return plan.Copy, plan.Existing{}, c.err
	}
	return plan.DecideIn(c.dir, filepath.Base(target), e, r.policy(i))
}

// closeLooks closes the directories decideAt kept open.
func (r *runner) closeLooks() {
	for i := range r.looks {
		r.looks[i].close()
	}
	r.looks = nil
}
