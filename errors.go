package cvv

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/cvv-project/cvv/internal/atomicfile"
)

// Sentinel errors. Engines and the CLI wrap them with %w so callers can test
// with errors.Is through every layer.
var (
	// ErrInvalidJob is returned for a malformed Job.
	ErrInvalidJob = errors.New("invalid copy job")
	// ErrSourceChanged means the source changed while it was copied or
	// between the copy and its verification.
	ErrSourceChanged = errors.New("source changed during copy")
	// ErrVerifyMismatch means a destination's bytes differ from the source's.
	ErrVerifyMismatch = errors.New("verification mismatch")
	// ErrConflict means a destination already holds something else under
	// the name of a source file (another file, a directory, a symlink),
	// which is not replaced unless asked.
	ErrConflict = errors.New("destination exists and differs")
	// ErrDiskFull means a destination filesystem ran out of space.
	ErrDiskFull = errors.New("destination disk full")
	// ErrSymlink means a symlink was found below a destination root where
	// cvv was to reach a directory; cvv never follows one there (see
	// atomicfile.Dir, whose sentinel it is).
	ErrSymlink = atomicfile.ErrSymlink
	// ErrNoXattrs marks a destination whose filesystem cannot hold
	// extended attributes (exFAT, FAT: ENOTSUP): the copy is complete
	// without them (atomicfile's sentinel, re-exported).
	ErrNoXattrs = atomicfile.ErrNoXattrs
	// ErrNotHandled is returned by a fast path that cannot serve a request
	// (io_uring missing, O_DIRECT refused); the caller moves to the portable
	// path. It is never shown to a user as a failure.
	ErrNotHandled = errors.New("fast path not available")
)

// DestError wraps err, an error on destination path, so that ErrDiskFull
// matches ENOSPC and EDQUOT.
func DestError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		if !errors.Is(err, ErrDiskFull) {
			return fmt.Errorf("%w: %w", ErrDiskFull, err)
		}
	}
	return err
}
