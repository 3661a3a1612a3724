package copier

import (
	"context"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/cmd/internal/plan"
	"github.com/cvv-project/cvv/cmd/internal/testhook"
)

// In full mode the engine verifies behind the copy where it can
// (cvv.Job.ReadBack): it reads each stretch of the source and of every
// copy back from the media while the later stretches are still copied,
// and hands over the digests with the copy's result. verifyFile then
// compares those digests as it compares its own re-reads, and re-reads
// only the files the engine did not read back (a destination written
// through the page cache or refusing O_DIRECT, a sparse source, the
// portable engine).

// readBackWanted reports whether the copies of this run are verified
// behind the copy: in full mode, each file verified right after its copy.
// The test hook between copy and verification (testhook.BeforeVerify)
// needs the verification after the copy, so it turns this off.
func (r *runner) readBackWanted() bool {
	return r.opts.Mode == plan.LevelFull && !r.opts.VerifyAfter && !testhook.BeforeVerifyArmed()
}

// keepReadBack keeps what the engine read back behind the copy of fj
// (nil if not read back): the source, and destination i.
func (fj *fileJob) keepReadBack(i int, src, dest *cvv.ReadBack) {
	if src == nil && dest == nil {
		return
	}
	x := fj.extra()
	if x.readBack == nil {
		x.readBack = make([]*cvv.ReadBack, 1+len(fj.states()))
	}
	x.readBack[0], x.readBack[1+i] = src, dest
}

// readBackOf returns what the engine read back of fj's source (i < 0)
// or of its copy on destination i, nil if it did not.
func (fj *fileJob) readBackOf(i int) *cvv.ReadBack {
	if fj.x == nil || fj.x.readBack == nil {
		return nil
	}
	return fj.x.readBack[1+i]
}

// hashBehind returns, laid out as hashCopies returns them, the hashes of
// fj's source and of its copies idx (at paths): what the engine read back
// behind the copy where it did, a re-read through hashCopies for the
// others. What was read back is dropped: it verifies one copy once.
func (r *runner) hashBehind(ctx context.Context, fj *fileJob, idx []int, paths []string) ([]cvv.HashResult, []error) {
	src := r.source(fj)
	if fj.readBackOf(-1) != nil {
		src = ""
	}
	var restIdx, restK []int
	var restPaths []string
	for k, i := range idx {
		if fj.readBackOf(i) == nil {
			restIdx, restPaths, restK = append(restIdx, i), append(restPaths, paths[k]), append(restK, k)
		}
	}
	hs := make([]cvv.HashResult, 1+len(idx))
	errs := make([]error, 1+len(idx))
	if src != "" || len(restIdx) > 0 {
		h, e := r.hashCopies(ctx, src, restIdx, restPaths, r.verifiedBytes)
		hs[0], errs[0] = h[0], e[0]
		for j, k := range restK {
			hs[1+k], errs[1+k] = h[1+j], e[1+j]
		}
	}
	if rb := fj.readBackOf(-1); rb != nil {
		hs[0], errs[0] = readBackHash(r.source(fj), rb)
	}
	for k, i := range idx {
		if rb := fj.readBackOf(i); rb != nil {
			hs[1+k], errs[1+k] = readBackHash(paths[k], rb)
		}
	}
	if fj.x != nil {
		fj.x.readBack = nil
	}
	return hs, errs
}

// readBackHash is rb, read back from path, as a hash or its error.
func readBackHash(path string, rb *cvv.ReadBack) (cvv.HashResult, error) {
	if rb.Err != nil {
		return cvv.HashResult{}, rb.Err
	}
	return cvv.HashResult{Path: path, Size: rb.Size, Hash: rb.Hash, Direct: true}, nil
}
