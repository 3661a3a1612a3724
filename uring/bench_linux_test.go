package uring_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/enginetest"
	"github.com/cvv-project/cvv/hashing"
)

// BenchmarkCopy copies a 64 MiB file on t.TempDir()'s filesystem over block
// size x queue depth x destination count. Syncs are skipped (NoFsync) so
// that it measures the engine, not the disk's flush.
//
//	go test -run '^$' -bench Copy -benchtime 5x ./uring/
func BenchmarkCopy(b *testing.B) {
	const size = 64 << 20
	src := enginetest.WriteFile(b, b.TempDir(), "src", enginetest.Data(size, 1))
	for _, block := range []int{256 << 10, 1 << 20, 4 << 20} {
		for _, depth := range []int{4, 16, 32} {
			for _, ndest := range []int{1, 3} {
				name := fmt.Sprintf("block=%dK/qd=%d/dests=%d", block>>10, depth, ndest)
				b.Run(name, func(b *testing.B) {
					e := newEngine(b, cvv.Options{BlockSize: block, QueueDepth: depth})
					dests := enginetest.DestPaths(b, ndest, "copy")
					job := cvv.Job{Source: src, Dests: dests, Hash: hashing.XXH3, NoFsync: true}
					b.SetBytes(size)
					for b.Loop() {
						res, err := e.Copy(context.Background(), job)
						if err != nil {
							b.Fatal(err)
						}
						if res.Failed() {
							b.Fatalf("destination failed: %+v", res.Dests)
						}
					}
				})
			}
		}
	}
}

// BenchmarkHash hashes a 64 MiB file with O_DIRECT reads.
func BenchmarkHash(b *testing.B) {
	const size = 64 << 20
	src := enginetest.WriteFile(b, b.TempDir(), "src", enginetest.Data(size, 2))
	e := newEngine(b, cvv.Options{})
	b.SetBytes(size)
	for b.Loop() {
		if _, err := e.Hash(context.Background(), src, hashing.XXH3); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHashFiles hashes the files named in $CVV_BENCH_FILES
// (colon-separated; skipped when unset) all at once, as full verification
// does with a source and its destinations, over block size x queue depth.
// Point it at files on the devices to measure (caches do not matter: the
// reads are O_DIRECT):
//
//	CVV_BENCH_FILES=/mnt/a/big:/mnt/b/big go test -run '^$' -bench HashFiles -benchtime 3x ./uring/
func BenchmarkHashFiles(b *testing.B) {
	env := os.Getenv("CVV_BENCH_FILES")
	if env == "" {
		b.Skip("CVV_BENCH_FILES not set")
	}
	paths := strings.Split(env, ":")
	var total int64
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			b.Fatal(err)
		}
		total += fi.Size()
	}
	for _, block := range []int{1 << 20, 2 << 20, 4 << 20} {
		for _, depth := range []int{8, 16, 32} {
			b.Run(fmt.Sprintf("block=%dK/qd=%d", block>>10, depth), func(b *testing.B) {
				e := newEngine(b, cvv.Options{BlockSize: block, QueueDepth: depth})
				b.SetBytes(total)
				for b.Loop() {
					var wg sync.WaitGroup
					errs := make([]error, len(paths))
					for i, p := range paths {
						wg.Go(func() { _, errs[i] = e.Hash(context.Background(), p, hashing.XXH3) })
					}
					wg.Wait()
					for _, err := range errs {
						if err != nil {
							b.Fatal(err)
						}
					}
				}
			})
		}
	}
}
