//go:build unix

package command

import (
	"errors"

	"golang.org/x/sys/unix"
)

// tryLock takes the exclusive flock on dir without waiting; errLocked when
// another open file description holds it.
func tryLock(dir string) (*destLock, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	for {
		err = unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, errLocked
		}
		return nil, err
	}
	return &destLock{dir: dir, fd: fd}, nil
}

// unlock releases the lock.
func (l *destLock) unlock() {
	unix.Flock(l.fd, unix.LOCK_UN)
	unix.Close(l.fd)
}
