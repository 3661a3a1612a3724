//go:build !linux

package uring

import (
	"context"
	"errors"
	"fmt"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/hashing"
)

var _ cvv.Engine = (*Engine)(nil)

// errNoUring is what every entry point returns off Linux.
var errNoUring = fmt.Errorf("%w: io_uring exists only on Linux: %w", cvv.ErrNotHandled, errors.ErrUnsupported)

// Engine is the io_uring engine. Off Linux it cannot be created: New always
// fails, so no value of it is ever usable.
type Engine struct{}

// New reports that io_uring is unavailable: the error wraps both
// cvv.ErrNotHandled and errors.ErrUnsupported.
func New(opts cvv.Options) (*Engine, error) { return nil, errNoUring }

// Name returns "uring".
func (e *Engine) Name() string { return "uring" }

// Copy fails: there is no io_uring off Linux.
func (e *Engine) Copy(ctx context.Context, job cvv.Job) (*cvv.Result, error) {
	return nil, errNoUring
}

// Hash fails: there is no io_uring off Linux.
func (e *Engine) Hash(ctx context.Context, path string, alg hashing.Algorithm) (cvv.HashResult, error) {
	return cvv.HashResult{}, errNoUring
}

// HashProgress fails: io_uring is Linux only.
func (e *Engine) HashProgress(ctx context.Context, path string, alg hashing.Algorithm, progress func(int64)) (cvv.HashResult, error) {
	return cvv.HashResult{}, errNoUring
}

// Buffers describes no arena.
func (e *Engine) Buffers() BufferInfo { return BufferInfo{Reason: errNoUring.Error()} }

// Close does nothing.
func (e *Engine) Close() error { return nil }
