package uring_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/hashing"
	"github.com/cvv-project/cvv/uring"
)

// The tests in this file change package seams: none of them is parallel.

// readBackJob writes a source of size random bytes and returns a held
// ReadBack job to n destinations, each in a directory of its own.
func readBackJob(t *testing.T, size, n int) cvv.Job {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "src.bin")
	b := make([]byte, size)
	r := rand.New(rand.NewPCG(uint64(size), 7))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	if err := os.WriteFile(src, b, 0o644); err != nil {
		t.Fatal(err)
	}
	job := cvv.Job{Source: src, Hash: hashing.XXH3, Hold: true, ReadBack: true}
	for i := range n {
		d := filepath.Join(dir, "d"+string(rune('1'+i)))
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		job.Dests = append(job.Dests, filepath.Join(d, "out.bin"))
	}
	return job
}

// readBackCopy runs job and checks what must hold whatever the faults: a
// result, the buffers back in the pool, and each destination written
// with O_DIRECT (else nothing of it is read back here).
func readBackCopy(t *testing.T, e *uring.Engine, job cvv.Job) *cvv.Result {
	t.Helper()
	res, err := e.Copy(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	assertPoolFull(t, e)
	if !res.Stats.DirectSource {
		t.Skip("the test directory's filesystem refuses O_DIRECT: nothing is read back behind the copy")
	}
	for i, d := range res.Dests {
		if d.Err != nil {
			t.Fatalf("destination %d failed: %v", i, d.Err)
		}
		if !d.Direct && job.WritePath(i) != cvv.WriteBuffered {
			t.Skipf("destination %d not written with O_DIRECT (%s)", i, d.Note)
		}
		if d.ReadBack == nil {
			t.Fatalf("destination %d was not read back behind the copy", i)
		}
	}
	if res.SourceReadBack == nil {
		t.Fatal("the source was not read back behind the copy")
	}
	return res
}

// TestReadBackMatches: every destination and the source are read back
// behind the copy, whole, and give the source hash; sizes that are not a
// multiple of the block or the alignment are read back to the byte.
//
// The last destination is written through the page cache: it is read
// back too, from the media.
func TestReadBackMatches(t *testing.T) {
	e := newEngine(t, cvv.Options{BlockSize: testBlock, QueueDepth: 4})
	for _, size := range []int{0, 1, 4097, 10*testBlock + 1234} {
		job := readBackJob(t, size, 3)
		job.Write = []cvv.WritePath{cvv.WriteDirect, cvv.WriteDirect, cvv.WriteBuffered}
		var progress int64
		job.ReadBackProgress = func(n int64) { progress += n }
		res := readBackCopy(t, e, job)
		for i, d := range res.Dests {
			if d.ReadBack.Err != nil || d.ReadBack.Hash != res.SourceHash || d.ReadBack.Size != int64(size) {
				t.Errorf("size %d: destination %d read back as %+v, source %s", size, i, *d.ReadBack, res.SourceHash)
			}
		}
		if rb := res.SourceReadBack; rb.Err != nil || rb.Hash != res.SourceHash || rb.Size != int64(size) {
			t.Errorf("size %d: source read back as %+v, first read %s", size, *rb, res.SourceHash)
		}
		if size > 0 && res.Stats.ReadBacks < 4 {
			t.Errorf("size %d: %d reads behind the copy, want one per file at least", size, res.Stats.ReadBacks)
		}
		if progress != 4*int64(size) {
			t.Errorf("size %d: read-back progress %d, want %d", size, progress, 4*size)
		}
	}
}

// TestReadBackSeesTheMedia: a block of one destination is changed on its
// media right after its write completed, before it is read back (as a
// drive that stores other bytes than it was given): that destination's
// read-back hash differs from the source's; the others match.
//
// A destination written through the page cache is read back through an
// O_DIRECT descriptor of its own: the same holds.
func TestReadBackSeesTheMedia(t *testing.T) {
	for _, w := range []cvv.WritePath{cvv.WriteDirect, cvv.WriteBuffered} {
		t.Run(w.String(), func(t *testing.T) { testReadBackSeesTheMedia(t, w) })
	}
}

func testReadBackSeesTheMedia(t *testing.T, w cvv.WritePath) {
	e := newEngine(t, cvv.Options{BlockSize: testBlock, QueueDepth: 4})
	job := readBackJob(t, 8*testBlock+100, 2)
	job.Write = []cvv.WritePath{w, w}
	victim := job.Dests[1]
	const at = 3*testBlock + 5
	flipped := false
	defer uring.SetCompletionHook(func(c uring.Completion) int32 {
		if c.Write && c.Path == victim && c.Off <= at && at < c.Off+int64(c.Res) && !flipped {
			flipped = true
			flipOnMedia(t, filepath.Dir(victim), at)
		}
		return c.Res
	})()
	res := readBackCopy(t, e, job)
	if !flipped {
		t.Fatal("the hook never changed the copy")
	}
	if rb := res.Dests[1].ReadBack; rb.Err != nil || rb.Hash == res.SourceHash {
		t.Errorf("the changed copy read back as %+v, the source hash is %s: the change went unseen", *rb, res.SourceHash)
	}
	if rb := res.Dests[0].ReadBack; rb.Err != nil || rb.Hash != res.SourceHash {
		t.Errorf("the good copy read back as %+v, want %s", *rb, res.SourceHash)
	}
}

// flipOnMedia flips the byte at off of the only temp file in dir, with an
// O_DIRECT read and write of its 4 KiB block, so that the media holds
// other bytes than the copy wrote.
func flipOnMedia(t *testing.T, dir string, off int64) {
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) != 1 || !strings.HasSuffix(ents[0].Name(), ".partial") {
		t.Fatalf("want one temp file in %s: %v %v", dir, ents, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, ents[0].Name()), os.O_RDWR|unix.O_DIRECT, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(buf)
	blk := off &^ 4095
	if _, err := f.ReadAt(buf, blk); err != nil {
		t.Fatal(err)
	}
	buf[off-blk] ^= 0x5a
	if _, err := f.WriteAt(buf, blk); err != nil {
		t.Fatal(err)
	}
}

// TestReadBackError: a read-back that fails (EIO) fails that file's
// read-back, not the copy: the copy is complete, its result carries the
// error; the other destinations and the source read back whole.
func TestReadBackError(t *testing.T) {
	e := newEngine(t, cvv.Options{BlockSize: testBlock, QueueDepth: 4})
	for _, victim := range []string{"dest", "source"} {
		t.Run(victim, func(t *testing.T) {
			job := readBackJob(t, 6*testBlock, 2)
			path := job.Dests[0]
			if victim == "source" {
				path = job.Source
			}
			fired := 0
			restore := uring.SetCompletionHook(func(c uring.Completion) int32 {
				if c.ReadBack && c.Path == path && c.Off == 2*testBlock {
					fired++
					return -int32(syscall.EIO)
				}
				return c.Res
			})
			res := readBackCopy(t, e, job)
			restore()
			if fired != 1 {
				t.Fatalf("the EIO fired %d times, want once", fired)
			}
			bad, good := res.SourceReadBack, res.Dests[0].ReadBack
			if victim == "dest" {
				bad, good = good, bad
			}
			if !errors.Is(bad.Err, syscall.EIO) {
				t.Errorf("%s read back as %+v, want EIO", victim, *bad)
			}
			for _, rb := range []*cvv.ReadBack{good, res.Dests[1].ReadBack} {
				if rb.Err != nil || rb.Hash != res.SourceHash {
					t.Errorf("a file without a fault read back as %+v, want %s", *rb, res.SourceHash)
				}
			}
			for _, d := range res.Dests {
				if d.Temp == "" {
					t.Errorf("%s: no complete copy left held", d.Path)
				}
			}
		})
	}
}

// TestReadBackOnlyWhenAsked: without Job.ReadBack nothing is read back.
func TestReadBackOnlyWhenAsked(t *testing.T) {
	e := newEngine(t, cvv.Options{BlockSize: testBlock, QueueDepth: 4})
	job := readBackJob(t, 5*testBlock, 2)
	job.ReadBack = false
	res, err := e.Copy(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	if res.SourceReadBack != nil || res.Dests[0].ReadBack != nil || res.Stats.ReadBacks != 0 {
		t.Errorf("read back without being asked: %+v %+v %d", res.SourceReadBack, res.Dests[0].ReadBack, res.Stats.ReadBacks)
	}
}

// TestReadBackPageCacheBehind: a destination written through the page
// cache is read back behind its write-behind, before its copy ends, and
// whole.
func TestReadBackPageCacheBehind(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: copies 100 MiB")
	}
	e := newEngine(t, cvv.Options{BlockSize: 1 << 20, QueueDepth: 8})
	size := uring.WriteBehindLag + 2*uring.WriteBehindWindow + 3<<20 + 5
	job := readBackJob(t, size, 1)
	job.Write = []cvv.WritePath{cvv.WriteBuffered}
	var early, writes int
	defer uring.SetCompletionHook(func(c uring.Completion) int32 {
		switch {
		case c.Write && c.Res > 0:
			writes++
		case c.ReadBack && c.Path == job.Dests[0] && writes < size>>20:
			early++
		}
		return c.Res
	})()
	res := readBackCopy(t, e, job)
	if rb := res.Dests[0].ReadBack; rb.Err != nil || rb.Hash != res.SourceHash || rb.Size != int64(size) {
		t.Errorf("read back as %+v, source %s", *rb, res.SourceHash)
	}
	if early == 0 {
		t.Error("nothing was read back before the last write: not behind the copy")
	}
}
