//go:build !linux

package atomicfile

import (
	"errors"
	"os"
)

// SyncFS is syncfs(2) of the filesystem holding d, which only Linux has:
// elsewhere it fails with errors.ErrUnsupported.
func (d *Dir) SyncFS() error {
	return &os.PathError{Op: "syncfs", Path: d.path, Err: errors.ErrUnsupported}
}
