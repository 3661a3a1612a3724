//go:build unix

package plan

import (
	"errors"
	"io/fs"
	"syscall"

	"golang.org/x/sys/unix"
)

// fileID returns the device and inode of fi, an os.Stat of path.
func fileID(_ string, fi fs.FileInfo) FileID {
	if st, ok := fi.Sys().(*unix.Stat_t); ok {
		// From the walk (atomicfile.LstatAt).
		return FileID{Dev: uint64(st.Dev), Ino: uint64(st.Ino)}
	}
	st := fi.Sys().(*syscall.Stat_t)
	return FileID{Dev: uint64(st.Dev), Ino: uint64(st.Ino)}
}

// maxDepth bounds the walk up a directory's ancestors.
const maxDepth = 4096

// dirAncestry returns the FileIDs of the directory dir and of its physical
// ancestors up to the root, found by opening ".." from each in turn (never by
// editing the path), followed by what fsAncestors adds across bind mounts.
func dirAncestry(dir string) ([]FileID, error) {
	fd, err := unix.Open(dir, dirOpenFlags, 0)
	if err != nil {
		return nil, err
	}
	var ids []FileID
	seen := make(map[FileID]bool)
	for range maxDepth {
		var st unix.Stat_t
		err := unix.Fstat(fd, &st)
		if err != nil {
			unix.Close(fd)
			return nil, err
		}
		id := FileID{Dev: uint64(st.Dev), Ino: uint64(st.Ino)}
		if seen[id] {
			break // the root is its own parent
		}
		seen[id] = true
		ids = append(ids, id)
		parent, err := unix.Openat(fd, "..", dirOpenFlags, 0)
		unix.Close(fd)
		if err != nil {
			return nil, err
		}
		fd = parent
	}
	unix.Close(fd)
	if len(ids) == maxDepth {
		return nil, errors.New("too deep")
	}
	return append(ids, fsAncestors(dir, seen)...), nil
}

// links returns fi's link count.
func links(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*unix.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return uint64(fi.Sys().(*syscall.Stat_t).Nlink)
}
