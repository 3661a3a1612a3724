//go:build unix

package fallback

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/hashing"
)

// TestBuffersOutsideHeap copies and hashes a file of 8 blocks, twice, with
// collections before each, and finds that the heap never held a block
// buffer: they are mapped outside it and kept for the next copy. Held in
// the heap, they doubled the collector's goal and a tree copy's RSS went
// over 64 MiB.
func TestBuffersOutsideHeap(t *testing.T) {
	const bs = 1 << 20
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	data := bytes.Repeat([]byte("0123456789abcdef"), 8*bs/16)
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	e := New(cvv.Options{BlockSize: bs})
	defer e.Close()
	if e.HeapBuffers() {
		t.Error("HeapBuffers = true on Unix, where the buffers are mapped")
	}
	for run := range 2 {
		dests := []string{filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "c")}
		for _, d := range dests {
			os.Remove(d)
		}
		runtime.GC()
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		res, err := e.Copy(context.Background(), cvv.Job{Source: src, Dests: dests, Hash: hashing.XXH3})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range res.Dests {
			if d.Err != nil {
				t.Fatal(d.Err)
			}
		}
		if _, err := e.Hash(context.Background(), dests[0], hashing.XXH3); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		if got := after.TotalAlloc - before.TotalAlloc; got >= bs/2 {
			t.Errorf("run %d: copying and hashing %d bytes allocated %d bytes of heap; the %d-byte buffers belong outside it", run, len(data), got, bs)
		}
	}
}
