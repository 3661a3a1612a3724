package atomicfile

import (
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// procFDDir is /proc/self/fd, opened once (-1 where it cannot be): whereIs
// reads its links relative to it, so that the kernel does not walk
// "/proc", "self" (itself a link) and "fd" again at every lend. The
// answer is the same: every thread of the process shares one descriptor
// table, the one /proc/self/fd showed when it was opened.
var procFDDir = sync.OnceValue(func() int {
	fd, err := retryEINTR(func() (int, error) {
		return unix.Open("/proc/self/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return -1
	}
	return fd
})

// whereIs returns the kernel's name of the open directory s now (its
// /proc/self/fd link: the directory's place, no symlink in it), or ""
// when there is none (no /proc, a removed directory, a name too long).
func whereIs(s dirSys) string {
	proc := procFDDir()
	if proc < 0 {
		return ""
	}
	var buf [unix.PathMax]byte
	n, err := unix.Readlinkat(proc, strconv.Itoa(s.fd), buf[:])
	if err != nil || n <= 0 || n >= len(buf) || buf[0] != '/' {
		return ""
	}
	p := string(buf[:n])
	if strings.HasSuffix(p, " (deleted)") {
		return ""
	}
	return p
}
