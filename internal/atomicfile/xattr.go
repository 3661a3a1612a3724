package atomicfile

import (
	"errors"
	"os"
)

// VerifiedAttr is the extended attribute in which the CLI records that a
// copy was verified. It is cvv's own record of one copy, never an
// attribute of the data: it is never copied from a source.
const VerifiedAttr = "user.cvv.verified"

// JobDoneAttr is the extended attribute in which the CLI marks a
// destination root where a sharded job finished: the job's key. Like
// VerifiedAttr it is cvv's own record, never copied from a source.
const JobDoneAttr = "user.cvv.shard-done"

// ErrNoXattrs marks a destination whose filesystem cannot hold extended
// attributes (exFAT, FAT: ENOTSUP): the copy is complete without them.
var ErrNoXattrs = errors.New("the filesystem cannot hold extended attributes or ACLs")

// Xattr is one extended attribute: user.*, trusted.*, security.*, and the
// POSIX ACLs (system.posix_acl_access, system.posix_acl_default).
type Xattr struct {
	Name  string
	Value []byte
}

// Owner is the owner and group of a source, kept when cvv runs as root.
type Owner struct {
	Uid, Gid int
}

// ApplyAttrs gives the open file or directory f the owner and extended
// attributes of attrs (not its mode or times): the owner first (a chown
// clears set-id bits, the mode set after restores them), then the
// attributes. A filesystem that cannot hold extended attributes gives an
// error wrapping ErrNoXattrs, after the owner is set.
func ApplyAttrs(f *os.File, attrs *SourceAttrs) error {
	if attrs.Owner != nil {
		if err := f.Chown(attrs.Owner.Uid, attrs.Owner.Gid); err != nil && !ignorableOwner(err) {
			return err
		}
	}
	return setXattrs(f, attrs.Xattrs)
}

// AttrsOf returns what a copy of f (which is fi) inherits: the mode and
// mtime, the owner when running as root, and with xattrs the extended
// attributes and ACLs.
func AttrsOf(f *os.File, fi os.FileInfo, xattrs bool) (*SourceAttrs, error) {
	a := &SourceAttrs{Mode: fi.Mode(), ModTime: fi.ModTime(), Owner: OwnerOf(fi)}
	if xattrs {
		xs, err := ReadXattrs(f)
		if err != nil {
			return nil, err
		}
		a.Xattrs = xs
	}
	return a, nil
}
