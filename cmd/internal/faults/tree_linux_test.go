package faults

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// treeSpec is a source tree of large and small files.
type treeSpec struct {
	Large     int   // number of large files
	LargeSize int64 // size of each (an odd tail is added)
	Small     int   // number of small files, 0 to 64 KiB, spread over subdirectories
}

// buildTree writes spec under root and returns the sha256 of every file by
// relative path.
func buildTree(t testing.TB, root string, spec treeSpec) map[string]string {
	t.Helper()
	for i := range spec.Large {
		writeRandom(t, filepath.Join(root, "large", fmt.Sprintf("clip%02d.mov", i)), spec.LargeSize+int64(i*4099), uint64(1000+i))
	}
	for i := range spec.Small {
		size := int64((i * 7919) % (64 << 10))
		if i%10 == 0 {
			size = 0
		}
		writeRandom(t, filepath.Join(root, fmt.Sprintf("small/d%d", i%5), fmt.Sprintf("f%03d.dat", i)), size, uint64(i))
	}
	if err := os.MkdirAll(filepath.Join(root, "empty-dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	return treeFiles(t, root)
}

// workDir returns a fresh directory for a CLI test: on a private tmpfs when
// root (fast, and fsync is cheap), else under t.TempDir.
func workDir(t testing.TB, size int64) string {
	t.Helper()
	if os.Geteuid() == 0 {
		return mountTmpfs(t, size)
	}
	return t.TempDir()
}
