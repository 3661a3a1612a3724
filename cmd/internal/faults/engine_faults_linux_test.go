package faults

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/hashing"
)

// copyRig is one source file and three destination directories, one of
// which a test replaces with a faulty place.
type copyRig struct {
	src     string
	srcHash string
	size    int64
	dirs    []string
}

func newCopyRig(t *testing.T, srcDir string, size int64, dirs ...string) *copyRig {
	t.Helper()
	r := &copyRig{src: filepath.Join(srcDir, "clip.bin"), size: size, dirs: dirs}
	writeRandom(t, r.src, size, uint64(size))
	r.srcHash = fileHash(t, r.src)
	return r
}

func (r *copyRig) job() cvv.Job {
	j := cvv.Job{Source: r.src, Hash: hashing.XXH3}
	for _, d := range r.dirs {
		j.Dests = append(j.Dests, filepath.Join(d, "clip.bin"))
	}
	return j
}

// expectGood checks that destination i holds a complete copy and no temp.
func (r *copyRig) expectGood(t *testing.T, res *cvv.Result, i int) {
	t.Helper()
	dr := res.Dests[i]
	if dr.Err != nil {
		t.Errorf("destination %d (%s) failed: %v", i, dr.Path, dr.Err)
		return
	}
	if got := fileHash(t, filepath.Join(r.dirs[i], "clip.bin")); got != r.srcHash {
		t.Errorf("destination %d (%s) differs from the source", i, dr.Path)
	}
	if tmp := tempFiles(t, r.dirs[i]); len(tmp) > 0 {
		t.Errorf("destination %d: temp files left: %q", i, tmp)
	}
}

// expectFailed checks that destination i failed with want (an errno or a
// sentinel), that its error names the destination, and that it left neither
// a final file nor a temp file.
func (r *copyRig) expectFailed(t *testing.T, res *cvv.Result, i int, want error) {
	t.Helper()
	dr := res.Dests[i]
	if dr.Err == nil {
		t.Errorf("destination %d (%s) did not fail, want %v", i, dr.Path, want)
	} else {
		if !errors.Is(dr.Err, want) {
			t.Errorf("destination %d error %v does not wrap %v", i, dr.Err, want)
		}
		// The error names the final path, or (for a failure of the temp
		// file) a path in the destination's directory; DestResult.Path
		// names the file.
		if !strings.Contains(dr.Err.Error(), dr.Path) && !strings.Contains(dr.Err.Error(), filepath.Dir(dr.Path)+"/") {
			t.Errorf("destination %d error %q does not name %s", i, dr.Err, dr.Path)
		}
	}
	r.expectNothing(t, i)
}

// expectNothing checks that destination i holds neither the final file nor
// a temp file.
func (r *copyRig) expectNothing(t *testing.T, i int) {
	t.Helper()
	if _, err := os.Lstat(filepath.Join(r.dirs[i], "clip.bin")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("destination %d: final file exists after a failure (lstat: %v)", i, err)
	}
	if tmp := tempFiles(t, r.dirs[i]); len(tmp) > 0 {
		t.Errorf("destination %d: temp files left: %q", i, tmp)
	}
}

// TestEngineSourceReadEIO: an EIO reading the source fails the file on every
// destination, names the source and the errno, and leaves nothing behind.
func TestEngineSourceReadEIO(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng cvv.Engine) {
		for _, direct := range []bool{false, true} {
			e := mountErrorFS(t, ErrorFSOptions{DirectIO: direct})
			base := t.TempDir()
			r := newCopyRig(t, e.Backing, 3<<20, mkdirs(t, filepath.Join(base, "d1"), filepath.Join(base, "d2"), filepath.Join(base, "d3"))...)
			r.src = filepath.Join(e.Mountpoint, "clip.bin")
			e.Inject(Fault{Op: OpRead, Match: "clip.bin", Errno: syscall.EIO, From: 1 << 20})
			res, err := eng.Copy(context.Background(), r.job())
			if err == nil {
				t.Fatalf("direct_io=%v: copy with a source EIO succeeded: %+v", direct, res)
			}
			if !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), r.src) {
				t.Errorf("direct_io=%v: error %q does not wrap EIO or does not name %s", direct, err, r.src)
			}
			if e.Hits(OpRead) == 0 {
				t.Errorf("direct_io=%v: the fault never fired", direct)
			}
			for i := range r.dirs {
				r.expectNothing(t, i)
			}
		}
	})
}

