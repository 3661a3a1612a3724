//go:build linux

package main

import (
	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/uring"
)

// openProbe opens the io_uring engine to see whether the kernel offers it.
func openProbe() (cvv.Engine, string, error) {
	e, err := uring.New(cvv.Options{})
	if err != nil {
		return nil, "", err
	}
	return e, "", nil
}
