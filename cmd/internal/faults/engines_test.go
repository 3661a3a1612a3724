package faults

import (
	"testing"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/fallback"
)

// engineCase opens one engine for a test.
type engineCase struct {
	name string
	open func(t *testing.T) cvv.Engine
}

// engines lists the engines the engine-level faults run against.
func engines() []engineCase {
	return []engineCase{
		{"fallback", func(t *testing.T) cvv.Engine {
			e := fallback.New(cvv.Options{BlockSize: 256 << 10, QueueDepth: 4})
			t.Cleanup(func() {
				if err := e.Close(); err != nil {
					t.Error(err)
				}
			})
			return e
		}},
	}
}

// forEachEngine runs f as a subtest for every engine.
func forEachEngine(t *testing.T, f func(t *testing.T, eng cvv.Engine)) {
	for _, ec := range engines() {
		t.Run(ec.name, func(t *testing.T) { f(t, ec.open(t)) })
	}
}
