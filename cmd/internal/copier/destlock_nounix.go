//go:build !unix

package copier

// tryFlock does not lock on this platform.
func tryFlock(dir string, _ bool) (*DestLock, error) { return &DestLock{dir: dir}, nil }

func (l *DestLock) Unlock() {}

// lockFile does not lock on this platform.
func lockFile(path string) (*DestLock, error) { return &DestLock{dir: path}, nil }

// upgrade does not lock on this platform.
func (l *DestLock) upgrade() (exclusive, held bool) { return true, true }
