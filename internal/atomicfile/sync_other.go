//go:build !linux

package atomicfile

import "os"

// datasync flushes f; off Linux it is a full fsync.
func datasync(f *os.File) error { return f.Sync() }

// Preallocate is a no-op off Linux: a full disk shows at the first write.
func Preallocate(*os.File, int64) error { return nil }
