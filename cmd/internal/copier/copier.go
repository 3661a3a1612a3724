// Package copier runs a copy of a file or a tree to one or more
// destinations: it decides what each destination needs, creates the
// directories and links, copies the files through an engine, verifies
// them, seals or places each copy, writes the manifests and the report,
// and gives the directories their attributes. It is the tree executor of
// cvv SOURCE DEST...; restic's internal/restorer is the model.
//
// It reports through a ui.Output (events in, nothing read back) and never
// parses flags: the command package fills Options and calls Run. It
// imports no engine (Options.OpenEngine opens one).
package copier

import (
	"context"
	"errors"
	"io"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/cmd/internal/testhook"
	"github.com/cvv-project/cvv/hashing"
)

// ExitFailure is the exit status of a run that failed some copies or
// verifications, as the transfer report states it (command.ExitFailure).
const ExitFailure = 1

// ErrFailures is returned by a run that finished with per-file failures;
// they have been reported already.
var ErrFailures = errors.New("some copies failed")

// ErrNotVerified is returned by a run that copied everything but did not
// verify some copies (the verification was declined); it has been reported.
var ErrNotVerified = errors.New("some copies were not verified")

// Run copies src to dests as opts asks. stdout and stderr take what is
// printed outside the printer (the dry run's lines, waiting for a lock).
// It returns ErrFailures when some entries failed (they have been
// reported), ErrNotVerified when some copies were left unverified, a
// usage error (cmd/internal/usage) for a bad command line, or ctx's error
// when interrupted.
func Run(ctx context.Context, opts Options, stdout, stderr io.Writer, src string, dests []string) error {
	r := &runner{opts: opts, stdout: stdout, stderr: stderr}
	return r.run(ctx, src, dests)
}

// HashWithProgress hashes path with eng, reporting the bytes hashed to
// progress (if not nil) when the engine can (cvv.ProgressHasher).
func HashWithProgress(ctx context.Context, eng cvv.Engine, path string, alg hashing.Algorithm, progress func(int64)) (cvv.HashResult, error) {
	if ph, ok := eng.(cvv.ProgressHasher); ok && progress != nil {
		return ph.HashProgress(ctx, path, alg, func(n int64) {
			progress(n)
			testhook.VerifyThrottle()
		})
	}
	return eng.Hash(ctx, path, alg)
}
