package plan

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestInMemory: a path on a tmpfs, or below it and not there yet, is in
// memory; one on /proc is not, nor are paths of which one is not, nor no
// path at all.
func TestInMemory(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	for _, p := range []string{dir, filepath.Join(dir, "not", "yet")} {
		if !InMemory(p) {
			t.Errorf("InMemory(%s) = false on a tmpfs", p)
		}
	}
	if !InMemory(dir, filepath.Join(dir, "not", "yet")) {
		t.Error("InMemory of two paths on a tmpfs = false")
	}
	if InMemory("/proc/self") {
		t.Error("InMemory(/proc/self) = true")
	}
	if InMemory(dir, "/proc/self") {
		t.Error("InMemory of a tmpfs path and /proc/self = true")
	}
	if InMemory() {
		t.Error("InMemory() = true for no path")
	}
}
