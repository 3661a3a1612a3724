package faults

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// TestCopyMemoryPerFile: a copy with --hash-file sums,xxh,mhl, and its
// re-run (everything skipped, nothing rewritten), keep bounded state per
// file. The copy's peak RSS grows by less than 768 bytes per file from
// 10k to 40k files, with either engine (measured on a loaded machine:
// about 430-600 bytes; before, about 1010 bytes, when every file held
// its emptied temp-name slots, each directory was listed once per file
// below it for the ASC MHL histories and each manifest path was a new
// string). The re-run's grows by less than 1.25 KiB per file (measured:
// about 0.6-0.9 KiB with io_uring, 1.07 KiB with the portable engine;
// before, 1.4 and 2.1 KiB, parsing the whole history next to the
// record): it compares its record with the newest ASC MHL generation
// read as a stream. The copy still keeps state per file
// (docs/USAGE.md): this bounds it. With CVV_FAULTS=full the larger tree
// has a million files.
func TestCopyMemoryPerFile(t *testing.T) {
	small, large := 10000, 40000
	if fullRun() {
		small, large = 50000, 1000000
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
	if per := (copyRSS[1] - copyRSS[0]) / int64(large-small); per >= 768 {
		t.Errorf("copy peak RSS grew by %d bytes per file from %d to %d files, want < 768", per, small, large)
	}
	if per := (rerunRSS[1] - rerunRSS[0]) / int64(large-small); per >= 1280 {
		t.Errorf("re-run peak RSS grew by %d bytes per file from %d to %d files, want < 1280", per, small, large)
	}
}
