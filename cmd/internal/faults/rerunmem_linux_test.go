package faults

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// TestCopyMemoryPerFile: a copy with --hash-file sums,xxh,mhl, and its
// re-run (everything skipped, nothing rewritten), keep bounded state per
// file. From 10k to 40k files the copy's and the re-run's peak RSS grow
// by less than 384 bytes per file, with either engine (measured on a
// loaded machine: copy 230 (io_uring) and 184 (portable engine), re-run
// 225 and 283; before the tree's entries went to a temporary file
// (plan.FileList), copy 453 and 454, re-run 539 and 424): at that size
// part of the growth is the memory limit's floor and the engine's
// buffers coming into play. With CVV_FAULTS=full the trees have 50,000
// and a million files, the growth is the state kept per file, and the
// bound is 224 bytes per file for the copy and the re-run (measured from
// 50k to 1M files: copy 125 (io_uring) and 189 (portable engine), re-run
// 122 and 184; before, copy 247 and 309, re-run 255 with io_uring).
// The copy still keeps a record per file (docs/USAGE.md): this bounds it.
func TestCopyMemoryPerFile(t *testing.T) {
	small, large := 10000, 40000
	copyMax, rerunMax := int64(384), int64(384)
	if fullRun() {
		small, large = 50000, 1000000
		copyMax, rerunMax = 224, 224
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
