//go:build !unix

package command

// tryFlock does not lock on this platform.
func tryFlock(dir string, _ bool) (*destLock, error) { return &destLock{dir: dir}, nil }

func (l *destLock) unlock() {}

// lockFile does not lock on this platform.
func lockFile(path string) (*destLock, error) { return &destLock{dir: path}, nil }

// upgrade does not lock on this platform.
func (l *destLock) upgrade() (exclusive, held bool) { return true, true }
