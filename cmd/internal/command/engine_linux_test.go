package command

import (
	"testing"

	"github.com/cvv-project/cvv"
)

// TestOpenAutoEngine: auto takes the portable engine with 256 KiB blocks
// where the source and destinations are in memory, and says why; a block
// size given, an engine asked for by name or by CVV_ENGINE, or a run not
// in memory, keep what was asked.
func TestOpenAutoEngine(t *testing.T) {
	t.Setenv("CVV_ENGINE", "")
	opts := cvv.Options{BlockSize: 1 << 20, QueueDepth: 8}
	cases := []struct {
		name             string
		kind             EngineKind
		env              string
		blockSet, memory bool
		engine           string
		block            int
		why              bool
	}{
		{"auto in memory", EngineAuto, "", false, true, "fallback", memoryBlockSize, true},
		{"auto in memory, --block-size", EngineAuto, "", true, true, "fallback", 1 << 20, true},
		{"auto on storage", EngineAuto, "", false, false, "uring", 1 << 20, false},
		{"uring in memory", EngineUring, "", false, true, "uring", 1 << 20, false},
		{"fallback in memory", EngineFallback, "", false, true, "fallback", 1 << 20, false},
		{"CVV_ENGINE in memory", EngineAuto, "uring", false, true, "uring", 1 << 20, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("CVV_ENGINE", c.env)
			got, err := openAutoEngine(c.kind, opts, c.blockSet, c.memory)
			if err != nil {
				if c.engine == "uring" {
					t.Skipf("io_uring: %v", err)
				}
				t.Fatal(err)
			}
			defer got.Close()
			if got.Name() != c.engine && !(c.engine == "uring" && got.Warning != "") {
				t.Errorf("engine %s, want %s", got.Name(), c.engine)
			}
			if got.Opts.BlockSize != c.block {
				t.Errorf("block size %d, want %d", got.Opts.BlockSize, c.block)
			}
			if (got.Why != "") != c.why {
				t.Errorf("why %q, want one: %v", got.Why, c.why)
			}
		})
	}
}
