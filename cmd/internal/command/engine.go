package command

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/fallback"
	"github.com/cvv-project/cvv/hashing"
	"github.com/cvv-project/cvv/uring"
)

// openEngine returns the engine kind asks for. With EngineAuto it takes the
// io_uring engine when the kernel offers io_uring and the portable engine
// otherwise; note then says why the fast path was refused. The environment
// variable CVV_ENGINE, when set, replaces auto (make test-fallback uses it).
func openEngine(kind cvv.EngineKind, opts cvv.Options) (eng cvv.Engine, note string, err error) {
	if kind == cvv.EngineAuto {
		if env := os.Getenv("CVV_ENGINE"); env != "" {
			if kind, err = cvv.ParseEngineKind(env); err != nil {
				return nil, "", fmt.Errorf("CVV_ENGINE: %w", err)
			}
		}
	}
	switch kind {
	case cvv.EngineFallback:
		return fallback.New(opts), "", nil
	case cvv.EngineUring:
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

// hashWithProgress hashes path with eng, reporting the bytes hashed to
// progress (if not nil) when the engine can (cvv.ProgressHasher).
func hashWithProgress(ctx context.Context, eng cvv.Engine, path string, alg hashing.Algorithm, progress func(int64)) (cvv.HashResult, error) {
	if ph, ok := eng.(cvv.ProgressHasher); ok && progress != nil {
		return ph.HashProgress(ctx, path, alg, func(n int64) {
			progress(n)
			testVerifyThrottle()
		})
	}
	return eng.Hash(ctx, path, alg)
}
