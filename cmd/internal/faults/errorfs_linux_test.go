package faults

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestErrorFS checks the rig itself: files pass through, and each injected
// fault fails exactly the operation and file it names.
func TestErrorFS(t *testing.T) {
	for _, direct := range []bool{false, true} {
		t.Run(map[bool]string{false: "cached", true: "direct_io"}[direct], func(t *testing.T) {
			e := mountErrorFS(t, ErrorFSOptions{DirectIO: direct})
			writeRandom(t, filepath.Join(e.Backing, "a"), 3<<20, 1)
			writeRandom(t, filepath.Join(e.Backing, "b"), 1<<20, 2)
			if got, want := fileHash(t, filepath.Join(e.Mountpoint, "a")), fileHash(t, filepath.Join(e.Backing, "a")); got != want {
				t.Fatalf("read through the mount differs from the backing file")
			}

			e.Inject(Fault{Op: OpRead, Match: "a", Errno: syscall.EIO, From: 2 << 20})
			if _, err := hashFile(filepath.Join(e.Mountpoint, "a")); !errors.Is(err, syscall.EIO) {
				// With the page cache the earlier read may have cached a.
				if direct {
					t.Errorf("read of a with EIO injected: %v, want EIO", err)
				}
			}
			if _, err := hashFile(filepath.Join(e.Mountpoint, "b")); err != nil {
				t.Errorf("read of b: %v", err)
			}

			e.Inject(Fault{Op: OpWrite, Match: "w*", Errno: syscall.ENOSPC})
			err := os.WriteFile(filepath.Join(e.Mountpoint, "w1"), []byte("x"), 0o644)
			if !errors.Is(err, syscall.ENOSPC) {
				t.Errorf("write w1: %v, want ENOSPC; faults fired: %q", err, e.Log())
			}
			if err := os.WriteFile(filepath.Join(e.Mountpoint, "v1"), []byte("x"), 0o644); err != nil {
				t.Errorf("write v1: %v", err)
			}

			e.Inject(Fault{Op: OpFsync, Match: "v1", Errno: syscall.EIO})
			f, err := os.OpenFile(filepath.Join(e.Mountpoint, "v1"), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := unix.Fdatasync(int(f.Fd())); err != syscall.EIO {
				t.Errorf("fdatasync v1: %v, want EIO", err)
			}
			f.Close()

			e.Inject(Fault{Op: OpOpen, Match: "b", Errno: syscall.EACCES})
			if _, err := os.Open(filepath.Join(e.Mountpoint, "b")); !errors.Is(err, syscall.EACCES) {
				t.Errorf("open b: %v, want EACCES", err)
			}
			if e.Hits(OpFsync) != 1 || e.Hits(OpOpen) != 1 {
				t.Errorf("hits: %v", e.Log())
			}
			e.Clear()
			if f, err := os.Open(filepath.Join(e.Mountpoint, "b")); err != nil {
				t.Errorf("open b after Clear: %v", err)
			} else {
				f.Close()
			}

			// O_DIRECT: report what the kernel does, so the engines' per-file
			// handling is exercised knowingly.
			fd, err := unix.Open(filepath.Join(e.Mountpoint, "a"), unix.O_RDONLY|unix.O_DIRECT, 0)
			if err != nil {
				t.Logf("O_DIRECT open on FUSE (direct_io=%v): %v", direct, err)
				return
			}
			defer unix.Close(fd)
			buf := make([]byte, 8192)
			off := 4096 - int(uintptr(unsafePointer(buf))%4096)
			n, err := unix.Pread(fd, buf[off:off+4096], 0)
			t.Logf("O_DIRECT open on FUSE (direct_io=%v): ok, aligned pread: %d %v", direct, n, err)
		})
	}
}

// TestFaultMatches: patterns, operations and the From offset select the
// requests a fault fails.
func TestFaultMatches(t *testing.T) {
	f := Fault{Op: OpWrite, Match: "large/*", Errno: syscall.EIO, From: 1 << 20}
	cases := []struct {
		op     Op
		rel    string
		off, n int64
		want   bool
	}{
		{OpWrite, "large/.cvv-0123456789abcdef.partial", 1 << 20, 4096, true},
		{OpWrite, "large/a.mov", 1<<20 - 4096, 8192, true}, // ends past From
		{OpWrite, "large/a.mov", 0, 1 << 20, false},        // ends at From
		{OpRead, "large/a.mov", 2 << 20, 4096, false},      // other op
		{OpWrite, "small/a.mov", 2 << 20, 4096, false},     // other dir
		{OpWrite, "large/sub/a.mov", 2 << 20, 4096, false}, // * is one element
	}
	for _, c := range cases {
		if got := f.matches(c.op, c.rel, c.off, c.n); got != c.want {
			t.Errorf("matches(%s, %q, %d, %d) = %v, want %v", c.op, c.rel, c.off, c.n, got, c.want)
		}
	}
	if !(Fault{Op: OpFsync}).matches(OpFsync, "any/thing", 0, 0) {
		t.Errorf("an empty pattern must match every file")
	}
}
