package cvv

import "errors"

// Sentinel errors. Engines and the CLI wrap them with %w so callers can test
// with errors.Is through every layer.
var (
	// ErrInvalidJob is returned for a malformed Job.
	ErrInvalidJob = errors.New("invalid copy job")
	// ErrUsage is a bad command line or bad input.
	ErrUsage = errors.New("usage")
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
	// cvv was to reach a directory; cvv never follows one there (see Dir).
	ErrSymlink = errors.New("a symlink in the destination, not followed")
	// ErrNotHandled is returned by a fast path that cannot serve a request
	// (io_uring missing, O_DIRECT refused); the caller moves to the portable
	// path. It is never shown to a user as a failure.
	ErrNotHandled = errors.New("fast path not available")
)
