//go:build unix

package plan

import (
	"io/fs"
	"os"

	"github.com/cvv-project/cvv/internal/atomicfile"
)

// listing is a directory Scan is in, held open while its entries are
// visited, so that the lstat of each is taken from its descriptor
// (fstatat): no path is walked again for each entry, and the entry is
// looked up in the very directory that was listed.
type listing struct {
	path string
	f    *os.File // nil once closed: each lstat is then made by path
	fd   int
}

// openListing lists the directory at path and keeps it open. The
// entries are those os.ReadDir returns, with its errors: what could be
// read is returned with the error that stopped the listing.
func openListing(path string) (*listing, []fs.DirEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return &listing{path: path}, nil, err
	}
	des, err := f.ReadDir(-1)
	return &listing{path: path, f: f, fd: int(f.Fd())}, des, err
}

// lstat returns the lstat of the entry de, with the error os.Lstat gives
// on its path.
func (l *listing) lstat(de fs.DirEntry) (fs.FileInfo, error) {
	if l.f == nil {
		return os.Lstat(l.path + "/" + de.Name())
	}
	fi, err := atomicfile.LstatAt(l.fd, de.Name())
	if err != nil {
		return nil, &os.PathError{Op: "lstat", Path: l.path + "/" + de.Name(), Err: err}
	}
	return fi, nil
}

// close closes the directory; what is left of it is looked up by path.
func (l *listing) close() {
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
}
