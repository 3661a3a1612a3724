package cvv

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Temp files are named ".cvv-<16 hex digits>.partial" in the destination's
// directory: short enough for any final name (even a 255-byte one), random so
// that two runs never share one, and recognisable so that a later run can
// remove what an interrupted one left behind.
const (
	tempPrefix = ".cvv-"
	tempSuffix = ".partial"
)

// TempName returns a fresh temp path in the directory of final.
func TempName(final string) string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("cvv: crypto/rand failed: " + err.Error())
	}
	return filepath.Join(filepath.Dir(final), tempPrefix+hex.EncodeToString(b[:])+tempSuffix)
}

// IsTempName reports whether the base name name is one TempName makes.
func IsTempName(name string) bool {
	if !strings.HasPrefix(name, tempPrefix) || !strings.HasSuffix(name, tempSuffix) {
		return false
	}
	mid := name[len(tempPrefix) : len(name)-len(tempSuffix)]
	if len(mid) != 16 {
		return false
	}
	_, err := hex.DecodeString(mid)
	return err == nil
}

// CreateTemp creates a new temp file for final with O_RDWR|O_CREATE|O_EXCL
// and the extra open flags (O_DIRECT, say). It returns the temp path.
func CreateTemp(final string, extraFlags int) (string, *os.File, error) {
	for range 4 {
		tmp := TempName(final)
		f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL|extraFlags, 0o600)
		if err == nil {
			return tmp, f, nil
		}
		if !errors.Is(err, os.ErrExist) {
			// Some filesystems create the file, then refuse a flag such as
			// O_DIRECT with EINVAL. O_EXCL means any file at tmp is the one
			// this call made: remove it so no stray temp is left.
			if errors.Is(err, syscall.EINVAL) {
				os.Remove(tmp)
			}
			return "", nil, err
		}
	}
	return "", nil, &os.PathError{Op: "create", Path: final, Err: os.ErrExist}
}

// Sync says what Commit makes durable.
type Sync int

// The sync modes.
const (
	// SyncFull: fdatasync the data, rename, fsync the directory.
	SyncFull Sync = iota
	// SyncData: fdatasync the data, rename; the caller fsyncs the directory.
	SyncData
	// SyncNone: no syncs at all (--no-fsync).
	SyncNone
)

// SourceAttrs is what a destination inherits from its source.
type SourceAttrs struct {
	Mode    os.FileMode
	ModTime time.Time
}

// Commit makes the temp file tmp, open as f with exactly size bytes of data,
// the file final: Finish, then Place. On error tmp is removed and final is
// untouched, except when only the directory fsync failed: the complete copy
// is then in place under final, but its rename may not be durable, and the
// error says so.
func Commit(f *os.File, tmp, final string, attrs *SourceAttrs, sync Sync) error {
	if err := Finish(f, tmp, final, attrs, sync); err != nil {
		return err
	}
	return Place(tmp, final, sync)
}

// Finish completes the temp file tmp, open as f with exactly its data: it
// applies attrs (unless nil), syncs (unless SyncNone: fsync when attrs were
// applied, so they are durable too, else fdatasync) and closes f. The data
// and attributes of tmp are then durable, under its temp name; final only
// names the file in errors. On error it closes f if still open, removes tmp and
// returns an error naming the step.
func Finish(f *os.File, tmp, final string, attrs *SourceAttrs, sync Sync) (err error) {
	closed := false
	defer func() {
		if err != nil {
			if !closed {
				f.Close()
			}
			os.Remove(tmp)
		}
	}()
	if attrs != nil {
		// A filesystem without permission bits (fusefat) may not implement
		// chmod at all; the CLI checks the mode where one is kept.
		if err := f.Chmod(attrs.Mode.Perm()); err != nil && !errors.Is(err, syscall.ENOSYS) && !errors.Is(err, syscall.ENOTSUP) {
			return err
		}
		// After the last write, so nothing moves the mtime again, and
		// before the sync, so that it is durable with the data: a copy
		// whose mtime a power cut lost would look like another file (a
		// conflict) to the next run. Both times are given: exfat-fuse
		// ignores an mtime sent with the atime left alone (UTIME_OMIT) and
		// keeps the time of the copy.
		if err := os.Chtimes(tmp, attrs.ModTime, attrs.ModTime); err != nil {
			return err
		}
	}
	if sync != SyncNone {
		// fsync, not fdatasync, when attributes were set: fdatasync may
		// leave the mtime and mode behind.
		op, serr := "fdatasync", error(nil)
		if attrs != nil {
			op, serr = "fsync", f.Sync()
		} else {
			serr = datasync(f)
		}
		if serr != nil {
			return &os.PathError{Op: op, Path: final, Err: unwrapSyscall(serr)}
		}
	}
	closed = true
	return f.Close()
}

// Place renames tmp, a file Finish completed, onto final and fsyncs final's
// directory (with SyncFull only). If the rename fails, tmp is removed and
// final is untouched. If only the directory fsync fails, the file is in
// place under final but its rename may not be durable: the error says so,
// and the caller must not claim durability.
func Place(tmp, final string, sync Sync) error {
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return err
	}
	if sync == SyncFull {
		if err := SyncDir(filepath.Dir(final)); err != nil {
			return err
		}
	}
	return nil
}

// Abort closes f (if not nil) and removes tmp. It is for failure paths; its
// own errors are of no further use and are returned joined.
func Abort(f *os.File, tmp string) error {
	var errs []error
	if f != nil {
		if err := f.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
			errs = append(errs, err)
		}
	}
	if tmp != "" {
		if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// SyncDir fsyncs the directory dir so that a rename in it is durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	serr := d.Sync()
	cerr := d.Close()
	if serr != nil {
		// Some filesystems do not support fsync on directories.
		if errors.Is(serr, syscall.EINVAL) || errors.Is(serr, syscall.ENOTSUP) {
			serr = nil
		}
	}
	if serr != nil {
		return &os.PathError{Op: "fsync", Path: dir, Err: unwrapSyscall(serr)}
	}
	return cerr
}

// unwrapSyscall strips an *os.PathError or *os.SyscallError so that a new
// PathError does not name the operation twice.
func unwrapSyscall(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err
	}
	return err
}

// DestError wraps err, an error on destination path, so that ErrDiskFull
// matches ENOSPC and EDQUOT.
func DestError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		if !errors.Is(err, ErrDiskFull) {
			return fmt.Errorf("%w: %w", ErrDiskFull, err)
		}
	}
	return err
}

// Complete ends the copy of job to one destination: Commit, or with
// job.Hold only Finish, in which case it returns tmp, now the caller's.
func (j *Job) Complete(f *os.File, tmp, final string, attrs *SourceAttrs) (held string, err error) {
	if j.Hold {
		if err := Finish(f, tmp, final, attrs, j.SyncMode()); err != nil {
			return "", err
		}
		return tmp, nil
	}
	return "", Commit(f, tmp, final, attrs, j.SyncMode())
}
