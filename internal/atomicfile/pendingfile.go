// Package atomicfile holds the one place where cvv writes a file so that
// a reader sees the old file or the complete new one, and the rule that
// nothing below a destination root is reached through a symlink.
//
// The durability order lives here and nowhere else: create a temp file
// (TempName) in the destination's directory, write, apply the attributes,
// fdatasync (fsync with attributes), rename onto the final name, fsync the
// directory (PendingFile: CreatePending, Commit or Finish then Place,
// Abort). Both engines, the manifest writers and the HTML report create
// every file through it; google/renameio's PendingFile is the model.
//
// It is a leaf below the contract: it imports neither the root package
// nor an engine, and it never reads or hashes file data.
package atomicfile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/cvv-project/cvv/internal/fserr"
)

// Temp files are named ".cvv-<16 hex digits>.partial" in the destination's
// directory: short enough for any final name (even a 255-byte one), random so
// that two runs never share one, and recognisable so that a later run can
// remove what an interrupted one left behind.
const (
	tempPrefix = ".cvv-"
	tempSuffix = ".partial"
)

// TempName returns a fresh temp file name (a base name, no directory).
func TempName() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("cvv: crypto/rand failed: " + err.Error())
	}
	return tempPrefix + hex.EncodeToString(b[:]) + tempSuffix
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
	// Owner is the owner and group to give the copy, nil to leave it.
	Owner *Owner
	// Xattrs are the extended attributes and ACLs to set (AttrsOf).
	Xattrs []Xattr
}

// PendingFile is a destination file being written: a temp file (TempName)
// in the destination's directory, held open with that directory, that
// Commit makes the final file and Abort removes. Both engines and the
// manifest writer create every destination file through it, so the
// durability order (data, fdatasync, rename, fsync of the directory) and
// the rule that nothing is reached through a symlink below a destination
// root (see Dir) live here once.
//
// File is the temp file; write to it, never close it. A PendingFile is not
// safe for concurrent use.
type PendingFile struct {
	File *os.File
	// Unkept, set by Finish, wraps ErrNoXattrs when the destination's
	// filesystem could not hold the extended attributes: the copy is
	// complete without them.
	Unkept error
	// SyncFile, if set, is what Finish calls to make File's data durable
	// (with full, its attributes too) in place of fdatasync(2) (fsync(2)):
	// the io_uring engine sends it through its ring. Finish keeps the
	// order around it.
	SyncFile func(f *os.File, full bool) error

	dir   *Dir
	tmp   string // temp base name in dir
	name  string // final base name in dir
	final string // final path, for messages
}

// CreatePending creates the temp file of final (a path below root; see
// OpenParent for a nil root) with O_RDWR|O_CREATE|O_EXCL|O_NOFOLLOW and the
// extra open flags (O_DIRECT, say).
func CreatePending(root *Dir, final string, extraFlags int) (*PendingFile, error) {
	dir, name, err := OpenParent(root, final)
	if err != nil {
		return nil, err
	}
	for range 4 {
		tmp := TempName()
		f, err := createAt(dir, tmp, extraFlags)
		if err == nil {
			return &PendingFile{File: f, dir: dir, tmp: tmp, name: name, final: final}, nil
		}
		if !errors.Is(err, os.ErrExist) {
			// Some filesystems create the file, then refuse a flag such as
			// O_DIRECT with EINVAL. O_EXCL means any file at tmp is the one
			// this call made: remove it so no stray temp is left.
			if errors.Is(err, syscall.EINVAL) {
				unlinkat(dir, tmp)
			}
			dir.Close()
			return nil, &os.PathError{Op: "create", Path: dir.join(tmp), Err: err}
		}
	}
	dir.Close()
	return nil, &os.PathError{Op: "create", Path: final, Err: os.ErrExist}
}

// TempPath returns the path of the temp file, for messages.
func (p *PendingFile) TempPath() string { return p.dir.join(p.tmp) }

// Final returns the final path.
func (p *PendingFile) Final() string { return p.final }

// Commit makes the temp file, holding exactly its data, the final file:
// Finish, then Place. On error the temp file is removed and the final name
// is untouched, except when only the directory fsync failed: the complete
// copy is then in place under its final name, but its rename may not be
// durable, and the error says so. Either way the PendingFile is done with.
func (p *PendingFile) Commit(attrs *SourceAttrs, sync Sync) error {
	if err := p.Finish(attrs, sync); err != nil {
		return err
	}
	return p.Place(sync)
}

