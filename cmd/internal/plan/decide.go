package plan

import (
	"errors"
	"io/fs"
	"os"
	"time"
)

// Action is what to do with one file on one destination.
type Action uint8

// The actions.
const (
	// Copy writes the file (it is missing, differs, or --overwrite).
	Copy Action = iota
	// Skip leaves an existing file with the same size and mtime alone.
	Skip
	// Recheck hashes a would-be-skipped file on both sides and copies it
	// again only if the hashes differ (--verify-existing).
	Recheck
)

// String names a.
func (a Action) String() string {
	switch a {
	case Copy:
		return "copy"
	case Skip:
		return "skip"
	case Recheck:
		return "recheck"
	}
	return "Action(?)"
}

// Policy says how existing destination files are treated.
type Policy struct {
	// Overwrite copies every file, whatever exists.
	Overwrite bool
	// VerifyExisting turns Skip into Recheck.
	VerifyExisting bool
	// TimeGranularity is the step of the modification times the
	// destination filesystem keeps (DestFS.TimeGranularity): times less
	// than one step apart are the same.
	TimeGranularity time.Duration
}

// Decide returns the action for the source file e at the destination path
// target. A target that does not exist, is not a regular file, or differs in
// size or modification time is copied.
func Decide(target string, e Entry, pol Policy) (Action, error) {
	if pol.Overwrite {
		return Copy, nil
	}
	fi, err := os.Lstat(target)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Copy, nil
		}
		return Copy, err
	}
	if !fi.Mode().IsRegular() || fi.Size() != e.Size || !SameTimeOn(e.ModTime, fi.ModTime(), pol.TimeGranularity) {
		return Copy, nil
	}
	if pol.VerifyExisting {
		return Recheck, nil
	}
	return Skip, nil
}

// SameTime reports whether the destination time dst records the source time
// src on a filesystem whose time granularity is not known (SameTimeOn for
// one that is): dst is src, or src cut to a coarser decimal step (10 ns to
// 1 s), as filesystems that keep less than nanoseconds store it (CIFS
// 100 ns, whole seconds).
func SameTime(src, dst time.Time) bool {
	if src.Equal(dst) {
		return true
	}
	for u := 10 * time.Nanosecond; u <= time.Second; u *= 10 {
		if src.Truncate(u).Equal(dst) {
			return true
		}
	}
	return false
}
