//go:build unix

package copier

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// tryFlock takes the flock on dir, shared or exclusive, without waiting;
// errLocked when another open file description holds it in a way that
// excludes it.
func tryFlock(dir string, shared bool) (*DestLock, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	how := unix.LOCK_EX
	if shared {
		how = unix.LOCK_SH
	}
	for {
		err = unix.Flock(fd, how|unix.LOCK_NB)
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
	return &DestLock{dir: dir, fd: fd}, nil
}

// unlock releases the lock.
func (l *DestLock) Unlock() {
	unix.Flock(l.fd, unix.LOCK_UN)
	unix.Close(l.fd)
}

// lockFile takes the exclusive flock on the file at path, created if
// missing (never through a symlink), waiting for it.
func lockFile(path string) (*DestLock, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	for {
		err = unix.Flock(fd, unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "flock", Path: path, Err: err}
	}
	return &DestLock{dir: path, fd: fd}, nil
}

// upgrade tries to turn l, held shared, exclusive without waiting:
// exclusive reports that it is. A failed conversion drops the shared lock
// (flock(2) removes the old lock first); it is taken again, and held
// reports whether that worked (not when another run took the lock
// exclusive in between).
func (l *DestLock) upgrade() (exclusive, held bool) {
	flock := func(how int) error {
		for {
			err := unix.Flock(l.fd, how|unix.LOCK_NB)
			if !errors.Is(err, unix.EINTR) {
				return err
			}
		}
	}
	if flock(unix.LOCK_EX) == nil {
		return true, true
	}
	return false, flock(unix.LOCK_SH) == nil
}
