// Package cvv is the engine-agnostic contract of the cvv copy tool: the
// Engine interface that the io_uring engine (package uring) and the portable
// engine (package fallback) implement, the job and result types they share,
// the sentinel errors, and the atomic-destination protocol (temp file, data,
// fdatasync, rename, directory fsync) that both follow.
//
// This package must never import an engine, do I/O on the hot path, or
// depend on anything Linux-only: it builds on every GOOS.
package cvv

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/cvv-project/cvv/hashing"
	"github.com/cvv-project/cvv/internal/atomicfile"
)

// Engine copies one source file to one or more destination files, reading
// the source exactly once.
//
// The contract every implementation keeps:
//
//   - Read once, fan out. Each byte of the source is read from the source
//     once and written to every destination that has not failed. The bytes as
//     read are streamed, strictly in file order, to one hashing.Hasher of
//     Job.Hash; Result.SourceHash is that digest. There is never a second read
//     of the source to compute the hash.
//   - Buffers. The engine owns every buffer it reads into. A buffer is reused
//     only after every destination write and the hasher are done with it.
//     Nothing the caller passes in is retained after Copy returns.
//   - Short transfers. A short read or short write is continued for the
//     remainder; EINTR and EAGAIN are retried; any other error is an error.
//     A read that returns 0 before Job's expected size means the source
//     shrank: ErrSourceChanged.
//   - Atomic destinations. Data goes to a temp file (TempName) in the
//     destination's directory, created and committed through atomicfile.PendingFile.
//     Only a complete, synced copy is renamed onto the final name (unless
//     Job.NoFsync, the order is write, fdatasync (or Job.SyncData's hook
//     in its place), rename, fsync of the directory). On any failure the
//     temp file is removed and the final name is untouched. With Job.Hold
//     the engine stops before the rename and hands each complete temp
//     file over.
//   - Beneath the root. With Job.Roots, nothing is reached through a
//     symlink below a destination root (see atomicfile.Dir): such a destination fails
//     with an error wrapping ErrSymlink, and nothing outside the root is
//     written, renamed, chmodded or removed.
//   - Isolation. An error on one destination (ENOSPC, EIO, EROFS, ...) fails
//     that destination only; it is recorded in its DestResult, its temp file
//     is removed, and the copy to the others runs to the end. An error reading
//     the source fails the file on every destination: Copy returns an error
//     wrapping it, and no final file is created or replaced.
//   - Cancellation. When ctx is done, Copy stops within a short time, removes
//     all temp files, and returns an error that wraps ctx.Err().
//   - Concurrency. Copy and Hash may be called concurrently from several
//     goroutines, each call for different files; an Engine is safe for that.
//     Close must be called only after all calls have returned.
//
// Copy returns a non-nil *Result whenever it returns a nil error; the result
// may still report failed destinations (see Result.Failed).
type Engine interface {
	// Name is "uring" or "fallback".
	Name() string
	// Copy copies job.Source to every job.Dests path.
	Copy(ctx context.Context, job Job) (*Result, error)
	// Hash reads path once, from the media rather than the page cache where
	// the platform allows it (O_DIRECT, or a flush of cached pages first), and
	// returns its digest and size. It is what verification uses.
	Hash(ctx context.Context, path string, alg hashing.Algorithm) (HashResult, error)
	// Close releases the engine's resources (rings, buffers).
	Close() error
}

// ProgressHasher is an Engine whose Hash can report how far it got: a
// verification of a large file shows its progress and an ETA. Both engines
// implement it.
type ProgressHasher interface {
	// HashProgress is Hash that calls progress, if not nil, with the
	// number of bytes read and hashed since the previous call. It is
	// called from the engine's goroutine and must return quickly.
	HashProgress(ctx context.Context, path string, alg hashing.Algorithm, progress func(n int64)) (HashResult, error)
}

