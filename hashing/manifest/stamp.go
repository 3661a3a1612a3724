package manifest

import (
	"os"
	"time"
)

// pathStamp is what a file or directory looks like from its metadata:
// any change to its content or entries changes its change time (and a
// replacement its inode), which nobody can set back.
type pathStamp struct {
	path       string
	exists     bool
	dev, ino   uint64
	size       int64
	mode       os.FileMode
	mtime      time.Time
	ctime      time.Time
	ctimeKnown bool
}

// stampMargin is how long before a read a stamp's change time must be
// for a later change to show as another change time: more than a tick of
// the kernel's coarse clock, which file times are taken from, and than
// the 2 s granularity of FAT's times. A variable so that tests can read
// a history just written ahead.
var stampMargin = 3 * time.Second

// stampPath stamps p, following symlinks as the reads do (a history
// folder that is a symlink is stamped as the folder it leads to); a path
// that cannot be stamped is one that does not exist.
func stampPath(p string) pathStamp {
	s := pathStamp{path: p}
	fi, err := os.Stat(p)
	if err != nil {
		return s
	}
	s.exists, s.size, s.mode, s.mtime = true, fi.Size(), fi.Mode(), fi.ModTime()
	s.dev, s.ino, s.ctime, s.ctimeKnown = sysStamp(fi)
	return s
}

// same reports whether s and t stamp p alike.
func (s pathStamp) same(t pathStamp) bool {
	return s.path == t.path && s.exists == t.exists && s.dev == t.dev && s.ino == t.ino && s.size == t.size &&
		s.mode == t.mode && s.mtime.Equal(t.mtime) && s.ctime.Equal(t.ctime) && s.ctimeKnown == t.ctimeKnown
}

// racy reports whether a change made after start might leave s as it
// is: its change time is unknown, or not older than start by stampMargin.
func (s pathStamp) racy(start time.Time) bool {
	return s.exists && (!s.ctimeKnown || !s.ctime.Before(start.Add(-stampMargin)))
}
