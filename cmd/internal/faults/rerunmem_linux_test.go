package faults

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// TestCopyMemoryPerFile: a copy with --hash-file sums,xxh,mhl, and its
// re-run (everything skipped, nothing rewritten), keep no state per file
// in memory. From 10k to 40k files the copy's peak RSS grows by less than
// 768 bytes per file and the re-run's by less than 1.25 KiB, with either
// engine: at that size the growth is mostly the memory limit's floor
// and the engine's buffers coming into play, so these bounds catch gross
// regressions only (measured on a heavily loaded machine: 160-230 bytes
// per file, one re-run with the portable engine 778; 420-540 with the
// tree's entries and the hashes in memory). With CVV_FAULTS=full the
// trees have 50,000 and a million files, the growth is the state kept
// per file, and the bound is 32 bytes per file for the copy and the
// re-run: the per-file records are in a paged temporary file
// (docs/USAGE.md). Measured from 50k to 1M files (loaded machine): copy
// 15 (io_uring) and 12 (portable engine), re-run 15 and 11; with a
// 42-byte record per file in the heap, copy 86 and 118, re-run 61 and
// 101 (61, 126, 69 and 107 in an earlier run; with the hashes in memory too, copy 125 and 189, re-run
// 122 and 184; with the tree's entries in memory too, copy 247 and 309,
// re-run 255).
func TestCopyMemoryPerFile(t *testing.T) {
	small, large := 10000, 40000
	copyMax, rerunMax := int64(768), int64(1280)
	if fullRun() {
		small, large = 50000, 1000000
		copyMax, rerunMax = 32, 32
	}
	work := workDir(t, 8<<30)
	var copyRSS, rerunRSS [2]int64
	for i, n := range []int{small, large} {
		src := filepath.Join(work, fmt.Sprint(n), "src")
		dst := filepath.Join(work, fmt.Sprint(n), "dst")
		makeScaleTree(t, src, n)
		args := []string{"-q", "-m", "transfer", "--hash-file", "sums,xxh,mhl", src, dst}
		for _, run := range []struct {
			name string
			rss  *int64
		}{{"copy", &copyRSS[i]}, {"re-run", &rerunRSS[i]}} {
			code, peak, wall := timedRSS(t, 30*time.Minute, args...)
			if code != 0 {
				t.Fatalf("%s of %d files: exit %d", run.name, n, code)
			}
			*run.rss = peak
			t.Logf("%s, %d empty files: peak RSS %.1f MiB, %v", run.name, n, float64(peak)/(1<<20), wall.Round(time.Millisecond))
		}
	}
	if per := (copyRSS[1] - copyRSS[0]) / int64(large-small); per >= copyMax {
		t.Errorf("copy peak RSS grew by %d bytes per file from %d to %d files, want < %d", per, small, large, copyMax)
	}
	if per := (rerunRSS[1] - rerunRSS[0]) / int64(large-small); per >= rerunMax {
		t.Errorf("re-run peak RSS grew by %d bytes per file from %d to %d files, want < %d", per, small, large, rerunMax)
	}
}
