package copier

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/cmd/internal/plan"
	"github.com/cvv-project/cvv/cmd/internal/testhook"
	"github.com/cvv-project/cvv/internal/atomicfile"
)

// errNoVerifiedCopy fails a cascade destination when no fast destination
// holds a verified copy of the file to fill it from.
var errNoVerifiedCopy = errors.New("no verified copy to cascade from")

// cascadeFile fills fj's cascade destinations that wait for it: each one
// to be re-checked is hashed and kept if it gives the source hash, the
// others are copied from a verified copy (cascadeCopy) and verified as
// the mode says. It returns an error only when the run is cancelled.
func (r *runner) cascadeFile(ctx context.Context, fj *fileJob) (cascadeInfo, error) {
	c := cascadeInfo{from: -1}
	var recheck, copies []int
	for i, st := range fj.states() {
		if !r.isCascade(i) || st != dsPending || fj.actions()[i] == plan.Skip {
			continue
		}
		c.idx = append(c.idx, i)
		if fj.actions()[i] == plan.Recheck {
			recheck = append(recheck, i)
		} else {
			copies = append(copies, i)
		}
	}
	froms := r.verifiedCopies(fj)
	if len(froms) > 0 {
		paths := make([]string, len(froms))
		for k, i := range froms {
			paths[k] = r.target(fj, i)
		}
		if err := testhook.BeforeCascade(ctx, fj.entry().Rel, paths); err != nil {
			r.warn(fj.entry().Rel, fmt.Sprintf("test hook: %v", err))
		}
	}
	if fj.hash() == "" || len(froms) == 0 {
		err := fmt.Errorf("%w: the file is not verified on any other destination", errNoVerifiedCopy)
		if serr := fj.sourceErr(); serr != nil {
			err = fmt.Errorf("%w: %v", errNoVerifiedCopy, serr)
		}
		for _, i := range c.idx {
			fj.fail(i, err)
		}
		return c, nil
	}
	if len(recheck) > 0 {
		again, err := r.recheckCascade(ctx, fj, recheck)
		if err != nil {
			return c, err
		}
		copies = append(copies, again...)
		slices.Sort(copies)
	}
	if len(copies) == 0 {
		return c, nil
	}
	start := time.Now()
	if err := r.cascadeCopy(ctx, fj, froms, copies, &c); err != nil {
		return c, err
	}
	c.elapsed = time.Since(start)
	return c, r.verifyCascade(ctx, fj, copies)
}

// verifiedCopies returns the fast destinations that hold a copy of fj
// this run verified (or re-checked), in command-line order.
func (r *runner) verifiedCopies(fj *fileJob) []int {
	var out []int
	for i, st := range fj.states() {
		if !r.isCascade(i) && st == dsOK && fj.actions()[i] != plan.Skip {
			out = append(out, i)
		}
	}
	return out
}

// recheckCascade hashes the cascade destinations idx of fj, which hold a
// file of the source's size and mtime, from the media: each that gives the
// source hash is kept (verified), the others are returned, to be copied
// again. It returns an error only when the run is cancelled.
func (r *runner) recheckCascade(ctx context.Context, fj *fileJob, idx []int) ([]int, error) {
	paths := make([]string, len(idx))
	for k, i := range idx {
		paths[k] = r.target(fj, i)
	}
	hs, errs := r.hashCopies(ctx, "", idx, paths, r.verifiedBytes)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var again []int
	for k, i := range idx {
		h, err := hs[k+1], errs[k+1]
		if err == nil && h.Hash == fj.hash() && h.Size == fj.size() {
			fj.states()[i] = dsOK
			fj.setDestHash(i, h.Hash)
			if !fj.hashReused() {
				r.writeRecord(fj, i, paths[k], r.record(fj, plan.LevelFull))
			}
			continue
		}
		fj.actions()[i] = plan.Copy
		r.out.Notice(fj.entry().Rel, "repair: "+r.recheckDiff(fj, i, h, err))
		again = append(again, i)
	}
	return again, nil
}

// cascadeCopy copies fj to the cascade destinations idx from the first of
// the verified copies froms that still reads as the source did. It
// returns an error only when the run is cancelled.
func (r *runner) cascadeCopy(ctx context.Context, fj *fileJob, froms, idx []int, c *cascadeInfo) error {
	var last error
	for _, from := range froms {
		err := r.cascadeFrom(ctx, fj, from, idx, c)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		last = err
		r.failures.Add(1)
		r.out.Fail(fj.entry().Rel, r.target(fj, from), err)
	}
	for _, i := range idx {
		fj.fail(i, fmt.Errorf("%w: %v", errNoVerifiedCopy, last))
	}
	return nil
}

