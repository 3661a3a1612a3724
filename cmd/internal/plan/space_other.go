//go:build !unix

package plan

import (
	"math"
	"os"
)

type fsStat struct {
	id        uint64
	avail     int64
	blockSize int64
}

// statFS cannot measure free space on this platform: it reports one
// filesystem with unlimited space, so the check never refuses a copy.
func statFS(path string) (fsStat, error) {
	if _, err := os.Lstat(path); err != nil {
		return fsStat{}, err
	}
	return fsStat{avail: math.MaxInt64, blockSize: 4096}, nil
}

func lstatDev(path string) (uint64, error) {
	_, err := os.Lstat(path)
	return 0, err
}
