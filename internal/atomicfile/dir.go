package atomicfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cvv-project/cvv/internal/fserr"
)

// Dir is an open directory at or below a destination root.
//
// Nothing cvv writes below a destination root is reached by resolving a
// path string again: every directory is opened from the root's descriptor
// with no symlink followed and nothing resolved above the root (on Linux,
// openat2 with RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS; where openat2 is
// missing, one openat with O_NOFOLLOW per component), and every create,
// rename, chmod, chtimes, removal and fsync is made relative to such a
// descriptor with a single-component name that is not followed either. A
// symlink planted in a destination, before or during a run, therefore
// cannot lead a write outside the root: opening a directory through it
// fails with an error wrapping ErrSymlink, and an operation on the name
// itself acts on the link, never on its target.
//
// A Dir below a root that OpenParent returns may be one the root already
// holds open (see dirCache): it is checked to be still where the root's
// path leads, with no symlink, every time it is lent out.
//
// The methods of a Dir may be called concurrently.
type Dir struct {
	sys  dirSys // the descriptor (per platform)
	path string // for messages: where the directory was when opened
	// root is set on a root (OpenRoot): what CheckPath compares with,
	// and the directories it keeps open below it.
	root *rootState
	// lent is set on a directory lent by a root's cache: Close gives it
	// back instead of closing the descriptor.
	lent   *cacheEntry
	closed atomic.Bool
}

// rootState is what a root keeps beyond its descriptor.
type rootState struct {
	// id is the root's own file information, taken once: a descriptor's
	// device and inode never change.
	id    func() (os.FileInfo, error)
	cache *dirCache
}

// OpenRoot opens the destination root directory path. The path is resolved
// as usual (symlinks in it are the user's choice); only what lies below it
// is protected.
func OpenRoot(path string) (*Dir, error) {
	path = filepath.Clean(path)
	sys, err := openDirPath(path)
	if err != nil {
		return nil, err
	}
	d := &Dir{sys: sys, path: path}
	d.root = &rootState{id: sync.OnceValues(d.sys.stat), cache: newDirCache(d)}
	return d, nil
}

// Path returns the directory's path, for messages.
func (d *Dir) Path() string { return d.path }

// Close closes the directory's descriptor (a directory lent by a root's
// cache goes back to it). Closing a root closes what it keeps open below
// it; none of its directories may be in use then.
func (d *Dir) Close() error {
	if d.closed.Swap(true) {
		return os.ErrClosed
	}
	if d.lent != nil {
		d.lent.cache.giveBack(d.lent)
		return nil
	}
	if d.root != nil {
		d.root.cache.close()
	}
	return d.sys.close()
}

// join returns the path of name in d, for messages.
func (d *Dir) join(name string) string { return filepath.Join(d.path, name) }

// Rel returns p, a path below d (or d itself), relative to d: "." for d.
func (d *Dir) Rel(p string) (string, error) {
	rel, err := filepath.Rel(d.path, filepath.Clean(p))
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", &os.PathError{Op: "open", Path: p, Err: fmt.Errorf("%w %s", errOutside, d.path)}
	}
	return rel, nil
}

var errOutside = errors.New("not below the destination root")

// ErrSymlink means a symlink was found below a destination root where a
// directory was to be reached; it is never followed (the root package
// re-exports it as cvv.ErrSymlink).
var ErrSymlink = errors.New("a symlink in the destination, not followed")

// errGone says a directory's path no longer leads to it.
var errGone = errors.New("no longer at this path (unmounted, removed or replaced)")

// CheckPath fails when d's path no longer leads to d: its filesystem was
// unmounted (lazily: d still reaches it), or d was removed or replaced.
// What is written through d then reaches nothing the path shows, and a
// verification through d would pass copies nobody can find.
func (d *Dir) CheckPath() error {
	fi, err := os.Stat(d.path)
	if err != nil {
		return err
	}
	st, err := d.identity()
	if err != nil {
		return err
	}
	if !SameFile(fi, st) {
		return &os.PathError{Op: "check", Path: d.path, Err: errGone}
	}
	return nil
}

// OpenDir opens the directory at rel, a relative path below d; "" or "."
// opens d itself again (a new descriptor). A symlink on the way is never
// followed: the error then wraps ErrSymlink.
func (d *Dir) OpenDir(rel string) (*Dir, error) {
	rel = filepath.Clean(rel)
	full := d.join(rel)
	if filepath.IsAbs(rel) || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return nil, &os.PathError{Op: "open", Path: full, Err: errOutside}
	}
	sys, err := openBeneath(d, rel)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: full, Err: err}
	}
	return &Dir{sys: sys, path: full}, nil
}

