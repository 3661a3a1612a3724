//go:build linux

package uring

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/hashing"
	"github.com/cvv-project/cvv/internal/atomicfile"
	"github.com/cvv-project/cvv/internal/copyfile"
)

// Copy implements cvv.Engine: it reads job.Source once, with O_DIRECT where
// the filesystem allows, and writes every block to each live destination
// through the ring.
func (e *Engine) Copy(ctx context.Context, job cvv.Job) (*cvv.Result, error) {
	if err := job.Validate(); err != nil {
		return nil, err
	}
	if len(job.Dests) > cqEntries {
		return nil, fmt.Errorf("%w: %d destinations, the io_uring engine takes at most %d", cvv.ErrInvalidJob, len(job.Dests), cqEntries)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("copy %s: %w", job.Source, err)
	}
	start := time.Now()
	block := e.opts.BlockSize
	src, fi, direct, align, err := openSource(job.Source, block)
	if err != nil {
		return nil, err
	}
	// Read-only, and the loop leaves nothing in flight on it: its Close
	// cannot lose data.
	defer src.Close()
	size := fi.Size()
	layout := copyfile.NewLayout(src, fi)
	dests := e.createDests(&job, size, layout, block)
	// Whatever happens below, no temp file outlives a failure. The loop
	// returns only with nothing in flight, so the files may be closed.
	defer func() {
		for _, d := range dests {
			if d.f != nil {
				d.abort()
			}
		}
	}()

	t := &transfer{
		e: e, ctx: ctx, src: src, srcPath: job.Source, srcFd: int(src.Fd()),
		srcDirect: direct, srcAlign: align, size: size, dests: dests, progress: job.Progress,
		layout: layout, align: max(pageSize, align),
		// A sparse source is verified after the copy: its holes are not
		// written, so there is nothing of them to read back.
		readBack: job.ReadBack && !layout.Sparse(), rbProgress: job.ReadBackProgress,
	}
	t.allDead = true
	for _, d := range dests {
		if d.live() {
			t.allDead = false
			t.align = max(t.align, d.align)
		}
	}
	if err := t.start(job.Hash); err != nil {
		return nil, fmt.Errorf("copy %s: %w", job.Source, err)
	}
	if t.readBack {
		t.startReadBacks(job.Hash)
	}
	t.run()
	t.finish()
	if t.err != nil {
		return nil, fmt.Errorf("copy %s: %w", job.Source, t.err)
	}
	if err := copyfile.CheckUnchanged(src, job.Source, fi); err != nil {
		return nil, err
	}
	// The last point where cancelling stops the copy: the commits below
	// all run to their end (copyfile.CommitAll).
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("copy %s: %w", job.Source, err)
	}

	res, err := e.commitResult(&job, src, fi, t, dests, size)
	if err != nil {
		return nil, err
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// commitResult commits the live destinations of the transfer t, each
// with the attributes of src (which is fi), and reports the copy.
func (e *Engine) commitResult(job *cvv.Job, src *os.File, fi os.FileInfo, t *transfer, dests []*destination, size int64) (*cvv.Result, error) {
	attrs, err := copyfile.Attrs(job, src, fi)
	if err != nil {
		return nil, err
	}
	res := &cvv.Result{
		Source:     job.Source,
		Size:       t.nextOff,
		SourceHash: t.sum,
		ModTime:    fi.ModTime(),
		Dests:      make([]cvv.DestResult, len(dests)),
		Engine:     e.Name(),
		Stats:      t.stats,
	}
	res.Stats.DirectSource = t.srcDirect
	res.SourceReadBack = readBackResult(t.srcRB)
	if !t.allDead {
		res.Size = t.hashed
	}
	pfs := make([]*atomicfile.PendingFile, len(dests))
	ends := make(map[*atomicfile.PendingFile]int64, len(dests))
	for i, d := range dests {
		if d.f != nil && d.live() {
			d.stopBehind()
			pfs[i] = d.pf
			ends[d.pf] = d.end
			d.pf, d.f = nil, nil
		}
	}
	done := copyfile.CommitAll(pfs, func(pf *atomicfile.PendingFile) (string, error) {
		return commit(pf, ends[pf], size, attrs, job)
	})
	for i, d := range dests {
		if pfs[i] != nil {
			d.err = done[i].Err
		}
		res.Dests[i] = cvv.DestResult{
			Path:   d.final,
			Temp:   done[i].Held,
			Bytes:  d.bytes,
			Err:    d.err,
			Direct: d.direct,
			Mode:   d.mode,
			Note:   d.note,
			Unkept: done[i].Unkept,
		}
		if d.err == nil {
			res.Dests[i].ReadBack = readBackResult(d.rb)
		}
	}
	return res, nil
}

// commit cuts a padded O_DIRECT tail back to size (or extends the copy of a
// sparse source over its last hole) and completes the temp file as the job
// asks (copyfile.Complete: attributes, sync, then the
// rename and directory fsync, or the temp file handed over with Hold).
// end is where the furthest write ended: a copy written up to size exactly
// has that size already (preallocation gives it no more), and is not
// resized.
func commit(pf *atomicfile.PendingFile, end, size int64, attrs *atomicfile.SourceAttrs, job *cvv.Job) (string, error) {
	if end != size {
		if err := copyfile.Resize(pf.File, size); err != nil {
			pf.Abort()
			return "", err
		}
	}
	return copyfile.Complete(job, pf, attrs)
}

// Hash implements cvv.Engine: it reads path once through the ring with
// O_DIRECT; if the filesystem refuses O_DIRECT, it flushes and drops the
// file's cached pages first and reads buffered (HashResult.Direct false).
func (e *Engine) Hash(ctx context.Context, path string, alg hashing.Algorithm) (cvv.HashResult, error) {
	return e.HashProgress(ctx, path, alg, nil)
}

// HashProgress is Hash that reports the bytes hashed (cvv.ProgressHasher).
func (e *Engine) HashProgress(ctx context.Context, path string, alg hashing.Algorithm, progress func(int64)) (cvv.HashResult, error) {
	if err := ctx.Err(); err != nil {
		return cvv.HashResult{}, fmt.Errorf("hash %s: %w", path, err)
	}
	f, fi, direct, align, err := openSource(path, e.opts.BlockSize)
	if err != nil {
		return cvv.HashResult{}, err
	}
	defer f.Close()
	if !direct {
		// Best effort: HashResult.Direct already says the read was
		// buffered.
		_ = copyfile.DropCache(f)
	}
	t := &transfer{
		e: e, ctx: ctx, src: f, srcPath: path, srcFd: int(f.Fd()),
		srcDirect: direct, srcAlign: align, size: fi.Size(), dropCache: true,
		layout: copyfile.NewLayout(f, fi), align: max(pageSize, align), progress: progress,
	}
	if err := t.start(alg); err != nil {
		return cvv.HashResult{}, fmt.Errorf("hash %s: %w", path, err)
	}
	t.run()
	t.finish()
	if t.err != nil {
		return cvv.HashResult{}, fmt.Errorf("hash %s: %w", path, t.err)
	}
	if err := copyfile.CheckUnchanged(f, path, fi); err != nil {
		return cvv.HashResult{}, err
	}
	if t.hashed != fi.Size() {
		return cvv.HashResult{}, fmt.Errorf("hash %s: %w: hashed %d of %d bytes", path, cvv.ErrSourceChanged, t.hashed, fi.Size())
	}
	return cvv.HashResult{Path: path, Size: t.hashed, Hash: t.sum, Direct: t.srcDirect}, nil
}
