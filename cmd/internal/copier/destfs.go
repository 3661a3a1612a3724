package copier

import (
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/cmd/internal/plan"
	"github.com/cvv-project/cvv/internal/atomicfile"
)

// detectDests finds what each destination's filesystem can hold
// (r.destFS) and which entries of the tree it cannot (r.refused): names it
// refuses, files too big for it, names that are one name there. Nothing is
// written. A destination whose filesystem cannot be examined is taken for
// an ordinary one; the copy reports what then fails.
func (r *runner) detectDests() {
	n := len(r.plan.Dests)
	r.destFS = make([]plan.DestFS, n)
	r.attrsAgain = make([]atomic.Bool, n)
	r.noXattrs = make([]atomic.Bool, n)
	r.noHardLinks = make([]atomic.Bool, n)
	r.refused = make([]map[string]error, n)
	detect := r.opts.Seams.DetectFS
	if detect == nil {
		detect = plan.DetectFS
	}
	for i, d := range r.plan.Dests {
		dfs, err := detect(d.Root(r.plan.IsDir))
		if err != nil {
			continue
		}
		r.destFS[i] = dfs
		ref, err := plan.Refusals(r.tree, dfs, func(rel string) string { return r.plan.Target(i, rel) })
		if err == nil {
			r.refused[i] = ref
		}
	}
}

// refusal returns why destination i cannot hold the entry at rel, nil if
// it can.
func (r *runner) refusal(i int, rel string) error {
	if r.refused == nil || r.refused[i] == nil {
		return nil
	}
	if err := r.refused[i][rel]; err != nil {
		return &os.PathError{Op: "check", Path: r.plan.Target(i, rel), Err: err}
	}
	return nil
}

// policy returns the skip policy for destination i: the run's, with the
// time granularity of the destination's filesystem.
func (r *runner) policy(i int) plan.Policy {
	pol := r.opts.Policy
	if r.destFS != nil {
		pol.TimeGranularity = r.destFS[i].TimeGranularity
	}
	return pol
}

// checkPlaced checks fj's copy on destination i under its final name,
// right after the rename: the name itself (checkFinalName), then the
// attributes (checkAttrs). Both read the copy from its directory's
// descriptor, below the root: nothing is looked up or set through a
// symlink.
func (r *runner) checkPlaced(fj *fileJob, i int) {
	target := r.target(fj, i)
	dir, name, err := atomicfile.OpenParent(r.roots[i], target)
	if err != nil {
		fj.fail(i, fmt.Errorf("checking the copy under its final name: %w", err))
		return
	}
	defer dir.Close()
	r.checkPlacedIn(fj, i, dir, name)
}

// checkPlacedIn is checkPlaced for the final name in dir, already open.
func (r *runner) checkPlacedIn(fj *fileJob, i int, dir *atomicfile.Dir, name string) {
	if r.checkFinalName(fj, i, dir, name) {
		r.checkAttrs(fj, i, dir, name)
	}
}

// checkFinalName fails destination i of fj, and returns false, when the
// directory of its copy holds no entry of exactly the final name. On a
// filesystem that compares names without case a lookup finds a file under
// any spelling: a copy renamed after the rename, or replaced by another
// name of other case, would still be read back and pass.
func (r *runner) checkFinalName(fj *fileJob, i int, dir *atomicfile.Dir, name string) bool {
	fold := r.foldIn(i, dir.Path())
	if fold == plan.FoldNone {
		return true
	}
	key, other, found := fold.Key(name), "", false
	err := dir.EachName(func(n string) bool {
		if n == name {
			found = true
			return false
		}
		if other == "" && fold.Key(n) == key {
			other = n
		}
		return true
	})
	switch {
	case err != nil:
		fj.fail(i, fmt.Errorf("looking up the copy's name: %w", err))
		return false
	case !found:
		what := "no entry"
		if other != "" {
			what = "only " + other
		}
		fj.fail(i, &os.PathError{Op: "verify", Path: r.target(fj, i), Err: fmt.Errorf(
			"%w: the directory holds %s under this name, which %s reads back without case",
			cvv.ErrVerifyMismatch, what, r.destFS[i].TypeOr("the filesystem"))})
		return false
	}
	return true
}