// TestEngineSourceOpenEACCES: a source that cannot be opened is an error.
func TestEngineSourceOpenEACCES(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng cvv.Engine) {
		e := mountErrorFS(t, ErrorFSOptions{})
		base := t.TempDir()
		r := newCopyRig(t, e.Backing, 100<<10, mkdirs(t, filepath.Join(base, "d1"), filepath.Join(base, "d2"))...)
		r.src = filepath.Join(e.Mountpoint, "clip.bin")
		e.Inject(Fault{Op: OpOpen, Match: "clip.bin", Errno: syscall.EACCES})
		_, err := eng.Copy(context.Background(), r.job())
		if !errors.Is(err, syscall.EACCES) || err == nil || !strings.Contains(err.Error(), r.src) {
			t.Errorf("copy of an unreadable source: %v, want EACCES naming %s", err, r.src)
		}
		for i := range r.dirs {
			r.expectNothing(t, i)
		}
	})
}

// destFaultCase is a fault on the FUSE destination (the second of three).
type destFaultCase struct {
	name  string
	fault Fault
	want  error
}

var destFaults = []destFaultCase{
	{"write-EIO", Fault{Op: OpWrite, Errno: syscall.EIO, From: 1 << 20}, syscall.EIO},
	{"write-ENOSPC", Fault{Op: OpWrite, Errno: syscall.ENOSPC, From: 1 << 20}, cvv.ErrDiskFull},
	{"write-EDQUOT", Fault{Op: OpWrite, Errno: syscall.EDQUOT, From: 2 << 20}, cvv.ErrDiskFull},
	{"fsync-EIO", Fault{Op: OpFsync, Errno: syscall.EIO}, syscall.EIO},
	{"close-EIO", Fault{Op: OpFlush, Errno: syscall.EIO}, syscall.EIO},
}

// TestEngineDestFaults: a fault on one destination fails that destination
// only, with its path and errno; the others complete.
func TestEngineDestFaults(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng cvv.Engine) {
		for _, direct := range []bool{false, true} {
			for _, fc := range destFaults {
				name := fc.name
				if direct {
					name += "/direct_io"
				}
				t.Run(name, func(t *testing.T) {
					e := mountErrorFS(t, ErrorFSOptions{DirectIO: direct})
					base := t.TempDir()
					r := newCopyRig(t, base, 3<<20+123, mkdirs(t, filepath.Join(base, "d1"), e.Mountpoint, filepath.Join(base, "d3"))...)
					e.Inject(fc.fault)
					res, err := eng.Copy(context.Background(), r.job())
					if err != nil {
						t.Fatalf("copy failed as a whole for a destination fault: %v", err)
					}
					if e.Hits(fc.fault.Op) == 0 {
						t.Fatalf("the fault never fired: %+v", res.Dests[1])
					}
					r.expectGood(t, res, 0)
					r.expectFailed(t, res, 1, fc.want)
					r.expectGood(t, res, 2)
					if res.SourceHash != hashing.XXH3.Sum(mustRead(t, r.src)) {
						t.Errorf("source hash %s is wrong", res.SourceHash)
					}
				})
			}
		}
	})
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEngineVerifyReadEIO: an EIO on the verification read of a destination
// is an error naming the destination and the errno. The copy itself is
// good; the fault is armed on the final name after the copy, so the read
// must reach the filesystem (not the page cache) to see it.
func TestEngineVerifyReadEIO(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng cvv.Engine) {
		for _, direct := range []bool{false, true} {
			e := mountErrorFS(t, ErrorFSOptions{DirectIO: direct})
			base := t.TempDir()
			r := newCopyRig(t, base, 2<<20+7, mkdirs(t, filepath.Join(base, "d1"), e.Mountpoint)...)
			res, err := eng.Copy(context.Background(), r.job())
			if err != nil {
				t.Fatal(err)
			}
			r.expectGood(t, res, 0)
			r.expectGood(t, res, 1)
			e.Inject(Fault{Op: OpRead, Match: "clip.bin", Errno: syscall.EIO})
			dst := filepath.Join(e.Mountpoint, "clip.bin")
			hr, err := eng.Hash(context.Background(), dst, hashing.XXH3)
			switch {
			case err == nil && !direct:
				t.Errorf("known gap (direct_io=false): verification read of %s came from the page cache (%+v); an EIO on the media went unseen", dst, hr)
			case err == nil:
				t.Errorf("direct_io=%v: hash of %s with a read EIO succeeded: %+v", direct, dst, hr)
			case !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), dst):
				t.Errorf("direct_io=%v: hash error %q does not wrap EIO or does not name %s", direct, err, dst)
			}
			e.Clear()
		}
	})
}

