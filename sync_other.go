//go:build !linux

package cvv

import "os"

// datasync flushes f; off Linux it is a full fsync.
func datasync(f *os.File) error { return f.Sync() }
