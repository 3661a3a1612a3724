// Package fserr holds the one helper that takes the operation and path off
// a file-system error, so that code which wraps it again in its own
// *os.PathError, or shows only the reason, does not name them twice.
//
// It is a leaf: it imports only the standard library.
package fserr

import (
	"errors"
	"os"
)

// Strip returns the error inside the first *os.PathError, *os.LinkError or
// *os.SyscallError of err's chain ("no such file or directory" rather than
// "lstat /x: no such file or directory"), or err itself when there is none.
func Strip(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err
	}
	return err
}
