//go:build !linux

package atomicfile

import "os"

// ReadXattrs finds no extended attributes off Linux: cvv keeps them on
// Linux only.
func ReadXattrs(*os.File) ([]Xattr, error) { return nil, nil }

func setXattrs(*os.File, []Xattr) error { return nil }

// OwnerOf keeps no owner off Linux.
func OwnerOf(os.FileInfo) *Owner { return nil }

func ignorableOwner(error) bool { return true }

// ownedBy is never asked off Linux (OwnerOf keeps no owner there).
func ownedBy(os.FileInfo, Owner) bool { return true }

// JobDone finds no mark off Linux.
func JobDone(string) string { return "" }

// MarkJobDone marks nothing off Linux: the filesystem holds no extended
// attributes for cvv there.
func MarkJobDone(string, string) error { return ErrNoXattrs }
