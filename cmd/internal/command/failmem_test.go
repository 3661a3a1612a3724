package command

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/cvv-project/cvv"
)

// TestFailedFilesHeldNot: a run where every file fails on its
// destination (a destination that dies early, a tree of unreadable
// files) reports each failure as it happens and keeps counts, not the
// failures: the live heap once all but the last file are reported grows
// by less than 64 bytes per failed file from 10,000 to 40,000 failed
// files (200,000 with CVV_FAULTS=full). Each kept its errors in the heap
// until the end of the run before: about 330 bytes per failed file.
func TestFailedFilesHeldNot(t *testing.T) {
	small, large := 10000, 40000
	if os.Getenv("CVV_FAULTS") == "full" {
		small, large = 20000, 200000
	}
	const perFileMax = 64
	var heap [2]uint64
	for k, n := range []int{small, large} {
		heap[k] = failedRunHeap(t, n)
		t.Logf("%d failed files: live heap %.1f MiB before the last is reported", n, float64(heap[k])/(1<<20))
	}
	if per := (int64(heap[1]) - int64(heap[0])) / int64(large-small); per >= perFileMax {
		t.Errorf("live heap grew by %d bytes per failed file from %d to %d, want < %d", per, small, large, perFileMax)
	}
}

// failedRunHeap copies a tree of n empty files to a destination on
// which every copy fails, with --json, checks that each failure was
// reported as its file was done, and returns the live heap when the
// last file is handed to the engine.
func failedRunHeap(t *testing.T, n int) uint64 {
	src := filepath.Join(t.TempDir(), "src")
	for i := range n {
		dir := filepath.Join(src, fmt.Sprintf("d%03d", i/500))
		if i%500 == 0 {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%04d", i%500)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var copies atomic.Int64
	var heap uint64
	engineCopy = func(ctx context.Context, e cvv.Engine, job cvv.Job) (*cvv.Result, error) {
		if copies.Add(1) == int64(n) {
			// Every other file is reported (-j 1): what is left in the
			// heap is what the run keeps of them.
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			heap = ms.HeapAlloc
		}
		res := &cvv.Result{Dests: make([]cvv.DestResult, len(job.Dests))}
		for k, d := range job.Dests {
			// An error of its own for each file, as a real one is.
			res.Dests[k].Err = &os.PathError{Op: "create", Path: d, Err: syscall.EIO}
		}
		return res, nil
	}
	t.Cleanup(func() {
		engineCopy = func(ctx context.Context, e cvv.Engine, job cvv.Job) (*cvv.Result, error) { return e.Copy(ctx, job) }
	})
	out := &eventCounter{}
	var errb bytes.Buffer
	app := newApp(strings.NewReader(""), out, &errb)
	dst := filepath.Join(t.TempDir(), "dst")
	err := app.RunContext(context.Background(), []string{"cvv", "--json", "-j", "1", "--no-fsync", "--no-report", "-m", "transfer", src, dst})
	if code := exitStatus(err, nil); code != ExitFailure {
		t.Fatalf("%d files failing: exit %d, want %d: %v\n%s", n, code, ExitFailure, err, errb.String())
	}
	if out.err != nil {
		t.Fatal(out.err)
	}
	if out.failed != n || out.summaryFailed != n || out.firstSummary == 0 || out.lastFile > out.firstSummary {
		t.Errorf("%d files failing: %d file events with a failed destination, summary says %d failed (its line %d, last file event's %d)",
			n, out.failed, out.summaryFailed, out.firstSummary, out.lastFile)
	}
	if heap == 0 {
		t.Fatalf("%d files: the engine saw %d copies", n, copies.Load())
	}
	return heap
}

// eventCounter reads the NDJSON output of a run as it comes and counts
// its file events with a failed destination, keeping nothing per line.
type eventCounter struct {
	mu                     sync.Mutex
	partial                []byte
	lines                  int
	failed                 int
	lastFile, firstSummary int
	summaryFailed          int
	err                    error
}

func (c *eventCounter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.partial = append(c.partial, p...)
	for {
		i := bytes.IndexByte(c.partial, '\n')
		if i < 0 {
			break
		}
		c.line(c.partial[:i])
		c.partial = c.partial[:copy(c.partial, c.partial[i+1:])]
	}
	return len(p), nil
}

func (c *eventCounter) line(l []byte) {
	c.lines++
	var ev struct {
		Event       string `json:"event"`
		FilesFailed int    `json:"files_failed"`
	}
	var file struct {
		Dests []struct {
			Status string `json:"status"`
			Error  string `json:"error"`
		} `json:"dests"`
	}
	err := json.Unmarshal(l, &ev)
	if err == nil && ev.Event == "file" {
		err = json.Unmarshal(l, &file)
	}
	if err != nil {
		if c.err == nil {
			c.err = fmt.Errorf("line %d: %w: %s", c.lines, err, l)
		}
		return
	}
	switch ev.Event {
	case "file":
		c.lastFile = c.lines
		if len(file.Dests) == 1 && file.Dests[0].Status == "failed" && strings.Contains(file.Dests[0].Error, "input/output error") {
			c.failed++
		}
	case "summary":
		if c.firstSummary == 0 {
			c.firstSummary = c.lines
		}
		c.summaryFailed = ev.FilesFailed
	}
}