// TestEngineDiskFullTmpfs: a 12 MiB file onto a 8 MiB tmpfs fails there
// with ErrDiskFull and no temp file; the other two destinations complete.
func TestEngineDiskFullTmpfs(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng cvv.Engine) {
		small := mountTmpfs(t, 8<<20)
		base := t.TempDir()
		r := newCopyRig(t, base, 12<<20, mkdirs(t, filepath.Join(base, "d1"), small, filepath.Join(base, "d3"))...)
		res, err := eng.Copy(context.Background(), r.job())
		if err != nil {
			t.Fatal(err)
		}
		r.expectGood(t, res, 0)
		r.expectFailed(t, res, 1, cvv.ErrDiskFull)
		r.expectFailed(t, res, 1, syscall.ENOSPC)
		r.expectGood(t, res, 2)
		if free, _ := FreeBytes(small); free < 8<<20-64<<10 {
			t.Errorf("tmpfs has %d bytes free after the failure: space leaked", free)
		}
	})
}

// TestEngineDiskFullMidCopy: another writer fills the filesystem of one
// destination after the copy has started (at the first progress report).
// On a tmpfs the engine may have reserved the space with fallocate (the
// copy completes) or not; through a FUSE filesystem that refuses fallocate
// it cannot, and the destination must fail with ErrDiskFull part-way, leave
// no temp file and not disturb the others. Never a wrong or partial file.
// The destination is written as the engine chooses, and through the page
// cache (the io_uring engine's pwrite calls).
func TestEngineDiskFullMidCopy(t *testing.T) {
	for _, refuse := range []bool{false, true} {
		for _, w := range []cvv.WritePath{cvv.WriteAuto, cvv.WriteBuffered} {
			name := map[bool]string{false: "tmpfs", true: "no-fallocate"}[refuse] + "/" + w.String()
			t.Run(name, func(t *testing.T) {
				forEachEngine(t, func(t *testing.T, eng cvv.Engine) { diskFullMidCopy(t, eng, refuse, w) })
			})
		}
	}
}

func diskFullMidCopy(t *testing.T, eng cvv.Engine, refuseFallocate bool, w cvv.WritePath) {
	small := mountTmpfs(t, 16<<20)
	dest := small
	if refuseFallocate {
		e := mountErrorFSOn(t, small, ErrorFSOptions{})
		e.Inject(Fault{Op: OpAllocate, Errno: syscall.EOPNOTSUPP})
		dest = e.Mountpoint
	}
	base := t.TempDir()
	r := newCopyRig(t, base, 10<<20, mkdirs(t, filepath.Join(base, "d1"), dest, filepath.Join(base, "d3"))...)
	var once sync.Once
	var filled int64
	var fillErr error
	job := r.job()
	job.Write = []cvv.WritePath{cvv.WriteAuto, w, cvv.WriteAuto}
	job.Progress = func(int64) {
		once.Do(func() { filled, fillErr = FillUntilFull(filepath.Join(small, "filler")) })
	}
	res, err := eng.Copy(context.Background(), job)
	if fillErr != nil {
		t.Fatal(fillErr)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("filler wrote %d bytes; destination: %v", filled, res.Dests[1].Err)
	r.expectGood(t, res, 0)
	r.expectGood(t, res, 2)
	switch {
	case res.Dests[1].Err != nil:
		r.expectFailed(t, res, 1, cvv.ErrDiskFull)
	case refuseFallocate:
		t.Errorf("the copy to a full filesystem without fallocate succeeded")
	default:
		r.expectGood(t, res, 1)
	}
}

// TestEngineReadOnlyDest: a read-only bind mount as one destination fails
// there with EROFS; the others complete.
func TestEngineReadOnlyDest(t *testing.T) {
	requireRoot(t)
	forEachEngine(t, func(t *testing.T, eng cvv.Engine) {
		base := t.TempDir()
		ro := filepath.Join(base, "ro")
		mkdirs(t, filepath.Join(base, "rw"), ro)
		if err := BindReadOnly(filepath.Join(base, "rw"), ro); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := Unmount(ro); err != nil {
				t.Error(err)
			}
		})
		r := newCopyRig(t, base, 1<<20+5, mkdirs(t, filepath.Join(base, "d1"), ro, filepath.Join(base, "d3"))...)
		res, err := eng.Copy(context.Background(), r.job())
		if err != nil {
			t.Fatal(err)
		}
		r.expectGood(t, res, 0)
		r.expectFailed(t, res, 1, syscall.EROFS)
		r.expectGood(t, res, 2)
	})
}

// TestEngineDestRemovedMidCopy: one destination directory is removed while
// the copy runs. That destination fails; the others complete.
func TestEngineDestRemovedMidCopy(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng cvv.Engine) {
		base := t.TempDir()
		r := newCopyRig(t, base, 4<<20, mkdirs(t, filepath.Join(base, "d1"), filepath.Join(base, "d2"), filepath.Join(base, "d3"))...)
		var once sync.Once
		job := r.job()
		job.Progress = func(int64) {
			once.Do(func() {
				if err := os.RemoveAll(r.dirs[1]); err != nil {
					t.Error(err)
				}
			})
		}
		res, err := eng.Copy(context.Background(), job)
		if err != nil {
			t.Fatal(err)
		}
		r.expectGood(t, res, 0)
		r.expectFailed(t, res, 1, os.ErrNotExist)
		r.expectGood(t, res, 2)
	})
}

