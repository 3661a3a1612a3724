//go:build unix && !linux

package plan

import "golang.org/x/sys/unix"

// dirOpenFlags open a directory to stat it and walk up from it.
const dirOpenFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC

// fsAncestors adds nothing where mount tables are not read.
func fsAncestors(string, map[FileID]bool) []FileID { return nil }