// cascadeFrom copies fj to the cascade destinations idx from its verified
// copy on destination from, through the engine, which hashes what it
// reads. An error says that copy could not be read or no longer gives the
// source hash: it then fails on its destination, with a LevelTransfer
// record (a later source or full run re-checks it against the source),
// and nothing copied from it is kept. A failure to write a cascade
// destination fails that one only (nil error).
func (r *runner) cascadeFrom(ctx context.Context, fj *fileJob, from int, idx []int, c *cascadeInfo) error {
	fromPath := r.target(fj, from)
	var f *os.File
	err := r.at(from, fromPath, func(dir *atomicfile.Dir, name string) (err error) {
		f, err = dir.OpenFile(name)
		return err
	})
	if err != nil {
		return r.copyChanged(fj, from, fmt.Errorf("opening the verified copy %s for the cascade: %w", fromPath, err))
	}
	defer f.Close()
	src := atomicfile.FilePath(f)
	if src == "" {
		src = fromPath
	}
	res, err := r.cascadeJob(ctx, fj, src, idx)
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		return r.copyChanged(fj, from, fmt.Errorf("reading the verified copy %s for the cascade: %w", fromPath, err))
	}
	if res.SourceHash != fj.hash() || res.Size != fj.size() {
		for k, i := range idx {
			if t := res.Dests[k].Temp; t != "" {
				r.removeCopy(i, t)
			}
		}
		return r.copyChanged(fj, from, &os.PathError{Op: "cascade", Path: fromPath, Err: fmt.Errorf(
			"%w: the copy changed since its verification (%s %s, source %s; %d bytes, source %d): nothing was cascaded from it",
			cvv.ErrVerifyMismatch, r.opts.Alg, res.SourceHash, fj.hash(), res.Size, fj.size())})
	}
	c.from, c.bytes = from, res.Size
	r.casc.cascaded(idx, from)
	for k, i := range idx {
		if derr := res.Dests[k].Err; derr != nil {
			fj.fail(i, derr)
			continue
		}
		fj.states()[i] = dsCopied
		fj.hold(i, res.Dests[k].Temp)
		r.xattrsUnkept(i, res.Dests[k].Unkept)
	}
	return nil
}

// cascadeJob runs the engine copy of src (an open verified copy) to fj's
// cascade destinations idx, each held under its temp name.
func (r *runner) cascadeJob(ctx context.Context, fj *fileJob, src string, idx []int) (*cvv.Result, error) {
	job := cvv.Job{
		Source: src, Hash: r.opts.Alg, NoFsync: r.opts.NoFsync, DeferDirSync: r.dirSync != nil,
		NoPreserve: r.opts.NoPreserve, NoXattrs: r.opts.NoXattrs, Hold: true,
		Progress: func(n int64) {
			for _, i := range idx {
				r.destProg[i].bytes.Add(n)
			}
			testhook.Throttle()
		},
	}
	for _, i := range idx {
		job.Dests = append(job.Dests, r.target(fj, i))
		job.Roots = append(job.Roots, r.roots[i])
		job.Write = append(job.Write, r.writes[i].ForFile(fj.size()))
	}
	r.destsBusy(idx, (*destProgress).copyingNow, 1)
	defer r.destsBusy(idx, (*destProgress).copyingNow, -1)
	return r.engineCopy(ctx, job)
}

// copyChanged fails fj on destination from, whose verified copy could not
// be read again or no longer gives the source hash, and demotes its record
// to LevelTransfer: it is never trusted again without a re-check. It
// returns err.
func (r *runner) copyChanged(fj *fileJob, from int, err error) error {
	fj.fail(from, err)
	r.writeRecord(fj, from, r.target(fj, from), r.record(fj, plan.LevelTransfer))
	return err
}

// verifyCascade verifies the cascade copies idx of fj as the mode says:
// their sizes, and in full mode their bytes, re-read from the media, must
// give the source hash. It returns an error only when the run is
// cancelled.
func (r *runner) verifyCascade(ctx context.Context, fj *fileJob, idx []int) error {
	idx = slices.DeleteFunc(slices.Clone(idx), func(i int) bool { return fj.states()[i] != dsCopied })
	if len(idx) == 0 {
		return nil
	}
	if r.opts.Mode != plan.LevelFull {
		r.checkSizes(fj, idx)
		return nil
	}
	paths := make([]string, len(idx))
	for k, i := range idx {
		paths[k] = r.copyPath(fj, i)
	}
	r.destsBusy(idx, (*destProgress).verifyingNow, 1)
	hs, errs := r.hashCopies(ctx, "", idx, paths, r.verifiedBytes)
	r.destsBusy(idx, (*destProgress).verifyingNow, -1)
	if err := ctx.Err(); err != nil {
		return err
	}
	r.compareCopies(fj, idx, hs[1:], errs[1:])
	return nil
}
