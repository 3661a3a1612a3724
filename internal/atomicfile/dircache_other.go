//go:build !linux

package atomicfile

// whereIs cannot name an open directory off Linux: roots keep nothing
// open below them, and every OpenParent opens.
func whereIs(dirSys) string { return "" }
