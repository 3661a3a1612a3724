package fserr

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"
)

func TestStrip(t *testing.T) {
	for _, tc := range []struct {
		in   error
		want error
	}{
		{&os.PathError{Op: "pwrite", Path: "/d/f", Err: syscall.ENOSPC}, syscall.ENOSPC},
		{fmt.Errorf("wrapped: %w", &os.PathError{Op: "lstat", Path: "/x", Err: syscall.ENOENT}), syscall.ENOENT},
		{&os.LinkError{Op: "rename", Old: "/a", New: "/b", Err: syscall.EXDEV}, syscall.EXDEV},
		{os.NewSyscallError("fsync", syscall.EINVAL), syscall.EINVAL},
		{syscall.EIO, syscall.EIO},
	} {
		if got := Strip(tc.in); got != tc.want {
			t.Errorf("Strip(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	plain := errors.New("plain")
	if got := Strip(plain); got != plain {
		t.Errorf("Strip(plain) = %v, want it unchanged", got)
	}
}