// identity returns d's file information: a root's is taken once.
func (d *Dir) identity() (os.FileInfo, error) {
	if d.root != nil {
		return d.root.id()
	}
	return d.sys.stat()
}

// OpenParent opens the directory of final, a path below root, and returns
// it with final's base name. With a nil root it opens the directory by its
// path: the caller then protects nothing below it.
func OpenParent(root *Dir, final string) (dir *Dir, name string, err error) {
	if root == nil {
		final = filepath.Clean(final)
		dir, err = OpenRoot(filepath.Dir(final))
		return dir, filepath.Base(final), err
	}
	rel, err := root.Rel(final)
	if err != nil {
		return nil, "", err
	}
	if rel == "." {
		return nil, "", &os.PathError{Op: "open", Path: final, Err: errors.New("is the destination root")}
	}
	dir, err = root.openParentDir(filepath.Dir(rel))
	return dir, filepath.Base(rel), err
}

// checkName fails unless name is one path component.
func checkName(d *Dir, op, name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsRune(name, filepath.Separator) {
		return &os.PathError{Op: op, Path: d.join(name), Err: errors.New("not a single file name")}
	}
	return nil
}

// Mkdir creates the directory name in d.
func (d *Dir) Mkdir(name string, perm os.FileMode) error {
	if err := checkName(d, "mkdir", name); err != nil {
		return err
	}
	return d.wrapAt("mkdir", name, mkdirat(d, name, perm))
}

// Lstat returns the file information of name in d, not following a
// symlink.
func (d *Dir) Lstat(name string) (os.FileInfo, error) {
	if err := checkName(d, "lstat", name); err != nil {
		return nil, err
	}
	fi, err := lstatat(d, name)
	return fi, d.wrapAt("lstat", name, err)
}

