// Package faults is cvv's fault suite: tests that run the real cvv binary and
// the engines against full disks, failing filesystems, signals, crashes,
// changing sources and malformed input, and prove that a file under its final
// name is always complete and correct, that every failure is reported and
// isolated, and that an interrupted run can always be finished.
//
// The non-test files hold the rigs the tests use (a FUSE filesystem that
// injects errors, size-limited tmpfs mounts). The package is for tests only:
// nothing outside it may import it, and it must never be linked into cvv.
package faults
