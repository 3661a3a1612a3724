//go:build !unix

package plan

import (
	"hash/fnv"
	"io/fs"
	"path/filepath"
)

// fileID stands for an identity where none is read: a hash of the path
// with its symlinks resolved.
func fileID(path string, _ fs.FileInfo) FileID {
	if r, err := filepath.EvalSymlinks(path); err == nil {
		path = r
	}
	h := fnv.New64a()
	h.Write([]byte(filepath.Clean(path)))
	return FileID{Ino: h.Sum64()}
}

// dirAncestry returns the identities of dir and its ancestors by path.
func dirAncestry(dir string) ([]FileID, error) {
	r, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, err
	}
	var ids []FileID
	for {
		ids = append(ids, fileID(r, nil))
		parent := filepath.Dir(r)
		if parent == r {
			return ids, nil
		}
		r = parent
	}
}

// links counts one link per file where the platform does not say.
func links(fs.FileInfo) uint64 { return 1 }
