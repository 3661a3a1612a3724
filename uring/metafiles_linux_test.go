package uring

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/iceber/iouring-go"
	"golang.org/x/sys/unix"

	"github.com/cvv-project/cvv"
)

// BenchmarkMetaFiles measures what carrying a small file's metadata
// through the ring would buy: each iteration creates 2,048 files of 4 KiB
// in a fresh directory the way a copy does (a temp file made with
// O_CREAT|O_EXCL, its data, close, rename onto the final name), with the
// create, close and rename
//
//   - syscalls: as plain system calls, one file after another;
//   - syscalls-16: the same on 16 goroutines (cvv's --jobs);
//   - ring-16: through Engine.meta on 16 goroutines, each file's operations
//     in its order, combined across the files in flight (how the engine
//     carries fallocate, statx and fsync);
//   - ring-batch: through Engine.meta 64 files at a time, every create of
//     the batch in one submission, then every close, then every rename:
//     the best a batching pipeline could do.
//
// The data is written with pwrite in every case, and nothing is synced, so
// only the metadata differs. It reports files/s and the process's CPU per
// file (user+system, the ring's io-wq workers included: they are threads
// of the process). Put the directory on the filesystem to measure:
//
//	CVV_BENCH_DIR=/mnt/ext4 go test -run '^$' -bench MetaFiles -benchtime 5x ./uring/
func BenchmarkMetaFiles(b *testing.B) {
	const files, batch, jobs = 2048, 64, 16
	base := os.Getenv("CVV_BENCH_DIR")
	if base == "" {
		base = b.TempDir()
	}
	data := make([]byte, 4096)
	for i := range data {
		data[i] = byte(i)
	}
	e, err := New(cvv.Options{})
	if err != nil {
		b.Skipf("io_uring unavailable: %v", err)
	}
	b.Cleanup(func() { e.Close() })

	const flags = unix.O_RDWR | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC
	name := func(i int) (tmp, final string) {
		return fmt.Sprintf(".t%05d", i), fmt.Sprintf("f%05d", i)
	}
	direct := func(dfd, i int) error {
		tmp, final := name(i)
		fd, err := unix.Openat(dfd, tmp, flags, 0o600)
		if err != nil {
			return err
		}
		if _, err := unix.Pwrite(fd, data, 0); err != nil {
			return err
		}
		if err := unix.Close(fd); err != nil {
			return err
		}
		return unix.Renameat(dfd, tmp, dfd, final)
	}
	// ring runs the files [from, to) of dfd through the ring, their
	// creates in one meta call, then their closes, then their renames.
	ring := func(dfd, from, to int) error {
		var ops []metaOp
		for i := from; i < to; i++ {
			tmp, _ := name(i)
			req, err := iouring.Openat(dfd, tmp, flags, 0o600)
			if err != nil {
				return err
			}
			ops = append(ops, metaOp{req, func() int {
				fd, err := unix.Openat(dfd, tmp, flags, 0o600)
				return errnoResult(fd, err)
			}})
		}
		fds, err := e.meta(ops)
		if err != nil {
			return err
		}
		ops = ops[:0]
		for _, fd := range fds {
			if fd < 0 {
				return syscall.Errno(-fd)
			}
			if _, err := unix.Pwrite(fd, data, 0); err != nil {
				return err
			}
			ops = append(ops, metaOp{iouring.Close(fd), func() int { return errnoResult(0, unix.Close(fd)) }})
		}
		if err := metaErr(e.meta(ops)); err != nil {
			return err
		}
		ops = ops[:0]
		for i := from; i < to; i++ {
			tmp, final := name(i)
			req, err := iouring.Renameat2(dfd, tmp, dfd, final, 0)
			if err != nil {
				return err
			}
			ops = append(ops, metaOp{req, func() int { return errnoResult(0, unix.Renameat(dfd, tmp, dfd, final)) }})
		}
		return metaErr(e.meta(ops))
	}
	parallel := func(dfd int, one func(dfd, i int) error) error {
		var wg sync.WaitGroup
		errs := make([]error, jobs)
		for j := range jobs {
			wg.Go(func() {
				for i := j; i < files && errs[j] == nil; i += jobs {
					errs[j] = one(dfd, i)
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
		return nil
	}
	variants := []struct {
		name string
		run  func(dfd int) error
	}{
		{"syscalls", func(dfd int) error {
			for i := range files {
				if err := direct(dfd, i); err != nil {
					return err
				}
			}
			return nil
		}},
		{"syscalls-16", func(dfd int) error { return parallel(dfd, direct) }},
		{"ring-16", func(dfd int) error {
			return parallel(dfd, func(dfd, i int) error { return ring(dfd, i, i+1) })
		}},
		{"ring-batch", func(dfd int) error {
			for i := 0; i < files; i += batch {
				if err := ring(dfd, i, min(files, i+batch)); err != nil {
					return err
				}
			}
			return nil
		}},
	}
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			var wall, cpu time.Duration
			n := 0
			for b.Loop() {
				b.StopTimer()
				dir, err := os.MkdirTemp(base, "metafiles-")
				if err != nil {
					b.Fatal(err)
				}
				dfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
				if err != nil {
					b.Fatal(err)
				}
				c0 := cpuTime()
				t0 := time.Now()
				b.StartTimer()
				err = v.run(dfd)
				b.StopTimer()
				wall += time.Since(t0)
				cpu += cpuTime() - c0
				n += files
				unix.Close(dfd)
				if err != nil {
					b.Fatal(err)
				}
				if got, _ := filepath.Glob(filepath.Join(dir, "f*")); len(got) != files {
					b.Fatalf("%d files made, want %d", len(got), files)
				}
				os.RemoveAll(dir)
				b.StartTimer()
			}
			b.ReportMetric(float64(n)/wall.Seconds(), "files/s")
			b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-µs/file")
		})
	}
}

// metaErr is the first error of a meta call's results.
func metaErr(res []int, err error) error {
	if err != nil {
		return err
	}
	for _, r := range res {
		if r < 0 {
			return syscall.Errno(-r)
		}
	}
	return nil
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
