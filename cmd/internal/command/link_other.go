//go:build !unix

package command

import "time"

// lchtimes does nothing where symlink times cannot be set.
func lchtimes(path string, mtime time.Time) error { return nil }
