package command

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/cvv-project/cvv"
)

// TestFailedFilesHeldNot: a run where every file fails on its
// destination reports each failure as it happens and keeps counts, not
// the failures. Every copy fails (a destination that dies in the copy),
// or every directory of the tree cannot be made there (one that died
// before): the live heap when the first and when the last failed file
// is reported grows by less than 64 bytes per failed file from 5,000
// to 20,000 failed files (20,000 to 200,000 with CVV_FAULTS=full).
// Measured from 10,000 to 40,000: about 10 bytes per file; before, each
// kept its errors in the heap until the end of the run (374 bytes per
// file failed in the copy, 390 per file whose directory could not be
// made).
func TestFailedFilesHeldNot(t *testing.T) {
	small, large := 5000, 20000
	if os.Getenv("CVV_FAULTS") == "full" {
		small, large = 20000, 200000
	}
	const perFileMax = 64
	for _, blocked := range []bool{false, true} {
		name := map[bool]string{false: "every copy fails", true: "no directory can be made"}[blocked]
		var heap [2]uint64
		for k, n := range []int{small, large} {
			heap[k] = failedRunHeap(t, n, blocked)
			t.Logf("%s, %d files: live heap %.1f MiB at most while they are reported", name, n, float64(heap[k])/(1<<20))
		}
		if per := (int64(heap[1]) - int64(heap[0])) / int64(large-small); per >= perFileMax {
			t.Errorf("%s: live heap grew by %d bytes per failed file from %d to %d, want < %d", name, per, small, large, perFileMax)
		}
	}
}

// failedRunHeap copies a tree of n empty files, with --json, to a
// destination on which every copy fails or, if blocked, where every
// directory of the tree is a file; checks that each failure was reported
// as its file was done; and returns the larger live heap of when the
// first and the last failure was reported.
func failedRunHeap(t *testing.T, n int, blocked bool) uint64 {
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
	dst := filepath.Join(t.TempDir(), "dst")
	if blocked {
		for d := range (n + 499) / 500 {
			if err := os.MkdirAll(dst, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dst, fmt.Sprintf("d%03d", d)), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	var copies atomic.Int64
	engineCopy = func(ctx context.Context, e cvv.Engine, job cvv.Job) (*cvv.Result, error) {
		copies.Add(1)
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
	out := &eventCounter{files: n}
	var errb bytes.Buffer
	app := newApp(strings.NewReader(""), out, &errb)
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
	if want := map[bool]int64{false: int64(n), true: 0}[blocked]; copies.Load() != want {
		t.Errorf("%d files failing: the engine saw %d copies, want %d", n, copies.Load(), want)
	}
	return max(out.heap[0], out.heap[1])
}

// eventCounter reads the NDJSON output of a run as it comes and counts
// its file events with a failed destination, keeping nothing per line;
// it reads the live heap when the first and the last (of files) failed
// file event comes (-j 1: the run is at that file).
type eventCounter struct {
	files                  int
	heap                   [2]uint64
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
		if len(file.Dests) == 1 && file.Dests[0].Status == "failed" && failMessage.MatchString(file.Dests[0].Error) {
			c.failed++
			switch c.failed {
			case 1:
				c.heap[0] = liveHeap()
			case c.files:
				c.heap[1] = liveHeap()
			}
		}
	case "summary":
		if c.firstSummary == 0 {
			c.firstSummary = c.lines
		}
		c.summaryFailed = ev.FilesFailed
	}
}

// failMessage is in the error of each file the runs of
// TestFailedFilesHeldNot fail: the engine's, or the one for a directory
// that cannot be made.
var failMessage = regexp.MustCompile(`input/output error$|^not copied: .* is not a directory$`)

func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
