//go:build !testhooks

package command

import (
	"context"
	"time"
)

// beforeVerify is a test seam between the copy and the verification of a
// file; it does nothing unless built with -tags testhooks.
func beforeVerify(context.Context, string, []string) error { return nil }

// beforeCascade is a test seam before a file's cascade destinations are
// filled from its verified copies; it does nothing unless built with
// -tags testhooks.
func beforeCascade(context.Context, string, []string) error { return nil }

// afterPlace is a test seam right after a copy of a file got its final
// name; it does nothing unless built with -tags testhooks.
func afterPlace(string, string) error { return nil }

// testThrottle is a test seam called on every progress report of a copy; it
// does nothing unless built with -tags testhooks.
func testThrottle() {}

// testVerifyThrottle is testThrottle for the reads of a verification.
func testVerifyThrottle() {}

// progressEvery returns d: the progress interval is fixed unless built with
// -tags testhooks.
func progressEvery(d time.Duration) time.Duration { return d }
