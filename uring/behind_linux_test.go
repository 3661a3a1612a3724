package uring_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"unsafe"

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
	var starts, waits, drops, synced int
	var startedBytes int64
	restore := uring.SetSyncFileRange(func(fd int, off, n int64, flags int) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case flags == -1-unix.FADV_DONTNEED && n == 0:
			synced++ // the whole file, once synced (dropAfterSync)
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
	if synced != 1 {
		t.Errorf("the whole file dropped %d times, want once, after its sync", synced)
	}
}

// TestWriteBehindOnlyLong: a page-cache destination gets a write-behind
// only for a file at least a stretch long; a shorter one (every small file
// of a tree) would never start a stretch, and its goroutine would cost a
// start, a wake-up and a stop for nothing. Both copies are intact and read
// back from the media all the same.
func TestWriteBehindOnlyLong(t *testing.T) {
	e := newEngine(t, cvv.Options{})
	for _, tc := range []struct {
		size    int
		behinds int64
	}{
		{uring.WriteBehindWindow - 1, 0},
		{4096, 0},
		{uring.WriteBehindWindow + 4096, 1},
	} {
		data := enginetest.Data(tc.size, 11)
		src := enginetest.WriteFile(t, t.TempDir(), "src", data)
		dests := enginetest.DestPaths(t, 1, "copy")
		before := uring.WriteBehindsStarted()
		res, err := e.Copy(context.Background(), cvv.Job{
			Source: src, Dests: dests, Hash: hashing.XXH3, ReadBack: true,
			Write: []cvv.WritePath{cvv.WriteBuffered},
		})
		if err != nil || res.Failed() {
			t.Fatalf("size %d: Copy: %v %+v", tc.size, err, res)
		}
		if got := uring.WriteBehindsStarted() - before; got != tc.behinds {
			t.Errorf("size %d: %d write-behinds started, want %d", tc.size, got, tc.behinds)
		}
		if rb := res.Dests[0].ReadBack; rb == nil || rb.Err != nil || rb.Hash != res.SourceHash {
			t.Errorf("size %d: the copy read back as %+v, want %s", tc.size, rb, res.SourceHash)
		}
		enginetest.AssertSame(t, dests[0], data)
	}
}

// TestPageCacheDropped copies a file shorter than the write-behind's
// window to a page-cache destination: once synced, none of the copy's
// pages is left in the page cache (the cache would otherwise grow by
// every small file copied).
func TestPageCacheDropped(t *testing.T) {
	e := newEngine(t, cvv.Options{})
	data := enginetest.Data(uring.WriteBehindWindow/4+12345, 9)
	src := enginetest.WriteFile(t, t.TempDir(), "src", data)
	dests := enginetest.DestPaths(t, 1, "copy")
	var st unix.Statfs_t
	if err := unix.Statfs(filepath.Dir(dests[0]), &st); err != nil {
		t.Fatal(err)
	}
	if st.Type == unix.TMPFS_MAGIC {
		t.Skip("the temp directory is a tmpfs: its pages are the file, never dropped")
	}
	res, err := e.Copy(context.Background(), cvv.Job{
		Source: src, Dests: dests, Hash: hashing.XXH3,
		Write: []cvv.WritePath{cvv.WriteBuffered},
	})
	if err != nil || res.Failed() {
		t.Fatalf("Copy: %v %+v", err, res)
	}
	f, err := os.Open(dests[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := unix.Mmap(int(f.Fd()), 0, len(data), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	vec := make([]byte, (len(data)+os.Getpagesize()-1)/os.Getpagesize())
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatal(&os.SyscallError{Syscall: "mincore", Err: errno})
	}
	cached := 0
	for _, v := range vec {
		cached += int(v & 1)
	}
	if cached != 0 {
		t.Errorf("%d of the copy's %d pages still in the page cache after the copy", cached, len(vec))
	}
	enginetest.AssertSame(t, dests[0], data)
}
