package cvv

import (
	"os"

	"github.com/cvv-project/cvv/internal/atomicfile"
)

// AttrsOf returns what a copy of f (which is fi) inherits under job: nil
// with Job.NoPreserve; else the mode and mtime, the owner when running as
// root, and the extended attributes and ACLs unless Job.NoXattrs.
func AttrsOf(f *os.File, fi os.FileInfo, job *Job) (*atomicfile.SourceAttrs, error) {
	if job.NoPreserve {
		return nil, nil
	}
	a := &atomicfile.SourceAttrs{Mode: fi.Mode(), ModTime: fi.ModTime(), Owner: atomicfile.OwnerOf(fi)}
	if !job.NoXattrs {
		xs, err := atomicfile.ReadXattrs(f)
		if err != nil {
			return nil, err
		}
		a.Xattrs = xs
	}
	return a, nil
}