// Job describes the copy of one source file.
type Job struct {
	// Source is the path of the regular file to read.
	Source string
	// Dests are the final destination file paths; at least one, all distinct.
	// Their parent directories must exist.
	Dests []string
	// Roots, if set, has one entry per Dests: the open destination root
	// (OpenRoot) that Dests[i] lies below. The engine then reaches the
	// directory of Dests[i] from the root's descriptor, with no symlink
	// followed and nothing above the root resolved, and creates, renames,
	// chmods and fsyncs there relative to that directory (see atomicfile.Dir and
	// atomicfile.PendingFile): a symlink in the destination makes that destination
	// fail with an error wrapping ErrSymlink and is never written through.
	// Without Roots the directory of each Dests[i] is opened by its path.
	// The caller keeps the roots open until Copy returns; they may be
	// shared by concurrent jobs.
	Roots []*atomicfile.Dir
	// Hash is the algorithm for the in-flight source hash.
	Hash hashing.Algorithm
	// NoFsync skips fdatasync of the data and fsync of the directory.
	NoFsync bool
	// DeferDirSync leaves the fsync of each destination's directory to the
	// caller, who must call atomicfile.SyncDir on it before it reports the copy
	// durable. The data is still synced (fdatasync, or SyncData) before
	// the rename, so a crash can lose the new name, never leave wrong
	// bytes under it. A tree copy uses it to fsync each directory once
	// instead of once per file.
	DeferDirSync bool
	// SyncData, if set, has one entry per Dests: a non-nil SyncData[i]
	// makes destination i's data (and attributes) durable in place of the
	// fdatasync (fsync) of its temp file. The engine calls it after the
	// temp file's last write and attributes, where it would sync, and
	// renames (or holds) the file only once it has returned nil; an error
	// fails that destination as a failed fdatasync would. It is how a tree
	// copy shares one syncfs among the files of a destination (a group
	// commit) where the filesystem is trusted for it. Ignored with
	// NoFsync; it may be called from several goroutines at once.
	SyncData []func() error
	// NoPreserve skips copying the source's mode, modification time,
	// owner and extended attributes.
	NoPreserve bool
	// NoXattrs skips copying the source's extended attributes and ACLs.
	NoXattrs bool
	// Hold leaves every complete copy under its temp name: the engine
	// applies the attributes, fdatasyncs (unless NoFsync) and closes each
	// live destination's temp file (Finish) but does not rename it, and
	// names it in DestResult.Temp. The caller then owns it: it verifies it
	// and renames it into place (Place), or removes it. The CLI uses it so
	// that only a verified copy ever gets its final name.
	Hold bool
	// Write, if set, has one entry per Dests: how the engine writes that
	// destination's data (see WritePath). Without it, or for WriteAuto,
	// the engine takes its default. It never changes the durability
	// order: every path ends with the data synced before the rename.
	Write []WritePath
	// Progress, if set, is called with the number of source bytes that were
	// read and handed to the destinations since the previous call. It is
	// called from the engine's goroutine and must return quickly.
	Progress func(n int64)
	// ReadBack asks for the verification behind the copy (full mode):
	// once a stretch of the file is on a destination's media, the engine
	// reads it back from there with O_DIRECT (never through the page
	// cache) and hashes it, and reads the source's stretch again the same
	// way, while later stretches are still being copied. The source is
	// thus read twice, no more. Result.SourceReadBack and each
	// DestResult.ReadBack give the digests of the bytes read back; they
	// are nil where the engine did not read that file back from its media
	// (no O_DIRECT there, a sparse source, a portable engine): the caller
	// verifies those itself. A read-back error fails that verification,
	// not the copy. ReadBackProgress, if set, is called as Progress is
	// with the bytes read back.
	ReadBack         bool
	ReadBackProgress func(n int64)
}

// Root returns the root of destination i, nil without Roots.
func (j *Job) Root(i int) *atomicfile.Dir {
	if j.Roots == nil {
		return nil
	}
	return j.Roots[i]
}

