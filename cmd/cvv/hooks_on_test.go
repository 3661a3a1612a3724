//go:build testhooks

package main

// testHooks reports that cvv was built with its test seams
// (CVV_TEST_BEFORE_VERIFY, CVV_TEST_THROTTLE).
const testHooks = true