// foldIn returns how the destination directory dir of destination i
// compares names.
func (r *runner) foldIn(i int, dir string) plan.Fold {
	dfs := r.destFS[i]
	if dfs.Fold != plan.FoldNone || !dfs.Casefold {
		return dfs.Fold
	}
	if v, ok := r.folded.Load(dir); ok {
		return v.(plan.Fold)
	}
	fold := plan.FoldNone
	if yes, err := plan.CaseFolded(dir); err == nil && yes {
		fold = plan.FoldCasefold
	}
	r.folded.Store(dir, fold)
	return fold
}

// checkAttrs checks the attributes of fj's copy name in dir on destination
// i, under its final name, after the rename: some filesystems drop or
// change what was set on the temp file (exfat-fuse kept no mtime sent with
// UTIME_OMIT; fusefat loses it in the rename). What is off is set again,
// with a line saying so (once per destination), and checked once more. A copy whose mtime still differs from the
// source's by a step of the filesystem's granularity or more fails there
// (a re-run would copy it again); a mode that does not take is a warning.
func (r *runner) checkAttrs(fj *fileJob, i int, dir *atomicfile.Dir, name string) {
	if r.opts.NoPreserve {
		return
	}
	target := r.target(fj, i)
	dfs := r.destFS[i]
	want, perm := unixTime(fj.modTime()), fj.entry().Mode.Perm()
	fi, err := dir.Lstat(name)
	if err != nil {
		fj.fail(i, fmt.Errorf("checking the copy's attributes: %w", err))
		return
	}
	timeOK := plan.SameTimeOn(want, fi.ModTime(), dfs.TimeGranularity)
	modeOK := dfs.NoModes || fi.Mode().Perm() == perm
	if timeOK && modeOK {
		return
	}
	fsName := dfs.TypeOr("the filesystem")
	if !r.attrsAgain[i].Swap(true) {
		// Once per destination: on such a filesystem every file needs it.
		r.warn(fj.entry().Rel, fmt.Sprintf("%s: %s did not keep the mtime or mode set before the rename (%s %v); set again, here and wherever it happens on %s",
			target, fsName, fi.ModTime().Format(time.RFC3339Nano), fi.Mode().Perm(), r.plan.Dests[i].Arg))
	}
	if !modeOK {
		if err := dir.Chmod(name, perm); err != nil {
			r.warn(fj.entry().Rel, err.Error())
		}
	}
	if !timeOK {
		// Both times given (Dir.Chtimes): a driver may mishandle
		// UTIME_OMIT.
		if err := dir.Chtimes(name, want); err != nil {
			fj.fail(i, err)
			return
		}
	}
	if fi, err = dir.Lstat(name); err != nil {
		fj.fail(i, fmt.Errorf("checking the copy's attributes: %w", err))
		return
	}
	if !plan.SameTimeOn(want, fi.ModTime(), dfs.TimeGranularity) {
		fj.fail(i, &os.PathError{Op: "check", Path: target, Err: fmt.Errorf(
			"%s keeps the modification time %s, not the source's %s", fsName,
			fi.ModTime().Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))})
	}
	if !dfs.NoModes && fi.Mode().Perm() != perm {
		r.warn(fj.entry().Rel, fmt.Sprintf("%s: %s keeps the mode %v, not the source's %v", target, fsName, fi.Mode().Perm(), perm))
	}
}

// sharedDevices returns a warning for each group of destinations on the
// same storage device: they share its bandwidth, so writing them at once is
// no faster than the device, and one failure of the device takes them all.
func (r *runner) sharedDevices() []string {
	var msgs []string
	for _, g := range r.plan.SharedDevices() {
		names := make([]string, len(g.Dests))
		for k, i := range g.Dests {
			names[k] = r.plan.Dests[i].Arg
		}
		msgs = append(msgs, fmt.Sprintf("destinations %s are on the same device (%s): they share its bandwidth, and one failure of it takes all of them",
			joinAnd(names), g.Device))
	}
	return msgs
}

// joinAnd joins names as "a, b and c".
func joinAnd(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
