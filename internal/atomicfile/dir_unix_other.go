//go:build unix && !linux

package atomicfile

import (
	"errors"
	"time"

	"golang.org/x/sys/unix"
)

// openBeneath2 is Linux's openat2; elsewhere openBeneath walks one
// component at a time.
func openBeneath2(*Dir, string) (dirSys, error) { return dirSys{-1}, errors.ErrUnsupported }

// futimes sets the access and modification times of d itself.
func futimes(d *Dir, mtime time.Time) error {
	tv := unix.NsecToTimeval(mtime.UnixNano())
	return unix.Futimes(d.fd(), []unix.Timeval{tv, tv})
}
