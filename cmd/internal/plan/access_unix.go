//go:build unix

package plan

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// checkCreatable reports whether entries can be created in the existing
// directory dir: write and search permission, and a filesystem that is not
// mounted read-only (access(2) reports EROFS for that, even to root).
func checkCreatable(dir string) error {
	if err := unix.Access(dir, unix.W_OK|unix.X_OK); err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	return nil
}
