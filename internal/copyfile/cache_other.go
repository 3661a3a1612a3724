//go:build !linux

package copyfile

import "os"

// DropCache cannot drop cached pages portably; it only syncs f.
func DropCache(f *os.File) error { return f.Sync() }

// AdviseSequential is a no-op off Linux.
func AdviseSequential(*os.File) {}

// StartWriteback is a no-op off Linux.
func StartWriteback(*os.File, int64, int64) {}
