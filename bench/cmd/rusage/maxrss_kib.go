//go:build unix && !darwin && !ios

package main

import "syscall"

// maxRSSKiB returns ru_maxrss, which Linux and the BSDs report in KiB.
func maxRSSKiB(ru *syscall.Rusage) int64 { return int64(ru.Maxrss) }
