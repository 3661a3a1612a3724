//go:build darwin || ios

package main

import "syscall"

// maxRSSKiB converts ru_maxrss, which Darwin reports in bytes.
func maxRSSKiB(ru *syscall.Rusage) int64 { return int64(ru.Maxrss) / 1024 }
