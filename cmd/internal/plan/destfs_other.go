//go:build !linux

package plan

// DetectFS returns what the filesystem holding path can hold. Only Linux
// detects restricted filesystems; elsewhere every destination is taken for
// an ordinary POSIX filesystem.
func DetectFS(path string) (DestFS, error) { return DestFS{}, nil }

// CaseFolded reports whether the directory dir folds the case of the names
// in it; only Linux tells (FS_CASEFOLD_FL).
func CaseFolded(dir string) (bool, error) { return false, nil }

// InMemory reports whether every path is on a filesystem held in memory;
// only Linux tells.
func InMemory(paths ...string) bool { return false }
