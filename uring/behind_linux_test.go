package uring_test

import (
	"context"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/enginetest"
	"github.com/cvv-project/cvv/hashing"
	"github.com/cvv-project/cvv/uring"
)

// TestWriteBehind copies a file several write-behind stretches long to a
// page-cache destination and an O_DIRECT one: the page-cache copy has its
// writeback started stretch by stretch, the oldest stretches waited for and
// dropped from the cache while the copy runs, and is intact; the O_DIRECT
// copy gets none of it.
func TestWriteBehind(t *testing.T) {
	e := newEngine(t, cvv.Options{})
	size := uring.WriteBehindLag + 3*uring.WriteBehindWindow + 12345
	data := enginetest.Data(size, 7)
	dir := t.TempDir()
	src := enginetest.WriteFile(t, dir, "src", data)
	dests := enginetest.DestPaths(t, 2, "copy")

	var mu sync.Mutex
	var starts, waits, drops int
	var startedBytes int64
	restore := uring.SetSyncFileRange(func(fd int, off, n int64, flags int) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case flags == -1-unix.FADV_DONTNEED:
			drops++
		case flags&unix.SYNC_FILE_RANGE_WAIT_AFTER != 0:
			waits++
		case flags == unix.SYNC_FILE_RANGE_WRITE:
			starts++
			startedBytes += n
		}
	})
	defer restore()
	res, err := e.Copy(context.Background(), cvv.Job{
		Source: src, Dests: dests, Hash: hashing.XXH3,
		Write: []cvv.WritePath{cvv.WriteBuffered, cvv.WriteDirect},
	})
	if err != nil || res.Failed() {
		t.Fatalf("Copy: %v %+v", err, res)
	}
	if m := res.Dests[0].Mode; m != "buffered" {
		t.Errorf("page-cache destination written %q", m)
	}
	if m := res.Dests[1].Mode; m != "direct" {
		t.Errorf("O_DIRECT destination written %q", m)
	}
	for _, d := range dests {
		enginetest.AssertSame(t, d, data)
	}
	enginetest.AssertNoTemps(t, dests...)
	mu.Lock()
	defer mu.Unlock()
	// Only the page-cache destination has a write-behind; it starts about
	// every full stretch (a late completion may join the next one) and
	// waits for all but the last lag's worth.
	if full := size / uring.WriteBehindWindow; starts < full/2 || startedBytes < int64(size/2) {
		t.Errorf("%d writebacks started over %d bytes, want about %d stretches covering most of %d bytes", starts, startedBytes, full, size)
	}
	if waits == 0 || drops != waits {
		t.Errorf("%d waits and %d drops behind the copy, want as many, at least one", waits, drops)
	}
}
