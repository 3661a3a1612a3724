//go:build !linux

package plan

// DetectFS returns what the filesystem holding path can hold. Only Linux
// detects restricted filesystems; elsewhere every destination is taken for
// an ordinary POSIX filesystem.
func DetectFS(path string) (DestFS, error) { return DestFS{}, nil }

// CaseFolded reports whether the directory dir folds the case of the names
// in it; only Linux tells (FS_CASEFOLD_FL).
func CaseFolded(dir string) (bool, error) { return false, nil }

// InMemory reports whether path is on a filesystem held in memory; only
// Linux tells.
func InMemory(path string) bool { return false }
