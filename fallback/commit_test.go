package fallback

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/hashing"
	"github.com/cvv-project/cvv/internal/atomicfile"
)

// TestCancelDuringCommit cancels the copy once the first destination has
// been renamed into place. The copy must not then report a failure (the
// file is there, complete) and must commit every destination: the commits
// run to their end, in parallel, as the io_uring engine's do.
func TestCancelDuringCommit(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	data := bytes.Repeat([]byte("cvv"), 100_000)
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	dests := []string{filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "c")}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var renamed []string
	old := complete
	complete = func(job *cvv.Job, pf *atomicfile.PendingFile, attrs *atomicfile.SourceAttrs) (string, error) {
		if pf.Final() != dests[0] {
			// The others wait until the first is in place and the
			// copy is cancelled.
			time.Sleep(50 * time.Millisecond)
		}
		held, err := old(job, pf, attrs)
		mu.Lock()
		defer mu.Unlock()
		renamed = append(renamed, pf.Final())
		if pf.Final() == dests[0] {
			cancel()
		}
		return held, err
	}
	t.Cleanup(func() { complete = old })

	res, err := New(cvv.Options{}).Copy(ctx, cvv.Job{Source: src, Dests: dests, Hash: hashing.XXH3})
	if err != nil {
		t.Fatalf("Copy = %v after %q was renamed into place, want no error", err, renamed)
	}
	for i, d := range dests {
		if res.Dests[i].Err != nil {
			t.Errorf("%s: %v", d, res.Dests[i].Err)
		}
		if b, err := os.ReadFile(d); err != nil || !bytes.Equal(b, data) {
			t.Errorf("%s: %d bytes, %v; want the source's %d", d, len(b), err, len(data))
		}
	}
}

// TestWriteBehind: a copy that ends in a sync starts the write-back of
// each block as it is written but the last (the sync follows it at
// once): none for a file of one block, three for one of three blocks and
// a half; none at all without a sync.
func TestWriteBehind(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	var ranges [][2]int64
	old := startWriteback
	startWriteback = func(f *os.File, off, n int64) {
		mu.Lock()
		ranges = append(ranges, [2]int64{off, n})
		mu.Unlock()
		old(f, off, n)
	}
	t.Cleanup(func() { startWriteback = old })
	const bs = 64 << 10
	for _, c := range []struct {
		size    int
		noFsync bool
		want    int
	}{{100, false, 0}, {bs, false, 0}, {3*bs + bs/2, false, 3}, {3*bs + bs/2, true, 0}} {
		src := filepath.Join(dir, "src")
		data := bytes.Repeat([]byte("w"), c.size)
		if err := os.WriteFile(src, data, 0o644); err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, "dst")
		os.Remove(dst)
		ranges = nil
		res, err := New(cvv.Options{BlockSize: bs}).Copy(context.Background(), cvv.Job{Source: src, Dests: []string{dst}, Hash: hashing.XXH3, NoFsync: c.noFsync})
		if err != nil || res.Dests[0].Err != nil {
			t.Fatalf("size %d: %v, %v", c.size, err, res.Dests[0].Err)
		}
		if len(ranges) != c.want {
			t.Errorf("size %d, no fsync %v: write-back started for %v, want %d blocks", c.size, c.noFsync, ranges, c.want)
		}
		for k, r := range ranges {
			if r != [2]int64{int64(k) * bs, bs} {
				t.Errorf("size %d: write-back %d of %v, want block %d", c.size, k, r, k)
			}
		}
		if b, err := os.ReadFile(dst); err != nil || !bytes.Equal(b, data) {
			t.Errorf("size %d: copy %d bytes, %v", c.size, len(b), err)
		}
	}
}
