package faults

import (
	"errors"
	"testing"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/fallback"
	"github.com/cvv-project/cvv/uring"
)

// engineCase opens one engine for a test.
type engineCase struct {
	name string
	open func(t *testing.T) cvv.Engine
}

// engineOptions are small blocks so that a few MiB make many blocks.
var engineOptions = cvv.Options{BlockSize: 256 << 10, QueueDepth: 4}

// engines lists the engines the engine-level faults run against.
func engines() []engineCase {
	return []engineCase{
		{"fallback", func(t *testing.T) cvv.Engine {
			e := fallback.New(engineOptions)
			closeAtCleanup(t, e)
			return e
		}},
		{"uring", func(t *testing.T) cvv.Engine {
			e, err := uring.New(engineOptions)
			if errors.Is(err, cvv.ErrNotHandled) {
				t.Skipf("io_uring unavailable: %v", err)
			}
			if err != nil {
				t.Fatal(err)
			}
			closeAtCleanup(t, e)
			return e
		}},
	}
}

func closeAtCleanup(t *testing.T, e cvv.Engine) {
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Error(err)
		}
	})
}

// forEachEngine runs f as a subtest for every engine.
func forEachEngine(t *testing.T, f func(t *testing.T, eng cvv.Engine)) {
	for _, ec := range engines() {
		t.Run(ec.name, func(t *testing.T) { f(t, ec.open(t)) })
	}
}
