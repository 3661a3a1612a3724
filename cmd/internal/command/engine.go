package command

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/cmd/internal/copier"
	"github.com/cvv-project/cvv/cmd/internal/plan"
	"github.com/cvv-project/cvv/cmd/internal/usage"
	"github.com/cvv-project/cvv/fallback"
	"github.com/cvv-project/cvv/internal/atomicfile"
	"github.com/cvv-project/cvv/uring"
)

// openEngine returns the engine kind asks for. With EngineAuto it takes the
// io_uring engine when the kernel offers io_uring and the portable engine
// otherwise; note then says why the fast path was refused. The environment
// variable CVV_ENGINE, when set, replaces auto (make test-fallback uses it).
func openEngine(kind EngineKind, opts cvv.Options) (eng cvv.Engine, note string, err error) {
	if kind == EngineAuto {
		if env := os.Getenv("CVV_ENGINE"); env != "" {
			if kind, err = ParseEngineKind(env); err != nil {
				return nil, "", fmt.Errorf("CVV_ENGINE: %w", err)
			}
		}
	}
	switch kind {
	case EngineFallback:
		return fallback.New(opts), "", nil
	case EngineUring:
		e, err := uring.New(opts)
		if err != nil {
			return nil, "", fmt.Errorf("io_uring engine: %w", err)
		}
		return e, "", nil
	default:
		e, err := uring.New(opts)
		if err == nil {
			return e, "", nil
		}
		if !errors.Is(err, cvv.ErrNotHandled) {
			return nil, "", fmt.Errorf("io_uring engine: %w", err)
		}
		return fallback.New(opts), "io_uring unavailable (" + err.Error() + "), using the portable engine", nil
	}
}

// memoryBlockSize is the block size of the portable engine where --engine
// auto takes it because the source and every destination are in memory.
// Measured on tmpfs (2 GiB file, 10k-file tree, 300 frames of 8 MiB; to 1
// and 3 destinations; best of 4-5 runs), 256 KiB blocks beat 1 MiB in
// every cell (0.58 s against 0.79 for the file to 1 destination, 3.45
// against 5.33 for the tree to 3), and 128 KiB did no better: a block
// that stays in the CPU's cache between the read, the hash and the writes
// saves a trip to memory for each.
const memoryBlockSize = 256 << 10

// openAutoEngine opens the engine of a copy, a hash or a verification.
// Where every path it reads and writes is held in memory (tmpfs), auto
// takes the portable engine, with memoryBlockSize blocks unless blockSet
// (--block-size was given): there is no device to overlap, io_uring hands
// every read of the page cache to its worker threads, and the portable
// engine was measured faster there in five cells of six of the benchmark
// matrix with 1 MiB blocks, and in all six with 256 KiB. cvv hash of the
// 10k-file tree on tmpfs took 0.51-0.55 s with it against 1.24-1.36 with
// io_uring.
func openAutoEngine(kind EngineKind, opts cvv.Options, blockSet, inMemory bool) (copier.OpenedEngine, error) {
	if kind == EngineAuto && inMemory && os.Getenv("CVV_ENGINE") == "" {
		if !blockSet {
			opts.BlockSize = memoryBlockSize
		}
		return copier.OpenedEngine{Engine: fallback.New(opts), Opts: opts,
			Why: "source and destinations in memory (tmpfs): the portable engine, faster there than io_uring"}, nil
	}
	eng, note, err := openEngine(kind, opts)
	if err != nil {
		return copier.OpenedEngine{}, err
	}
	return copier.OpenedEngine{Engine: eng, Opts: opts, Warning: note}, nil
}

// EngineKind selects an engine: auto, uring or fallback.
type EngineKind int

// The engine kinds.
const (
	EngineAuto EngineKind = iota
	EngineUring
	EngineFallback
)

// String returns the flag spelling of k.
func (k EngineKind) String() string {
	switch k {
	case EngineAuto:
		return "auto"
	case EngineUring:
		return "uring"
	case EngineFallback:
		return "fallback"
	}
	return fmt.Sprintf("EngineKind(%d)", int(k))
}

// ParseEngineKind parses "auto", "uring" or "fallback".
func ParseEngineKind(s string) (EngineKind, error) {
	switch strings.ToLower(s) {
	case "auto", "":
		return EngineAuto, nil
	case "uring", "io_uring":
		return EngineUring, nil
	case "fallback", "portable":
		return EngineFallback, nil
	}
	return 0, usage.Errorf("unknown engine %q (want auto, uring or fallback)", s)
}

// parseWritePath parses "auto", "direct" or "buffered".
func parseWritePath(s string) (cvv.WritePath, error) {
	switch strings.ToLower(s) {
	case "auto", "":
		return cvv.WriteAuto, nil
	case "direct":
		return cvv.WriteDirect, nil
	case "buffered":
		return cvv.WriteBuffered, nil
	}
	return 0, usage.Errorf("unknown write path %q (want auto, direct or buffered)", s)
}

// Seams for tests (copier.Seams); production code never changes them.
var (
	// engineCopy runs one copy through the engine.
	engineCopy = func(ctx context.Context, e cvv.Engine, job cvv.Job) (*cvv.Result, error) {
		return e.Copy(ctx, job)
	}
	// syncDir fsyncs a destination directory.
	syncDir = (*atomicfile.Dir).Sync
	// syncFS syncs a destination's filesystem (names of a tree copy,
	// where the filesystem is trusted for it).
	syncFS = (*atomicfile.Dir).SyncFS
	// detectFS classifies a destination's filesystem.
	detectFS = plan.DetectFS
)
