//go:build !linux

package fallback

import "os"

// adviseSequential is a no-op off Linux.
func adviseSequential(*os.File) {}

// dropCache cannot drop cached pages portably; it only syncs f.
func dropCache(f *os.File) {
	_ = f.Sync() // best effort, as on Linux
}

// startWriteback is a no-op off Linux.
func startWriteback(*os.File, int64, int64) {}
