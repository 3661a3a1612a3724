package copier

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/cmd/internal/plan"
	"github.com/cvv-project/cvv/internal/atomicfile"
)

// makeHardLinks gives every further path of a hard-linked source file
// (tree.HardLinks) its link on each destination, as cp -a and rsync -H
// do: once the first path's copy is in place and verified there, the
// others are linked to it, on the destinations that only selects (nil:
// every one) (linkat to a temp name, renamed over the final
// name, the link's inode checked, the directory fsynced). A destination
// that cannot hold hard links (FAT, exFAT) gets each path as a copy of
// its own, verified against the source hash, with one line saying so.
// linked[i][k] records which links exist on destination i, for the hash
// lists.
func (r *runner) makeHardLinks(ctx context.Context, only func(i int) bool) {
	if len(r.tree.HardLinks) == 0 {
		return
	}
	if r.linked == nil {
		r.linked = make([][]bool, len(r.plan.Dests))
		for i := range r.linked {
			r.linked[i] = make([]bool, len(r.tree.HardLinks))
		}
	}
	dirs := map[[2]int]bool{} // (destination, directory) to fsync
	for i := range r.plan.Dests {
		if only != nil && !only(i) || !r.live(i) {
			continue
		}
		for k, h := range r.tree.HardLinks {
			if ctx.Err() != nil {
				return
			}
			fj := r.peek(h.File)
			if fj.states()[i] != dsOK && fj.states()[i] != dsSkipped {
				if fj.states()[i] == dsFailed {
					r.failures.Add(1)
					r.out.Fail(h.Rel, r.plan.Target(i, h.Rel), fmt.Errorf("not linked: %s failed there", h.First))
				}
				continue // not verified (yet): the next run links it
			}
			err := r.hardLink(ctx, i, h, fj)
			if err != nil {
				r.failures.Add(1)
				r.out.Fail(h.Rel, r.plan.Target(i, h.Rel), err)
				continue
			}
			r.linked[i][k] = true
			dirs[[2]int{i, r.dirIndex(filepath.Dir(h.Rel))}] = true
		}
	}
	if r.opts.NoFsync {
		return
	}
	for d := range dirs {
		if err := r.syncDestDir(d[0], d[1]); err != nil {
			r.failures.Add(1)
			r.out.Fail(r.tree.Dirs[d[1]].Rel, r.plan.Target(d[0], r.tree.Dirs[d[1]].Rel), err)
		}
	}
}

// hardLink makes h on destination i a link to fj's copy there, or a
// copy of its own where the filesystem holds no hard links.
func (r *runner) hardLink(ctx context.Context, i int, h plan.HardLink, fj *fileJob) error {
	if err := r.refusal(i, h.Rel); err != nil {
		return err
	}
	if r.destFS[i].NoSymlinks { // FAT and exFAT hold no links of any kind
		return r.copyApart(ctx, i, h)
	}
	first, err := r.roots[i].OpenDir(filepath.Dir(h.First))
	if err != nil {
		return err
	}
	defer first.Close()
	parent, err := r.roots[i].OpenDir(filepath.Dir(h.Rel))
	if err != nil {
		return err
	}
	defer parent.Close()
	fname, name := filepath.Base(h.First), filepath.Base(h.Rel)
	want, err := first.Lstat(fname)
	if err != nil {
		return err
	}
	if cur, err := parent.Lstat(name); err == nil {
		if atomicfile.SameFile(cur, want) {
			return nil // linked by an earlier run
		}
		if !cur.Mode().IsRegular() || !r.opts.Policy.Overwrite && !sameSizeTime(cur, h.Entry) {
			return fmt.Errorf("%s exists and is not a link of %s: conflict (--on-conflict overwrite replaces it)", r.plan.Target(i, h.Rel), r.plan.Target(i, h.First))
		}
	}
	tmp := atomicfile.TempName()
	r.linksMade = true
	if err := parent.Link(first, fname, tmp); err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.ENOTSUP) || errors.Is(err, syscall.EMLINK) {
			return r.copyApart(ctx, i, h)
		}
		return err
	}
	if err := parent.Rename(tmp, name); err != nil {
		parent.Remove(tmp)
		return err
	}
	got, err := parent.Lstat(name)
	if err != nil {
		return err
	}
	if !atomicfile.SameFile(got, want) {
		return fmt.Errorf("%s is not a link of %s after the rename", r.plan.Target(i, h.Rel), r.plan.Target(i, h.First))
	}
	return nil
}

// sameSizeTime reports whether the existing file fi has e's size and
// mtime: a separate copy an earlier run made, replaced by the link.
func sameSizeTime(fi os.FileInfo, e plan.Entry) bool {
	return fi.Size() == e.Size && fi.ModTime().Equal(e.ModTime)
}

// copyApart copies h to destination i as a file of its own, from the
// source, verified from the media before it gets its name; the line saying
// the destination holds no hard links comes once.
func (r *runner) copyApart(ctx context.Context, i int, h plan.HardLink) error {
	if !r.noHardLinks[i].Swap(true) {
		r.warn("", fmt.Sprintf("%s: %s cannot hold hard links: their paths are copied as separate files",
			r.plan.Dests[i].Path, r.destFS[i].TypeOr("the filesystem")))
	}
	r.linksMade = true
	target := r.plan.Target(i, h.Rel)
	// Held under its temp name until it reads back as the source did.
	res, err := r.eng.Copy(ctx, cvv.Job{
		Source: r.apartSource(i, h), Dests: []string{target}, Roots: []*atomicfile.Dir{r.roots[i]},
		Hash: r.opts.Alg, NoFsync: r.opts.NoFsync, DeferDirSync: true, Hold: true,
		NoPreserve: r.opts.NoPreserve, NoXattrs: r.opts.NoXattrs,
	})
	if err != nil {
		return err
	}
	if err := res.Dests[0].Err; err != nil {
		return err
	}
	tmp := res.Dests[0].Temp
	got, err := r.eng.Hash(ctx, tmp, r.opts.Alg)
	if err == nil && got.Hash != res.SourceHash {
		err = fmt.Errorf("%w: %s reads back as %s, the source was %s", cvv.ErrVerifyMismatch, target, got.Hash, res.SourceHash)
	}
	if fj := r.peek(h.File); err == nil && fj.hash() != "" && res.SourceHash != fj.hash() {
		err = fmt.Errorf("%w: %s was copied from bytes that hash to %s, the source was %s", cvv.ErrVerifyMismatch, target, res.SourceHash, fj.hash())
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return atomicfile.Place(r.roots[i], tmp, target, atomicfile.SyncData)
}

// syncDestDir fsyncs directory d of the tree on destination i.
func (r *runner) syncDestDir(i, d int) error {
	dir, err := r.roots[i].OpenDir(r.tree.Dirs[d].Rel)
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Sync()
}
