package atomicfile

import (
	"fmt"
	"os"
	"sync"
)

// procFD reports whether /proc/self/fd is there (a container may lack
// /proc).
var procFD = sync.OnceValue(func() bool {
	fi, err := os.Stat("/proc/self/fd")
	return err == nil && fi.IsDir()
})

// FilePath returns a path that names the open file f itself, for an API
// that takes a path (Engine.Hash): on Linux /proc/self/fd/N, whose open
// opens f's file again whatever became of its name, and with no symlink
// of the name followed. It returns "" where there is no such path (no
// /proc): the caller then has only the file's name. f must stay open
// while the path is used.
func FilePath(f *os.File) string {
	if !procFD() {
		return ""
	}
	return fmt.Sprintf("/proc/self/fd/%d", f.Fd())
}

// NamePath returns a path naming name in d for a system call that takes
// only a path and does not follow a final symlink (lgetxattr, lsetxattr):
// /proc/self/fd/N/name, which reaches d by its descriptor, resolving
// nothing above it again. Without /proc it is d's path joined with name.
// d must stay open while the path is used.
func (d *Dir) NamePath(name string) string {
	if !procFD() {
		return d.join(name)
	}
	return fmt.Sprintf("/proc/self/fd/%d/%s", d.fd(), name)
}
