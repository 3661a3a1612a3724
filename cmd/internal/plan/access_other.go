//go:build !unix

package plan

import (
	"fmt"
	"os"
)

// checkCreatable reports whether dir is an existing directory; permissions
// are left to the copy itself on this platform.
func checkCreatable(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	return nil
}