// Finish completes the temp file: it applies attrs (unless nil: owner,
// extended attributes, mode, then mtime), syncs
// (unless SyncNone: fsync when attrs were applied, so they are durable
// too, else fdatasync) and closes File. The data and attributes are then
// durable under the temp name. On error the PendingFile is aborted.
func (p *PendingFile) Finish(attrs *SourceAttrs, sync Sync) (err error) {
	defer func() {
		if err != nil {
			p.Abort()
		}
	}()
	if attrs != nil {
		if err := ApplyAttrs(p.File, attrs); errors.Is(err, ErrNoXattrs) {
			p.Unkept = err
		} else if err != nil {
			return err
		}
		// A filesystem without permission bits (fusefat) may not implement
		// chmod at all; the CLI checks the mode where one is kept.
		if err := p.File.Chmod(attrs.Mode.Perm()); err != nil && !errors.Is(err, syscall.ENOSYS) && !errors.Is(err, syscall.ENOTSUP) {
			return err
		}
		// After the last write, so nothing moves the mtime again, and
		// before the sync, so that it is durable with the data. Both times
		// are given (Dir.Chtimes): exfat-fuse ignores an mtime sent with
		// the atime left alone (UTIME_OMIT).
		if err := p.dir.Chtimes(p.tmp, attrs.ModTime); err != nil {
			return err
		}
	}
	if sync != SyncNone {
		// fsync, not fdatasync, when attributes were set: fdatasync may
		// leave the mtime and mode behind.
		op, serr := "fdatasync", error(nil)
		switch {
		case p.SyncFile != nil:
			if attrs != nil {
				op = "fsync"
			}
			serr = p.SyncFile(p.File, attrs != nil)
			var pe *os.PathError
			if errors.As(serr, &pe) {
				op = pe.Op // a syncfs in its place, say
			}
		case attrs != nil:
			op, serr = "fsync", p.File.Sync()
		default:
			serr = datasync(p.File)
		}
		if serr != nil {
			return &os.PathError{Op: op, Path: p.final, Err: fserr.Strip(serr)}
		}
	}
	f := p.File
	p.File = nil
	return f.Close()
}

// Place renames the finished temp file onto the final name (replacing
// whatever is there, a symlink included, never its target) and fsyncs the
// directory (with SyncFull only). If the rename fails, the temp file is
// removed. If only the directory fsync fails, the file is in place but its
// rename may not be durable: the error says so, and the caller must not
// claim durability. The PendingFile is then done with.
func (p *PendingFile) Place(sync Sync) (err error) {
	defer func() {
		if err != nil {
			p.Abort()
		}
	}()
	if err := p.dir.Rename(p.tmp, p.name); err != nil {
		return err
	}
	p.tmp = "" // renamed: nothing to remove any more
	if sync == SyncFull {
		if err := p.dir.Sync(); err != nil {
			return err
		}
	}
	err = p.dir.Close()
	p.dir = nil
	return err
}

// Hold hands the finished temp file over to the caller: it returns its
// path and closes the directory; the temp file stays.
func (p *PendingFile) Hold() string {
	tmp := p.TempPath()
	p.tmp = ""
	p.Abort()
	return tmp
}

// Place renames tmp, a temp file a PendingFile finished and held, onto
// final and fsyncs final's directory (with SyncFull only), both reached
// below root with no symlink followed (see OpenParent for a nil root). If
// the rename fails, tmp is removed and final is untouched. If only the
// directory fsync fails, the file is in place under final but its rename
// may not be durable: the error says so.
func Place(root *Dir, tmp, final string, sync Sync) error {
	dir, name, err := OpenParent(root, final)
	if err != nil {
		return err
	}
	defer dir.Close()
	tmpName := filepath.Base(tmp)
	if filepath.Join(dir.Path(), tmpName) != filepath.Clean(tmp) {
		return &os.LinkError{Op: "rename", Old: tmp, New: final, Err: errors.New("not in the same directory")}
	}
	return dir.Place(tmpName, name, sync)
}

// Place is the package function Place for a directory already open: it
// renames the held temp file tmpName in d onto name and fsyncs d (with
// SyncFull only). If the rename fails, tmpName is removed and name is
// untouched.
func (d *Dir) Place(tmpName, name string, sync Sync) error {
	if err := d.Rename(tmpName, name); err != nil {
		d.Remove(tmpName)
		return err
	}
	if sync == SyncFull {
		return d.Sync()
	}
	return nil
}

// Abort closes File (if still open), removes the temp file and closes the
// directory. It is for failure paths and may be called more than once; its
// own errors are of no further use and are returned joined.
func (p *PendingFile) Abort() error {
	var errs []error
	if p.File != nil {
		if err := p.File.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
			errs = append(errs, err)
		}
		p.File = nil
	}
	if p.dir == nil {
		return errors.Join(errs...)
	}
	if p.tmp != "" {
		if err := p.dir.Remove(p.tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
		p.tmp = ""
	}
	if err := p.dir.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		errs = append(errs, err)
	}
	p.dir = nil
	return errors.Join(errs...)
}

// ignorableSync reports whether a directory fsync failed only because the
// filesystem does not support it.
func ignorableSync(err error) bool {
	return errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP)
}
