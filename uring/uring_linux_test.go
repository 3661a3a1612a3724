package uring_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/enginetest"
	"github.com/cvv-project/cvv/hashing"
	"github.com/cvv-project/cvv/uring"
)

// newEngine returns an engine closed at the end of the test; the test is
// skipped if the kernel has no io_uring.
func newEngine(t testing.TB, opts cvv.Options) *uring.Engine {
	t.Helper()
	e, err := uring.New(opts)
	if errors.Is(err, cvv.ErrNotHandled) {
		t.Skipf("io_uring unavailable: %v", err)
	}
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return e
}

func TestConformance(t *testing.T) {
	enginetest.Run(t, func(t *testing.T, opts cvv.Options) cvv.Engine {
		e, err := uring.New(opts)
		if errors.Is(err, cvv.ErrNotHandled) {
			t.Skipf("io_uring unavailable: %v", err)
		}
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		return e
	})
}

func TestName(t *testing.T) {
	if got := newEngine(t, cvv.Options{}).Name(); got != "uring" {
		t.Errorf("Name() = %q", got)
	}
}

// TestFastPath proves the copy went through registered buffers and
// O_DIRECT: a silent fallback to plain reads or buffered I/O fails it.
func TestFastPath(t *testing.T) {
	const block = 64 << 10
	e := newEngine(t, cvv.Options{BlockSize: block, QueueDepth: 4})
	if b := e.Buffers(); !b.Registered {
		t.Fatalf("buffers not registered: %s", b.Reason)
	}
	data := enginetest.Data(10*block+123, 1)
	src := enginetest.WriteFile(t, t.TempDir(), "src", data)
	dests := enginetest.DestPaths(t, 3, "copy")
	res, err := e.Copy(context.Background(), cvv.Job{Source: src, Dests: dests, Hash: hashing.XXH3})
	if err != nil {
		t.Fatal(err)
	}
	st := res.Stats
	t.Logf("stats %+v", st)
	if !st.DirectSource {
		t.Errorf("DirectSource = false on %s", src)
	}
	if st.Reads != 11 || st.FixedReads != st.Reads {
		t.Errorf("Reads %d FixedReads %d, want 11 fixed reads", st.Reads, st.FixedReads)
	}
	if st.Writes != 3*st.Reads || st.FixedWrites != st.Writes {
		t.Errorf("Writes %d FixedWrites %d, want %d fixed writes (3 per read)", st.Writes, st.FixedWrites, 3*st.Reads)
	}
	if st.Submits == 0 || st.Submits >= st.Reads+st.Writes {
		t.Errorf("Submits %d for %d operations: not batched", st.Submits, st.Reads+st.Writes)
	}
	for i, d := range res.Dests {
		if d.Err != nil || !d.Direct || d.Mode != "direct" || d.Bytes != int64(len(data)) {
			t.Errorf("dest %d: %+v, want a direct write of %d bytes", i, d, len(data))
		}
		enginetest.AssertSame(t, dests[i], data)
	}
	if res.SourceHash != hashing.XXH3.Sum(data) {
		t.Errorf("SourceHash %s", res.SourceHash)
	}
	hr, err := e.Hash(context.Background(), dests[0], hashing.XXH3)
	if err != nil || !hr.Direct || hr.Hash != res.SourceHash || hr.Size != int64(len(data)) {
		t.Errorf("Hash = %+v, %v; want a direct read with hash %s", hr, err, res.SourceHash)
	}
	if b := e.Buffers(); b.Free != b.Count {
		t.Errorf("%d of %d buffers back in the pool after the copy", b.Free, b.Count)
	}
}

func readFile(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var _ = bytes.Equal
var _ = filepath.Join