// SyncFile returns what replaces the fdatasync (fsync) of destination i's
// temp file (atomicfile.PendingFile.SyncFile), nil for the engine's own
// sync: Job.SyncData[i], if any.
func (j *Job) SyncFile(i int) func(f *os.File, full bool) error {
	if i >= len(j.SyncData) || j.SyncData[i] == nil {
		return nil
	}
	sync := j.SyncData[i]
	return func(*os.File, bool) error { return sync() }
}

// WritePath returns how destination i is to be written (WriteAuto without
// Job.Write).
func (j *Job) WritePath(i int) WritePath {
	if i >= len(j.Write) {
		return WriteAuto
	}
	return j.Write[i]
}

// Validate reports whether the job is well formed.
func (j *Job) Validate() error {
	if j.Source == "" {
		return fmt.Errorf("%w: no source", ErrInvalidJob)
	}
	if len(j.Dests) == 0 {
		return fmt.Errorf("%w: no destination", ErrInvalidJob)
	}
	if j.Roots != nil && len(j.Roots) != len(j.Dests) {
		return fmt.Errorf("%w: %d roots for %d destinations", ErrInvalidJob, len(j.Roots), len(j.Dests))
	}
	if j.SyncData != nil && len(j.SyncData) != len(j.Dests) {
		return fmt.Errorf("%w: %d data syncs for %d destinations", ErrInvalidJob, len(j.SyncData), len(j.Dests))
	}
	if j.Write != nil && len(j.Write) != len(j.Dests) {
		return fmt.Errorf("%w: %d write paths for %d destinations", ErrInvalidJob, len(j.Write), len(j.Dests))
	}
	seen := make(map[string]bool, len(j.Dests))
	for _, d := range j.Dests {
		if d == "" {
			return fmt.Errorf("%w: empty destination path", ErrInvalidJob)
		}
		if seen[d] {
			return fmt.Errorf("%w: destination %q given twice", ErrInvalidJob, d)
		}
		if d == j.Source {
			return fmt.Errorf("%w: destination %q is the source", ErrInvalidJob, d)
		}
		seen[d] = true
	}
	return nil
}

// SyncMode returns what Commit must sync for this job.
func (j *Job) SyncMode() atomicfile.Sync {
	switch {
	case j.NoFsync:
		return atomicfile.SyncNone
	case j.DeferDirSync:
		return atomicfile.SyncData
	}
	return atomicfile.SyncFull
}

// Options tune an engine. The zero value selects the defaults.
type Options struct {
	// BlockSize is the size of one read; rounded up to the I/O alignment.
	BlockSize int
	// QueueDepth is the number of blocks in flight per file.
	QueueDepth int
}

// Default tuning, chosen by the sweep documented in the README.
const (
	DefaultBlockSize  = 1 << 20
	DefaultQueueDepth = 8
)

// WithDefaults returns o with zero fields replaced by the defaults.
func (o Options) WithDefaults() Options {
	if o.BlockSize <= 0 {
		o.BlockSize = DefaultBlockSize
	}
	if o.QueueDepth <= 0 {
		o.QueueDepth = DefaultQueueDepth
	}
	return o
}

// Result is the outcome of one Copy.
type Result struct {
	// Source is Job.Source.
	Source string
	// Size is the number of bytes read from the source.
	Size int64
	// SourceHash is the hex digest of the bytes as read.
	SourceHash string
	// ModTime is the source's modification time when it was opened.
	ModTime time.Time
	// Dests has one entry per Job.Dests, in the same order.
	Dests []DestResult
	// Engine is the engine that did the work ("uring" or "fallback").
	Engine string
	// Stats counts what the engine did; tests use it to prove the fast path
	// was really taken.
	Stats Stats
	// Elapsed is the wall time of the copy, syncs included.
	Elapsed time.Duration
	// SourceReadBack is the second read of the source behind the copy
	// (Job.ReadBack); nil when the source was not read back.
	SourceReadBack *ReadBack
}

