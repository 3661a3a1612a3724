package atomicfile

import (
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// whereIs returns the kernel's name of the open directory s now (its
// /proc/self/fd link: the directory's place, no symlink in it), or ""
// when there is none (no /proc, a removed directory, a name too long).
func whereIs(s dirSys) string {
	var buf [unix.PathMax]byte
	n, err := unix.Readlink("/proc/self/fd/"+strconv.Itoa(s.fd), buf[:])
	if err != nil || n <= 0 || n >= len(buf) || buf[0] != '/' {
		return ""
	}
	p := string(buf[:n])
	if strings.HasSuffix(p, " (deleted)") {
		return ""
	}
	return p
}
