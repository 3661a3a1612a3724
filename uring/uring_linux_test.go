package uring_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"sync"
	"testing"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/enginetest"
	"github.com/cvv-project/cvv/fallback"
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
	newEngine := func(t *testing.T, opts cvv.Options) cvv.Engine {
		e, err := uring.New(opts)
		if errors.Is(err, cvv.ErrNotHandled) {
			t.Skipf("io_uring unavailable: %v", err)
		}
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		return e
	}
	enginetest.Run(t, newEngine)
	// Each write path the CLI chooses between meets the contract alone.
	for _, p := range []cvv.WritePath{cvv.WriteDirect, cvv.WriteBuffered} {
		t.Run(p.String(), func(t *testing.T) {
			enginetest.Run(t, func(t *testing.T, opts cvv.Options) cvv.Engine {
				return enginetest.WithWrite(t, newEngine(t, opts), p)
			})
		})
	}
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

// TestPreallocation: a copy written through the page cache in one write
// (a file of one block or less) is not preallocated; a longer one, and any
// copy that may be written with O_DIRECT, is.
func TestPreallocation(t *testing.T) {
	const block = 64 << 10
	e := newEngine(t, cvv.Options{BlockSize: block, QueueDepth: 4})
	for _, tc := range []struct {
		size      int
		path      cvv.WritePath
		preallocs int64
	}{
		{4096, cvv.WriteBuffered, 0},
		{block, cvv.WriteBuffered, 0},
		{block + 1, cvv.WriteBuffered, 1},
		{4096, cvv.WriteDirect, 1},
		{4096, cvv.WriteAuto, 1},
	} {
		data := enginetest.Data(tc.size, 5)
		src := enginetest.WriteFile(t, t.TempDir(), "src", data)
		dests := enginetest.DestPaths(t, 1, "copy")
		before := uring.Preallocations()
		res, err := e.Copy(context.Background(), cvv.Job{Source: src, Dests: dests, Hash: hashing.XXH3,
			Write: []cvv.WritePath{tc.path}})
		if err != nil || res.Failed() {
			t.Fatalf("%d bytes %v: Copy: %v %+v", tc.size, tc.path, err, res)
		}
		if got := uring.Preallocations() - before; got != tc.preallocs {
			t.Errorf("%d bytes %v: %d preallocations, want %d", tc.size, tc.path, got, tc.preallocs)
		}
		enginetest.AssertSame(t, dests[0], data)
	}
}

// FuzzCrossCheck copies the same bytes with this engine and the portable
// one: the copies and the hashes must be identical.
func FuzzCrossCheck(f *testing.F) {
	for _, seed := range []struct {
		size   uint32
		block  uint8
		depth  uint8
		ndests uint8
	}{
		{0, 1, 1, 1}, {1, 1, 1, 2}, {4095, 1, 2, 1}, {4097, 1, 3, 3},
		{65536, 16, 2, 2}, {65537, 16, 4, 3}, {300001, 8, 8, 2}, {1 << 20, 64, 3, 1},
	} {
		f.Add(seed.size, seed.block, seed.depth, seed.ndests)
	}
	f.Fuzz(func(t *testing.T, size uint32, block, depth, ndests uint8) {
		size %= 4 << 20
		opts := cvv.Options{BlockSize: (int(block)%64 + 1) * 4096, QueueDepth: int(depth)%16 + 1}
		n := int(ndests)%3 + 1
		data := enginetest.Data(int(size), uint64(size)^uint64(block)<<32)
		src := enginetest.WriteFile(t, t.TempDir(), "src", data)
		e := newEngine(t, opts)
		fb := fallback.New(opts)
		defer fb.Close()
		got := enginetest.DestPaths(t, n, "uring")
		want := enginetest.DestPaths(t, n, "fallback")
		r1, err := e.Copy(context.Background(), cvv.Job{Source: src, Dests: got, Hash: hashing.XXH128})
		if err != nil || r1.Failed() {
			t.Fatalf("uring copy: %v %+v", err, r1)
		}
		r2, err := fb.Copy(context.Background(), cvv.Job{Source: src, Dests: want, Hash: hashing.XXH128})
		if err != nil || r2.Failed() {
			t.Fatalf("fallback copy: %v %+v", err, r2)
		}
		if r1.SourceHash != r2.SourceHash || r1.Size != r2.Size {
			t.Errorf("uring %d bytes %s, fallback %d bytes %s", r1.Size, r1.SourceHash, r2.Size, r2.SourceHash)
		}
		for i := range got {
			a, b := readFile(t, got[i]), readFile(t, want[i])
			if !bytes.Equal(a, b) || !bytes.Equal(a, data) {
				t.Errorf("dest %d: uring %d bytes, fallback %d bytes, source %d bytes: not identical", i, len(a), len(b), len(data))
			}
		}
		h1, err1 := e.Hash(context.Background(), got[0], hashing.XXH128)
		h2, err2 := fb.Hash(context.Background(), want[0], hashing.XXH128)
		if err1 != nil || err2 != nil || h1.Hash != h2.Hash || h1.Size != h2.Size {
			t.Errorf("Hash: uring %+v %v, fallback %+v %v", h1, err1, h2, err2)
		}
	})
}

func readFile(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestConcurrentSharedPool runs more copies and hashes at once than the
// arena has buffers for, on one engine: every copy is identical, every
// buffer is back in the pool afterwards.
func TestConcurrentSharedPool(t *testing.T) {
	const block = 64 << 10
	e := newEngine(t, cvv.Options{BlockSize: block, QueueDepth: 8})
	const files = 6
	type file struct {
		data  []byte
		src   string
		dests []string
	}
	fs := make([]file, files)
	for i := range fs {
		fs[i].data = enginetest.Data(i*7*block+i*1001+1, uint64(i))
		fs[i].src = enginetest.WriteFile(t, t.TempDir(), "src", fs[i].data)
		fs[i].dests = enginetest.DestPaths(t, 1+i%3, "copy")
	}
	var wg sync.WaitGroup
	for _, f := range fs {
		wg.Go(func() {
			res, err := e.Copy(context.Background(), cvv.Job{Source: f.src, Dests: f.dests, NoFsync: true})
			if err != nil || res.Failed() {
				t.Errorf("Copy %s: %v %+v", f.src, err, res)
				return
			}
			for _, d := range f.dests {
				enginetest.AssertSame(t, d, f.data)
			}
		})
		wg.Go(func() {
			hr, err := e.Hash(context.Background(), f.src, hashing.XXH3)
			if err != nil || hr.Hash != hashing.XXH3.Sum(f.data) {
				t.Errorf("Hash %s: %+v %v", f.src, hr, err)
			}
		})
	}
	wg.Wait()
	if b := e.Buffers(); b.Free != b.Count {
		t.Errorf("%d of %d buffers back in the pool", b.Free, b.Count)
	}
}
