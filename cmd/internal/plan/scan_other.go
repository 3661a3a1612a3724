//go:build !unix

package plan

import (
	"io/fs"
	"os"
)

// listing is a directory Scan is in; here each entry's lstat is made by
// path (fs.DirEntry.Info).
type listing struct{}

// openListing lists the directory at path (os.ReadDir).
func openListing(path string) (*listing, []fs.DirEntry, error) {
	des, err := os.ReadDir(path)
	return &listing{}, des, err
}

// lstat returns the lstat of the entry de.
func (*listing) lstat(de fs.DirEntry) (fs.FileInfo, error) { return de.Info() }

func (*listing) close() {}