// TestEngineSourceChanged: the source is appended to, or rewritten in
// place, while it is read (at the first progress report). The copy fails
// with ErrSourceChanged and no final file is created.
func TestEngineSourceChanged(t *testing.T) {
	for _, how := range []string{"append", "rewrite", "truncate"} {
		t.Run(how, func(t *testing.T) {
			forEachEngine(t, func(t *testing.T, eng cvv.Engine) {
				base := t.TempDir()
				r := newCopyRig(t, base, 8<<20, mkdirs(t, filepath.Join(base, "d1"), filepath.Join(base, "d2"))...)
				var once sync.Once
				job := r.job()
				job.Progress = func(int64) {
					once.Do(func() { modifySource(t, r.src, how) })
				}
				res, err := eng.Copy(context.Background(), job)
				if !errors.Is(err, cvv.ErrSourceChanged) {
					t.Errorf("copy of a source that changed (%s): %v (result %+v), want ErrSourceChanged", how, err, res)
				}
				for i := range r.dirs {
					r.expectNothing(t, i)
				}
			})
		})
	}
}

// modifySource changes path under a running copy. The mtime is moved a
// second ahead so that even a coarse clock shows the change.
func modifySource(t testing.TB, path, how string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Error(err)
		return
	}
	switch how {
	case "append":
		_, err = f.WriteAt([]byte("appended"), 8<<20)
	case "rewrite":
		_, err = f.WriteAt([]byte("rewritten in place"), 6<<20)
	case "truncate":
		err = f.Truncate(2 << 20)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		later := time.Now().Add(time.Second)
		err = os.Chtimes(path, later, later)
	}
	if err != nil {
		t.Error(err)
	}
}

// TestEngineCancel: a copy cancelled part-way returns an error wrapping
// context.Canceled and leaves no temp and no final file.
func TestEngineCancel(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng cvv.Engine) {
		base := t.TempDir()
		r := newCopyRig(t, base, 8<<20, mkdirs(t, filepath.Join(base, "d1"), filepath.Join(base, "d2"))...)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		job := r.job()
		job.Progress = func(int64) { cancel() }
		start := time.Now()
		_, err := eng.Copy(ctx, job)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled copy: %v, want context.Canceled", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("cancelled copy took %v", d)
		}
		for i := range r.dirs {
			r.expectNothing(t, i)
		}
	})
}

// TestEngineDirectRefused: a filesystem that refuses O_DIRECT (EINVAL on
// open and create) as the source and as one destination. The engine falls
// back per file: the copy and the verification read succeed, and the
// destination says why it was not written with O_DIRECT.
func TestEngineDirectRefused(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng cvv.Engine) {
		srcFS := mountErrorFS(t, ErrorFSOptions{RefuseDirect: true})
		dstFS := mountErrorFS(t, ErrorFSOptions{RefuseDirect: true})
		base := t.TempDir()
		r := newCopyRig(t, srcFS.Backing, 3<<20+17, mkdirs(t, filepath.Join(base, "d1"), dstFS.Mountpoint)...)
		r.src = filepath.Join(srcFS.Mountpoint, "clip.bin")
		res, err := eng.Copy(context.Background(), r.job())
		if err != nil {
			t.Fatal(err)
		}
		r.expectGood(t, res, 0)
		r.expectGood(t, res, 1)
		if res.Stats.DirectSource {
			t.Errorf("source reported as read with O_DIRECT on a filesystem that refuses it")
		}
		// A destination may still be direct: an engine that creates the
		// temp file buffered and then sets O_DIRECT with fcntl gets it from
		// the FUSE kernel module without asking the filesystem.
		t.Logf("%s: source direct=%v; dest on disk: mode %q %q; dest on FUSE: mode %q note %q",
			eng.Name(), res.Stats.DirectSource, res.Dests[0].Mode, res.Dests[0].Note, res.Dests[1].Mode, res.Dests[1].Note)
		hr, err := eng.Hash(context.Background(), res.Dests[1].Path, hashing.XXH3)
		if err != nil {
			t.Fatalf("verification read on a filesystem that refuses O_DIRECT: %v", err)
		}
		if hr.Hash != res.SourceHash || hr.Size != r.size {
			t.Errorf("verification read: %+v, want hash %s", hr, res.SourceHash)
		}
		if hr.Direct {
			// cvv.HashResult.Direct: "the file was read with O_DIRECT".
			t.Errorf("%s engine reports HashResult.Direct=true for a read on a filesystem that refuses O_DIRECT: %+v", eng.Name(), hr)
		}
	})
}
