//go:build !linux

package atomicfile

import "os"

// FilePath returns a path that names the open file f itself, for an API
// that takes a path; off Linux there is none, and it returns "": the
// caller then has only the file's name.
func FilePath(f *os.File) string { return "" }

// NamePath returns a path naming name in d for a system call that takes
// only a path: off Linux, d's path joined with name.
func (d *Dir) NamePath(name string) string { return d.join(name) }
