package ui

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/vbauerster/mpb/v8"
)

// The bars of a run cut short (Ctrl-C) stay where they were: they used to
// be drawn full beside "97.0 MiB / 240.0 MiB".
func TestBarsStopWhereTheRunStopped(t *testing.T) {
	for _, tc := range []struct {
		name     string
		done     int64
		wantFull bool
	}{
		{"interrupted", 50 << 20, false},
		{"complete", 100 << 20, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			s := Snapshot{Phase: "copy", BytesDone: tc.done, BytesTotal: 100 << 20, FilesDone: 1, FilesTotal: 2, ETA: -1, VerifyETA: -1,
				Dests: []DestProgress{{Name: "a", State: "writing"}}}
			b := newBars(&out, s, mpb.WithAutoRefresh(), mpb.WithWidth(160))
			time.Sleep(400 * time.Millisecond) // a few frames
			b.stop()
			var last string
			for _, line := range strings.Split(out.String(), "\n") {
				if strings.Contains(line, "copy ") {
					last = line
				}
			}
			if last == "" {
				t.Fatalf("no copy bar drawn:\n%q", out.String())
			}
			i, j := strings.LastIndex(last, "["), strings.LastIndex(last, "]")
			if i < 0 || j < i+2 {
				t.Fatalf("no bar in %q", last)
			}
			if got := strings.Trim(last[i+1:j], "=") == ""; got != tc.wantFull {
				t.Errorf("last copy bar %q: full %v, want %v", last, got, tc.wantFull)
			}
		})
	}
}
