//go:build !linux

package fallback

import "os"

// preallocate is a no-op off Linux.
func preallocate(*os.File, int64) error { return nil }

// adviseSequential is a no-op off Linux.
func adviseSequential(*os.File) {}

// dropCache cannot drop cached pages portably; it syncs f and reports false.
func dropCache(f *os.File) bool {
	_ = f.Sync() // best effort; the result is reported as not from the media
	return false
}

// startWriteback is a no-op off Linux.
func startWriteback(*os.File, int64, int64) {}
