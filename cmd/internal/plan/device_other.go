//go:build !linux

package plan

// storageDisks is not known outside Linux: no destinations are grouped.
func storageDisks(dev uint64) []string { return nil }
