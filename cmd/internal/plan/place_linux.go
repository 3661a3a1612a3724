package plan

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// dirOpenFlags open a directory to stat it and walk up from it; O_PATH needs
// no read permission on it.
const dirOpenFlags = unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC

// mount is one line of /proc/self/mountinfo.
type mount struct {
	dev   string // major:minor
	root  string // the mounted directory, within its filesystem
	point string // where it is mounted
	// fstype ("ext4", "fuseblk", "fuse.fusefat"), source (the device) and
	// options (the superblock's) follow the "-" separator.
	fstype, source, options string
}

// fsAncestors returns, for the bind mounts crossed on the way up from dir,
// the ancestors the mounted directory has in its own filesystem, where
// another mount of that filesystem in this namespace shows them (most often
// the filesystem's own mount). Without them a destination reached through a
// bind mount of the source's parent would not be seen as holding the
// source. IDs in seen are left out; seen gets the new ones.
func fsAncestors(dir string, seen map[FileID]bool) []FileID {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil
	}
	mounts := readMounts()
	var ids []FileID
	for _, m := range mounts {
		if m.root == "/" || !pathWithin(real, m.point) {
			continue
		}
		for _, n := range mounts {
			if n.dev != m.dev || n.point == m.point || !pathWithin(m.root, n.root) {
				continue
			}
			alt := filepath.Join(n.point, strings.TrimPrefix(m.root, n.root))
			if !sameFile(alt, m.point) {
				continue
			}
			// The mounted directory's own parents, by the path that
			// shows them; bind mounts there are not followed again.
			for p := filepath.Dir(alt); ; p = filepath.Dir(p) {
				if fi, err := os.Stat(p); err == nil {
					if id := fileID(p, fi); !seen[id] {
						seen[id] = true
						ids = append(ids, id)
					}
				}
				if p == filepath.Dir(p) {
					break
				}
			}
			break
		}
	}
	return ids
}

// readMounts parses /proc/self/mountinfo; nil if it cannot be read.
func readMounts() []mount {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var ms []mount
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		m := mount{dev: f[2], root: unescapeMount(f[3]), point: unescapeMount(f[4])}
		for k := 5; k < len(f); k++ {
			if f[k] == "-" {
				if k+2 < len(f) {
					m.fstype, m.source = f[k+1], unescapeMount(f[k+2])
				}
				if k+3 < len(f) {
					m.options = f[k+3]
				}
				break
			}
		}
		ms = append(ms, m)
	}
	return ms
}

// unescapeMount undoes the octal escapes (\040 for a space) of mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// pathWithin reports whether the clean absolute path p is dir or below it.
func pathWithin(p, dir string) bool {
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}

// sameFile reports whether a and b are the same existing file.
func sameFile(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}
