// Package faults is cvv's fault suite: tests that run the real cvv binary and
// the engines against full disks, failing filesystems, signals, crashes,
// changing sources and malformed input, and prove that a file under its final
// name is always complete and correct, that every failure is reported and
// isolated, and that an interrupted run can always be finished.
//
// The non-test files hold the rigs the tests use: size-limited tmpfs mounts,
// filesystem images through FUSE drivers (rig_linux.go), and three FUSE
// filesystems, each served by a child process (fuseproc_linux.go):
//   - ErrorFS fails chosen operations on chosen files (EIO, ENOSPC, a
//     corrupted write);
//   - PowerFS cuts the power at the level of a filesystem's promises: what
//     fsync, fdatasync and a directory fsync make durable, and nothing else
//     (a model in the style of LazyFS);
//   - BlockFS cuts the power under a real ext4 or xfs with its journal
//     (BlockDisk): it serves one disk image to a loop device, sees every
//     block write and cache flush the filesystem makes, and at a cut leaves
//     the images a disk with a volatile write cache may leave (none, all or
//     a seeded random subset of the blocks written since the last flush),
//     which the tests replay, check with e2fsck -fn or xfs_repair -n, mount
//     and inspect. It is the rig for what PowerFS cannot see: syncfs, and a
//     filesystem's own ordering (TestBlockFS checks the rig, TestBlockPowerCut
//     cvv on it).
//
// The package is for tests only: nothing outside it may import it, and it
// must never be linked into cvv.
package faults
