package copier

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/cvv-project/cvv/cmd/internal/plan"
)

// dryRun is --dry-run: after the checks every run makes (overlaps, missing
// parents, what each destination filesystem can hold), it prints what
// decide chose for every file on every destination, what each destination
// would receive, and the space each destination filesystem would need. It
// writes nothing: no destination root is created, no lock is taken, no temp
// file is swept. It returns ErrFailures when the run would fail some file
// (a refusal, a filesystem short of space).
func (r *runner) dryRun(ctx context.Context) error {
	if err := r.decide(ctx); err != nil {
		return err
	}
	for _, msg := range r.sharedDevices() {
		fmt.Fprintf(r.stderr, "cvv: warning: %s\n", msg)
	}
	n := len(r.plan.Dests)
	copies, skips, rechecks, refused := make([]int, n), make([]int, n), make([]int, n), make([]int, n)
	bytes := make([]int64, n)
	failed := false
	for _, fj := range r.jobs() {
		var acts []string
		for i, a := range fj.actions() {
			if err := fj.err(i); err != nil {
				acts = append(acts, "refuse")
				refused[i]++
				failed = true
				fmt.Fprintf(r.stderr, "cvv: %s -> %s: would fail: %v\n", displayName(fj.entry().Rel), displayName(r.target(fj, i)), err)
				continue
			}
			switch a {
			case plan.Copy:
				copies[i]++
				bytes[i] += fj.entry().Size
			case plan.Skip:
				skips[i]++
			case plan.Recheck:
				rechecks[i]++
			}
			acts = append(acts, r.dryRunAction(fj, i))
		}
		if !r.opts.Quiet {
			fmt.Fprintf(r.stdout, "%s  %s  %s\n", displayName(fj.entry().Rel), plan.HumanBytes(fj.entry().Size), strings.Join(acts, " "))
		}
	}
	for _, s := range r.tree.Specials {
		fmt.Fprintf(r.stderr, "cvv: warning: would skip %s: it is a %s\n", displayName(r.tree.Path(s.Rel)), describeSpecial(s.Mode))
	}
	for i, d := range r.plan.Dests {
		created := ""
		if len(d.Missing) > 0 {
			created = fmt.Sprintf(", creating %s", strings.Join(d.Missing, ", "))
		}
		r.dryRunLine(r.stdout, fmt.Sprintf("%s: %d to copy (%s), %d to skip, %d to recheck, %d would fail%s",
			displayName(d.Arg), copies[i], plan.HumanBytes(bytes[i]), skips[i], rechecks[i], refused[i], created))
	}
	short, err := r.dryRunSpace()
	if err != nil {
		return err
	}
	if err := r.tree.Files.Err(); err != nil {
		return err
	}
	r.dryRunLine(r.stdout, "nothing was written")
	if failed || short {
		return ErrFailures
	}
	return nil
}

// dryRunAction names what decide chose for fj on destination i: its
// action, "replace" for a copy over an existing file, "rename" for a copy
// to another name (--on-conflict rename).
func (r *runner) dryRunAction(fj *fileJob, i int) string {
	a := fj.actions()[i]
	if fj.conflict(i).alt != "" && a == plan.Copy {
		return "rename"
	}
	if a == plan.Copy && !(r.plan.IsDir && r.rootIsNew(i)) {
		if _, err := os.Lstat(r.target(fj, i)); err == nil {
			return "replace"
		}
	}
	return a.String()
}

// dryRunSpace prints the space each destination filesystem would need and
// has; short reports whether one lacks it.
func (r *runner) dryRunSpace() (short bool, err error) {
	fss, any, err := r.spaceNeeds()
	if err != nil || !any {
		return false, err
	}
	for _, f := range fss {
		var names []string
		for _, i := range f.Dests {
			names = append(names, displayName(r.plan.Dests[i].Arg))
		}
		line := fmt.Sprintf("filesystem at %s (%s): needs %s, %s available", f.MountPoint, strings.Join(names, ", "), plan.HumanBytes(f.Need), plan.HumanBytes(f.Avail))
		if f.Avail < 0 {
			line = fmt.Sprintf("filesystem at %s (%s): needs %s, available space unknown", f.MountPoint, strings.Join(names, ", "), plan.HumanBytes(f.Need))
		}
		if _, s := f.Short(); s {
			short = true
			fmt.Fprintf(r.stderr, "cvv: dry run: %s; its destinations would be given up\n", f)
			continue
		}
		r.dryRunLine(r.stdout, line)
	}
	return short, nil
}

func (r *runner) dryRunLine(w io.Writer, msg string) {
	if !r.opts.Quiet {
		fmt.Fprintf(w, "cvv: dry run: %s\n", msg)
	}
}
