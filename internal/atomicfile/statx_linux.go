package atomicfile

import (
	"io/fs"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// StatxInfo returns the file information in stx, a statx of the file at
// path that asked at least STATX_BASIC_STATS, as os.Stat gives it (Sys is
// a *syscall.Stat_t): one statx can then serve both as a stat and for
// what else it was asked (STATX_DIOALIGN).
func StatxInfo(path string, stx *unix.Statx_t) fs.FileInfo {
	var st syscall.Stat_t
	st.Dev = to(st.Dev, unix.Mkdev(stx.Dev_major, stx.Dev_minor))
	st.Ino = stx.Ino
	st.Nlink = to(st.Nlink, stx.Nlink)
	st.Mode = to(st.Mode, stx.Mode)
	st.Uid, st.Gid = stx.Uid, stx.Gid
	st.Rdev = to(st.Rdev, unix.Mkdev(stx.Rdev_major, stx.Rdev_minor))
	st.Size = to(st.Size, stx.Size)
	st.Blksize = to(st.Blksize, stx.Blksize)
	st.Blocks = to(st.Blocks, stx.Blocks)
	st.Atim = syscall.NsecToTimespec(stx.Atime.Sec*1e9 + int64(stx.Atime.Nsec))
	st.Mtim = syscall.NsecToTimespec(stx.Mtime.Sec*1e9 + int64(stx.Mtime.Nsec))
	st.Ctim = syscall.NsecToTimespec(stx.Ctime.Sec*1e9 + int64(stx.Ctime.Nsec))
	return &sysInfo{name: filepath.Base(path), st: st}
}

// to converts v to the integer type of its first argument (Stat_t's field
// types differ between architectures).
func to[T, F ~int16 | ~uint16 | ~int32 | ~uint32 | ~int64 | ~uint64](_ T, v F) T { return T(v) }

// sysInfo is an fs.FileInfo over a syscall.Stat_t.
type sysInfo struct {
	name string
	st   syscall.Stat_t
}

func (s *sysInfo) Name() string       { return s.name }
func (s *sysInfo) Size() int64        { return s.st.Size }
func (s *sysInfo) ModTime() time.Time { return time.Unix(s.st.Mtim.Unix()) }
func (s *sysInfo) IsDir() bool        { return s.Mode().IsDir() }
func (s *sysInfo) Sys() any           { return &s.st }
func (s *sysInfo) Mode() fs.FileMode  { return fileMode(s.st.Mode) }