// ReadBack is what a read-back behind the copy (Job.ReadBack) found in one
// file: the digest and size of the bytes read back from its media, or the
// error that stopped the reads.
type ReadBack struct {
	// Hash is the hex digest of the bytes read back, in the job's
	// algorithm; Size the number of bytes it covers.
	Hash string
	Size int64
	// Err, if not nil, is why the file could not be read back whole
	// (EIO, a file shorter than what was written): Hash and Size are then
	// not a digest of the file.
	Err error
}

// Failed reports whether any destination failed.
func (r *Result) Failed() bool {
	for _, d := range r.Dests {
		if d.Err != nil {
			return true
		}
	}
	return false
}

// Stats counts the operations of one Copy.
type Stats struct {
	// Reads and Writes count completed read and write operations.
	Reads, Writes int64
	// FixedReads and FixedWrites count the io_uring READ_FIXED and
	// WRITE_FIXED completions among them (registered buffers).
	FixedReads, FixedWrites int64
	// Submits counts io_uring submissions (batches).
	Submits int64
	// ReadBacks counts the completed reads behind the copy
	// (Job.ReadBack), of the destinations and the source.
	ReadBacks int64
	// DirectSource reports that the source was read with O_DIRECT.
	DirectSource bool
}

// DestResult is the outcome for one destination.
type DestResult struct {
	// Path is the final path.
	Path string
	// Bytes is the number of bytes written to it.
	Bytes int64
	// Err is nil when the destination holds a complete copy under Path
	// (or under Temp, with Job.Hold).
	Err error
	// Temp is the complete, synced temp file left for the caller with
	// Job.Hold ("" without Hold or when Err is set).
	Temp string
	// Direct reports that the destination was written with O_DIRECT.
	Direct bool
	// Mode says how the data was written: "direct" (O_DIRECT through the
	// ring), "buffered" (the page cache through the ring), "pwrite" (the
	// portable engine).
	Mode string
	// Note explains a refused fast path ("O_DIRECT refused by filesystem:
	// invalid argument"), empty otherwise.
	Note string
	// Unkept, when Err is nil, wraps ErrNoXattrs if the destination's
	// filesystem could not hold the source's extended attributes: the
	// copy is complete without them.
	Unkept error
	// ReadBack, when Err is nil, is what was read back from the copy's
	// media behind the copy (Job.ReadBack); nil when it was not read back.
	ReadBack *ReadBack
}

// HashResult is the outcome of Engine.Hash.
type HashResult struct {
	Path string
	Size int64
	Hash string
	// Direct reports that the file was read with O_DIRECT.
	Direct bool
}

// WritePath is how an engine writes a destination's data. Reads of the
// source are O_DIRECT either way where the filesystem allows.
type WritePath int

// The write paths.
const (
	// WriteAuto leaves the choice to the engine: O_DIRECT where the
	// filesystem takes it (the io_uring engine), the page cache otherwise.
	WriteAuto WritePath = iota
	// WriteDirect writes with O_DIRECT, straight from the engine's
	// buffers: no copy through the page cache, no memory left dirty. Best
	// for a destination on a device of its own.
	WriteDirect
	// WriteBuffered writes through the page cache. The engine starts the
	// writeback of each written stretch behind the copy (sync_file_range)
	// and drops the pages once they are on the media, so dirty memory
	// stays bounded; the data is still fdatasynced before the rename. On
	// a device shared with the source or another destination the kernel's
	// writeback then sends large writes in between the reads, where
	// O_DIRECT writes would alternate with them block by block.
	WriteBuffered
)

// String returns the flag spelling of p.
func (p WritePath) String() string {
	switch p {
	case WriteAuto:
		return "auto"
	case WriteDirect:
		return "direct"
	case WriteBuffered:
		return "buffered"
	}
	return fmt.Sprintf("WritePath(%d)", int(p))
}