// OpenFile opens the regular file name in d for reading, not following a
// symlink (O_NOFOLLOW) and not blocking on a FIFO planted in its place. A
// name that is not a regular file is an error.
func (d *Dir) OpenFile(name string) (*os.File, error) {
	if err := checkName(d, "open", name); err != nil {
		return nil, err
	}
	f, err := openFileAt(d, name)
	if err != nil {
		return nil, d.wrapAt("open", name, err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = &os.PathError{Op: "open", Path: d.join(name), Err: errors.New("not a regular file")}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// Readlink returns the target of the symlink name in d.
func (d *Dir) Readlink(name string) (string, error) {
	if err := checkName(d, "readlink", name); err != nil {
		return "", err
	}
	s, err := readlinkat(d, name)
	return s, d.wrapAt("readlink", name, err)
}

// Symlink creates name in d as a symlink to target.
func (d *Dir) Symlink(target, name string) error {
	if err := checkName(d, "symlink", name); err != nil {
		return err
	}
	return d.wrapAt("symlink", name, symlinkat(d, target, name))
}

// Link creates name in d as a hard link to the file oldName in old (a
// symlink oldName is linked itself, never followed).
func (d *Dir) Link(old *Dir, oldName, name string) error {
	if err := checkName(old, "link", oldName); err != nil {
		return err
	}
	if err := checkName(d, "link", name); err != nil {
		return err
	}
	if err := linkat(old, oldName, d, name); err != nil {
		return &os.LinkError{Op: "link", Old: old.join(oldName), New: d.join(name), Err: err}
	}
	return nil
}

// Rename renames oldName to newName, both in d. Whatever newName was (a
// file, a symlink) is replaced itself; a symlink is never followed.
func (d *Dir) Rename(oldName, newName string) error {
	if err := checkName(d, "rename", oldName); err != nil {
		return err
	}
	if err := checkName(d, "rename", newName); err != nil {
		return err
	}
	if err := renameat(d, oldName, newName); err != nil {
		return &os.LinkError{Op: "rename", Old: d.join(oldName), New: d.join(newName), Err: err}
	}
	return nil
}

// Remove removes the file or symlink name in d.
func (d *Dir) Remove(name string) error {
	if err := checkName(d, "remove", name); err != nil {
		return err
	}
	return d.wrapAt("remove", name, unlinkat(d, name))
}

// Chtimes sets the access and modification times of name in d to mtime;
// a symlink gets the times itself.
func (d *Dir) Chtimes(name string, mtime time.Time) error {
	if err := checkName(d, "chtimes", name); err != nil {
		return err
	}
	return d.wrapAt("chtimes", name, lchtimesat(d, name, mtime))
}

// Chmod gives name in d the permission bits perm. A symlink is not
// followed: its mode cannot be set, and the error says so.
func (d *Dir) Chmod(name string, perm os.FileMode) error {
	if err := checkName(d, "chmod", name); err != nil {
		return err
	}
	return d.wrapAt("chmod", name, lchmodat(d, name, perm))
}

// Stat returns the file information of d itself.
func (d *Dir) Stat() (os.FileInfo, error) { return d.sys.stat() }

// SetMode gives d itself the permission bits perm.
func (d *Dir) SetMode(perm os.FileMode) error {
	return wrap("chmod", d.path, d.sys.chmod(perm))
}

// SetAttrs gives d itself the owner and extended attributes of attrs (see
// ApplyAttrs; an error wrapping ErrNoXattrs when the filesystem holds none).
func (d *Dir) SetAttrs(attrs *SourceAttrs) error {
	f, err := d.sys.file(d.path)
	if err != nil {
		return err
	}
	defer f.Close()
	return ApplyAttrs(f, attrs)
}

// HoldsAttrs reports whether d itself, which is fi, already has the owner
// and extended attributes of attrs: SetAttrs would then change nothing but
// d's ctime. Attributes d has and attrs lacks do not count (SetAttrs
// removes none); a failure to read d's attributes counts as a difference.
func (d *Dir) HoldsAttrs(attrs *SourceAttrs, fi os.FileInfo) bool {
	if attrs.Owner != nil && !ownedBy(fi, *attrs.Owner) {
		return false
	}
	if len(attrs.Xattrs) == 0 {
		return true
	}
	f, err := d.sys.file(d.path)
	if err != nil {
		return false
	}
	defer f.Close()
	have, err := ReadXattrs(f)
	if err != nil {
		return false
	}
	for _, x := range attrs.Xattrs {
		if !slices.ContainsFunc(have, func(h Xattr) bool { return h.Name == x.Name && bytes.Equal(h.Value, x.Value) }) {
			return false
		}
	}
	return true
}

// SetModTime sets the access and modification times of d itself to mtime.
func (d *Dir) SetModTime(mtime time.Time) error {
	return wrap("chtimes", d.path, futimes(d, mtime))
}

// ReadNames returns the names in d.
func (d *Dir) ReadNames() ([]string, error) {
	f, err := d.sys.file(d.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

// EachName calls f with the names in d, a batch read at a time, until f
// returns false or the names run out. It reads through a descriptor of
// its own, so that it may run beside any other method.
func (d *Dir) EachName(fn func(name string) bool) error {
	f, err := d.sys.file(d.path)
	if err != nil {
		return err
	}
	defer f.Close()
	for {
		names, err := f.Readdirnames(1024)
		for _, n := range names {
			if !fn(n) {
				return nil
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// Sync fsyncs d so that the names created or renamed in it are durable. A
// filesystem that cannot fsync a directory (EINVAL, ENOTSUP) is not an
// error.
func (d *Dir) Sync() error {
	if err := d.sys.sync(); err != nil && !ignorableSync(err) {
		return &os.PathError{Op: "fsync", Path: d.path, Err: fserr.Strip(err)}
	}
	return nil
}

// wrapAt is wrap for name in d: the path of the error is joined only
// for an error (a decision looks at millions of names that are fine).
func (d *Dir) wrapAt(op, name string, err error) error {
	if err == nil {
		return nil
	}
	return &os.PathError{Op: op, Path: d.join(name), Err: err}
}

// wrap returns nil for a nil err, else err as an *os.PathError.
func wrap(op, path string, err error) error {
	if err == nil {
		return nil
	}
	return &os.PathError{Op: op, Path: path, Err: err}
}

// SyncDir fsyncs the directory at path, resolved as usual. It is for a
// destination root and the directories above it; below a root, use a Dir.
func SyncDir(path string) error {
	d, err := OpenRoot(path)
	if err != nil {
		return err
	}
	serr := d.Sync()
	if cerr := d.Close(); serr == nil {
		serr = cerr
	}
	return serr
}
