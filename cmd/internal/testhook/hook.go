//go:build !testhooks

// Package testhook holds the seams the CLI fault scripts drive: hooks between
// the phases of a copy, throttles and a faster progress interval. Built
// without -tags testhooks they do nothing; with it, each acts only when its
// environment variable is set. Production code calls them and never
// depends on what they do.
package testhook

import (
	"context"
	"time"
)

// BeforeVerify is a test seam between the copy and the verification of a
// file; it does nothing unless built with -tags testhooks.
func BeforeVerify(context.Context, string, []string) error { return nil }

// BeforeVerifyArmed reports whether BeforeVerify runs a hook; it is false
// unless built with -tags testhooks.
func BeforeVerifyArmed() bool { return false }

// BeforeCascade is a test seam before a file's cascade destinations are
// filled from its verified copies; it does nothing unless built with
// -tags testhooks.
func BeforeCascade(context.Context, string, []string) error { return nil }

// AfterPlace is a test seam right after a copy of a file got its final
// name; it does nothing unless built with -tags testhooks.
func AfterPlace(string, string) error { return nil }

// Throttle is a test seam called on every progress report of a copy; it
// does nothing unless built with -tags testhooks.
func Throttle() {}

// VerifyThrottle is Throttle for the reads of a verification.
func VerifyThrottle() {}

// ProgressEvery returns d: the progress interval is fixed unless built with
// -tags testhooks.
func ProgressEvery(d time.Duration) time.Duration { return d }
