package faults

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// TestRerunMemoryPerFile: a re-run of a finished copy with --hash-file
// sums,xxh,mhl (everything skipped, nothing rewritten) compares its
// record with the newest ASC MHL generation read as a stream, and keeps
// its soft memory limit above the live heap: its peak RSS grows by less
// than 1.25 KiB per file from 10k to 40k files, with either engine
// (measured: about 0.6-0.9 KiB with io_uring, 1.07 KiB with the portable
// engine; before, 1.4 and 2.1 KiB, parsing the whole history next to the
// record). The copy itself still
// keeps state per file (docs/USAGE.md): this bounds what a re-run adds.
func TestRerunMemoryPerFile(t *testing.T) {
	small, large := 10000, 40000
	work := workDir(t, 2<<30)
	var rss [2]int64
	for i, n := range []int{small, large} {
		src := filepath.Join(work, fmt.Sprint(n), "src")
		dst := filepath.Join(work, fmt.Sprint(n), "dst")
		makeScaleTree(t, src, n)
		args := []string{"-q", "-m", "transfer", "--hash-file", "sums,xxh,mhl", src, dst}
		if r := runCVV(t, runOpts{Timeout: 15 * time.Minute}, args...); r.Code != 0 {
			t.Fatalf("copy of %d files: exit %d\n%v", n, r.Code, r)
		}
		code, peak, wall := timedRSS(t, 15*time.Minute, args...)
		if code != 0 {
			t.Fatalf("re-run of %d files: exit %d", n, code)
		}
		rss[i] = peak
		t.Logf("re-run, %d empty files: peak RSS %.1f MiB, %v", n, float64(peak)/(1<<20), wall.Round(time.Millisecond))
	}
	if per := (rss[1] - rss[0]) / int64(large-small); per >= 1280 {
		t.Errorf("re-run peak RSS grew by %d bytes per file from %d to %d files, want < 1280", per, small, large)
	}
}
