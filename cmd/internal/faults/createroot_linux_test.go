package faults

import (
	"path/filepath"
	"testing"
	"time"
)

// Issue 9: a destination root cvv creates is made durable by an fsync of
// its parent, so a power cut right after a run that exited 0 keeps the copy.
func TestPowerCutCreatedRoot(t *testing.T) {
	p := mountPowerFS(t, PowerFSOptions{}, nil)
	src := filepath.Join(t.TempDir(), "src")
	mkdirs(t, src)
	writeFile(t, filepath.Join(src, "f"), "data", time.Now())
	if r := runCVV(t, runOpts{}, "-q", src, filepath.Join(p.Mountpoint, "new")); r.Code != 0 {
		t.Fatalf("copy: %v", r)
	}
	if _, err := p.Cut(); err != nil {
		t.Fatal(err)
	}
	if err := p.Unmount(); err != nil {
		t.Fatal(err)
	}
	if got := describeTree(t, p.Durable); got["new/f"] != "data" {
		t.Errorf("after the power cut: %q, want new/f holding \"data\"", got)
	}
}
