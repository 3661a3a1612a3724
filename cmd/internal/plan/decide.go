package plan

import (
	"errors"
	"io/fs"
	"time"

	"github.com/cvv-project/cvv/internal/atomicfile"
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
	// again only if the hashes differ (--verify-existing, or a copy not
	// known to be verified as strictly as the run asks).
	Recheck
	// Conflict: the destination holds something else under the name (a
	// file of another size or mtime, a directory, a symlink): it is not
	// replaced unless the policy says so.
	Conflict
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
	case Conflict:
		return "conflict"
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
	// Level is the verification the run asks for, Alg its hash algorithm
	// (hashing.Algorithm spelling): a file is skipped only if it is known
	// to have been verified at least that strictly (Record.Covers).
	Level Level
	Alg   string
}

// Decide returns the action for the source file e at the destination path
// target, from an lstat of target and its Record (Classify), and what is
// there (nil if nothing). target's directory is opened by its path;
// below a destination root, use DecideIn.
func Decide(target string, e Entry, pol Policy) (Action, fs.FileInfo, error) {
	dir, name, err := atomicfile.OpenParent(nil, target)
	if errors.Is(err, fs.ErrNotExist) {
		return Copy, nil, nil
	}
	if err != nil {
		return Copy, nil, err
	}
	defer dir.Close()
	a, ex, err := DecideIn(dir, name, e, pol)
	return a, ex.Info, err
}

// Existing is what a destination holds under a file's name, as DecideIn
// found it.
type Existing struct {
	// Info is from lstat, nil when nothing is there.
	Info fs.FileInfo
	// Record is the verification record of a regular file there, valid
	// when HasRecord is set (there is one cvv wrote and can read).
	Record    Record
	HasRecord bool
}

// DecideIn is Decide for the entry name in dir, a destination directory
// opened below its root (atomicfile.Dir): the lstat and the record are read from
// dir's descriptor, so nothing above dir is resolved again and no symlink
// is followed. It returns what it found there, the record too: a caller
// that needs the record takes it from here rather than reading it again.
func DecideIn(dir *atomicfile.Dir, name string, e Entry, pol Policy) (Action, Existing, error) {
	fi, err := dir.Lstat(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Copy, Existing{}, nil
		}
		return Copy, Existing{}, err
	}
	ex := Existing{Info: fi}
	var rec *Record
	if fi.Mode().IsRegular() {
		if ex.Record, ex.HasRecord = ReadRecordIn(dir, name); ex.HasRecord {
			rec = &ex.Record
		}
	}
	return Classify(fi, rec, e, pol), ex, nil
}

// Classify decides what to do with the source file e where the
// destination already holds fi (from lstat), with its Record rec (nil if
// none). A file under its final name was verified at least at
// LevelTransfer when it was copied (cvv names a copy only once it is
// verified); rec may prove more. So:
//   - nothing there (fi nil): Copy;
//   - another type (a directory, a symlink), or a file of another size or
//     mtime: Conflict, whatever the policy (the caller resolves it: it is
//     not a file to skip or re-copy silently);
//   - the same size and mtime: Copy with pol.Overwrite; else, if verified
//     (by rec) as strictly as pol asks, Skip, or Recheck with
//     pol.VerifyExisting;
//   - the same size and mtime, not known to be verified that strictly
//     (no record, a weaker level, another hash): Recheck, which hashes both
//     sides and copies again only if they differ.
func Classify(fi fs.FileInfo, rec *Record, e Entry, pol Policy) Action {
	if fi == nil {
		return Copy
	}
	if !fi.Mode().IsRegular() || fi.Size() != e.Size || !SameTimeOn(e.ModTime, fi.ModTime(), pol.TimeGranularity) {
		return Conflict
	}
	if pol.Overwrite {
		return Copy
	}
	covered := pol.Level == LevelTransfer
	if rec != nil && rec.Of(e) {
		covered = rec.Covers(e, pol)
	}
	if !covered || pol.VerifyExisting {
		return Recheck
	}
	return Skip
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
