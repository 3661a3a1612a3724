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
