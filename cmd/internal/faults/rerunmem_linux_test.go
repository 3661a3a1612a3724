package faults

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// TestCopyMemoryPerFile: a copy with --hash-file sums,xxh,mhl, and its
// re-run (everything skipped, nothing rewritten), keep bounded state per
// file. From 10k to 40k files the copy's peak RSS grows by less than 768
// bytes per file and the re-run's by less than 1.25 KiB, with either
// engine: at that size the growth is mostly the memory limit's floor
// and the engine's buffers coming into play (measured on a loaded
// machine: 430-600 bytes either way, with or without the record of the
// run in memory), so these bounds catch gross regressions only. With
// CVV_FAULTS=full the trees have 50,000 and a million files, the growth
// is the state kept per file, and the bounds are tight: 512 bytes per
// file for the copy and 640 for the re-run (measured from 50k to 200k
// files: copy 213 (io_uring) and 465 (portable engine) bytes per file,
// re-run 240 and 455; before the record of each root, about 130 bytes
// per file, was spooled to a temporary file instead of held in memory
// to be written, copy 403 and 748, re-run 358 and 659; from 50k to 1M
// files: copy 247 and 309, re-run 255 with io_uring). The copy still
// keeps the plan's state per file (docs/USAGE.md): this bounds it.
func TestCopyMemoryPerFile(t *testing.T) {
	small, large := 10000, 40000
	copyMax, rerunMax := int64(768), int64(1280)
	if fullRun() {
		small, large = 50000, 1000000
		copyMax, rerunMax = 512, 640
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
