//go:build !unix

package atomicfile

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cvv-project/cvv/internal/fserr"
)

// Off Unix there are no directory descriptors to walk from: a Dir is its
// path, and every operation resolves it again. Symlinks below a root are
// refused by an Lstat of each component, which a concurrent swap can race.

// dirSys is a directory's open file.
type dirSys struct{ f *os.File }

func (s dirSys) close() error                 { return s.f.Close() }
func (s dirSys) stat() (os.FileInfo, error)   { return s.f.Stat() }
func (s dirSys) chmod(perm os.FileMode) error { return s.f.Chmod(perm) }
func (s dirSys) sync() error                  { return s.f.Sync() }
func (s dirSys) file(path string) (*os.File, error) {
	return os.Open(s.f.Name())
}

func openDirPath(path string) (dirSys, error) {
	f, err := os.Open(path)
	return dirSys{f}, err
}

func openBeneath(d *Dir, rel string) (dirSys, error) {
	p := d.path
	if rel != "." {
		for _, c := range strings.Split(rel, string(filepath.Separator)) {
			p = filepath.Join(p, c)
			fi, err := os.Lstat(p)
			if err != nil {
				return dirSys{}, fserr.Strip(err)
			}
			if fi.Mode()&os.ModeSymlink != 0 {
				return dirSys{}, ErrSymlink
			}
		}
	}
	return openDirPath(filepath.Join(d.path, rel))
}

func createAt(d *Dir, name string, extraFlags int) (*os.File, error) {
	return os.OpenFile(d.join(name), os.O_RDWR|os.O_CREATE|os.O_EXCL|extraFlags, 0o600)
}

func openFileAt(d *Dir, name string) (*os.File, error) {
	fi, err := os.Lstat(d.join(name))
	if err != nil {
		return nil, fserr.Strip(err)
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		return nil, ErrSymlink
	}
	return os.Open(d.join(name))
}

func mkdirat(d *Dir, name string, perm os.FileMode) error { return os.Mkdir(d.join(name), perm) }
func renameat(d *Dir, oldName, newName string) error {
	return os.Rename(d.join(oldName), d.join(newName))
}
func unlinkat(d *Dir, name string) error          { return os.Remove(d.join(name)) }
func symlinkat(d *Dir, target, name string) error { return os.Symlink(target, d.join(name)) }
func linkat(old *Dir, oldName string, d *Dir, name string) error {
	return os.Link(old.join(oldName), d.join(name))
}
func readlinkat(d *Dir, name string) (string, error)       { return os.Readlink(d.join(name)) }
func lchmodat(d *Dir, name string, perm os.FileMode) error { return os.Chmod(d.join(name), perm) }
func lstatat(d *Dir, name string) (os.FileInfo, error)     { return os.Lstat(d.join(name)) }
func lchtimesat(d *Dir, name string, t time.Time) error    { return os.Chtimes(d.join(name), t, t) }
func futimes(d *Dir, t time.Time) error                    { return os.Chtimes(d.path, t, t) }

// SameFile reports whether a and b are one file.
func SameFile(a, b os.FileInfo) bool { return os.SameFile(a, b) }
