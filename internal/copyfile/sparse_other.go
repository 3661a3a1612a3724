//go:build !linux

package copyfile

import "os"

// dataRegion cannot tell holes from data off Linux: the whole file is data.
func dataRegion(*os.File, int64, int64) (int64, int64, bool) { return 0, 0, false }

// clearDirect has nothing to do off Linux: cvv uses no O_DIRECT there.
func clearDirect(*os.File) error { return nil }

// mayHaveHoles is false off Linux: there is no telling where they are.
func mayHaveHoles(os.FileInfo) bool { return false }
