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
	if !fi.Mode().IsRegular() || fi.Size() != e.Size || !SameTime(e.ModTime, fi.ModTime()) {
		return Copy, nil
	}
	if pol.VerifyExisting {
		return Recheck, nil
	}
	return Skip, nil
}

// SameTime reports whether the destination time dst records the source time
// src. A destination with a whole-second time (a filesystem without
// sub-second timestamps) matches a source in the same second.
func SameTime(src, dst time.Time) bool {
	if src.Equal(dst) {
		return true
	}
	return dst.Nanosecond() == 0 && src.Unix() == dst.Unix()
}
