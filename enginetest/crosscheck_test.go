package enginetest_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/enginetest"
	"github.com/cvv-project/cvv/fallback"
	"github.com/cvv-project/cvv/hashing"
	"github.com/cvv-project/cvv/uring"
)

// FuzzCrossCheck copies the same bytes with both engines, at arbitrary
// sizes and block sizes, and requires identical copies and hashes.
func FuzzCrossCheck(f *testing.F) {
	for _, s := range []struct {
		size  uint32
		block uint8
		alg   uint8
	}{{0, 0, 0}, {1, 1, 1}, {4095, 2, 2}, {4097, 3, 3}, {65536, 4, 4}, {200000, 5, 5}, {1 << 20, 6, 0}} {
		f.Add(s.size, s.block, s.alg, uint64(s.size))
	}
	u, err := uring.New(cvv.Options{BlockSize: 64 << 10, QueueDepth: 4})
	if errors.Is(err, cvv.ErrNotHandled) {
		f.Skipf("io_uring unavailable: %v", err)
	}
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { u.Close() })
	blocks := []int{4096, 8192, 65536, 128 << 10, 256 << 10, 1 << 20, 4 << 20}
	engines := map[int][2]cvv.Engine{}
	f.Cleanup(func() {
		for _, pair := range engines {
			pair[0].Close()
		}
	})
	f.Fuzz(func(t *testing.T, size uint32, block uint8, alg uint8, seed uint64) {
		size %= 3 << 20
		bs := blocks[int(block)%len(blocks)]
		pair, ok := engines[bs]
		if !ok {
			ue, err := uring.New(cvv.Options{BlockSize: bs, QueueDepth: 4})
			if err != nil {
				t.Fatal(err)
			}
			pair = [2]cvv.Engine{ue, fallback.New(cvv.Options{BlockSize: bs, QueueDepth: 4})}
			engines[bs] = pair
		}
		a := hashing.Algorithms[int(alg)%len(hashing.Algorithms)]
		data := enginetest.Data(int(size), seed)
		src := enginetest.WriteFile(t, t.TempDir(), "src", data)
		var hashes [2]string
		var copies [2][]byte
		for i, e := range pair {
			dests := enginetest.DestPaths(t, 2, "copy")
			res, err := e.Copy(context.Background(), cvv.Job{Source: src, Dests: dests, Hash: a, NoFsync: true})
			if err != nil {
				t.Fatalf("%s: %v", e.Name(), err)
			}
			if res.Failed() {
				t.Fatalf("%s: %+v", e.Name(), res.Dests)
			}
			hashes[i] = res.SourceHash
			for _, d := range dests {
				b, err := os.ReadFile(d)
				if err != nil {
					t.Fatal(err)
				}
				if copies[i] == nil {
					copies[i] = b
				} else if !bytes.Equal(copies[i], b) {
					t.Fatalf("%s: destinations differ", e.Name())
				}
			}
		}
		if hashes[0] != hashes[1] {
			t.Errorf("hash %v: uring %s, fallback %s", a, hashes[0], hashes[1])
		}
		if !bytes.Equal(copies[0], copies[1]) || !bytes.Equal(copies[0], data) {
			t.Errorf("copies differ: uring %d bytes, fallback %d bytes, source %d", len(copies[0]), len(copies[1]), len(data))
		}
		if want := a.Sum(data); hashes[0] != want {
			t.Errorf("hash %v = %s, want %s", a, hashes[0], want)
		}
	})
}
