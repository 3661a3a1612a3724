package plan

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestInMemory: a path on a tmpfs, or below it and not there yet, is in
// memory; one on /proc is not.
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
	if InMemory("/proc/self") {
		t.Error("InMemory(/proc/self) = true")
	}
}
