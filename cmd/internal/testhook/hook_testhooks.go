//go:build testhooks

package testhook

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"time"
)

// BeforeVerify runs $CVV_TEST_BEFORE_VERIFY with sh -c between the copy and
// the verification of a file, with CVV_TEST_FILE set to the file's relative
// path and CVV_TEST_DESTS to its destination paths, one a line, and waits
// for it. Fault tests use it to corrupt a copy between the two phases.
func BeforeVerify(ctx context.Context, rel string, dests []string) error {
	return runHook(ctx, "CVV_TEST_BEFORE_VERIFY", rel, dests)
}

// BeforeVerifyArmed reports whether $CVV_TEST_BEFORE_VERIFY is set: the
// copier then verifies each file after its copy rather than behind it
// (cvv.Job.ReadBack), so that the hook runs before any byte is read back.
func BeforeVerifyArmed() bool { return os.Getenv("CVV_TEST_BEFORE_VERIFY") != "" }

// BeforeCascade runs $CVV_TEST_BEFORE_CASCADE as BeforeVerify does, before
// the file's cascade destinations (--cascade) are filled, with
// CVV_TEST_DESTS the verified copies they may be read from, in the order
// they are tried. Fault tests use it to damage a verified copy.
func BeforeCascade(ctx context.Context, rel string, froms []string) error {
	return runHook(ctx, "CVV_TEST_BEFORE_CASCADE", rel, froms)
}

// AfterPlace runs $CVV_TEST_AFTER_PLACE as BeforeVerify does, right after
// a copy of the file got its final name (CVV_TEST_DESTS), before its name
// and attributes are checked there.
func AfterPlace(rel, final string) error {
	return runHook(context.Background(), "CVV_TEST_AFTER_PLACE", rel, []string{final})
}

// runHook runs the script in the environment variable env, if set.
func runHook(ctx context.Context, env, rel string, dests []string) error {
	script := os.Getenv(env)
	if script == "" {
		return nil
	}
	cmd := exec.CommandContext(ctx, "sh", "-c", script)
	cmd.Env = append(os.Environ(), "CVV_TEST_FILE="+rel, "CVV_TEST_DESTS="+strings.Join(dests, "\n"))
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	return cmd.Run()
}

// throttle is the pause after each progress report, from
// $CVV_TEST_THROTTLE (a Go duration): it slows a copy down so that a test can
// interrupt it in the middle.
var throttle = func() time.Duration {
	d, _ := time.ParseDuration(os.Getenv("CVV_TEST_THROTTLE"))
	return d
}()

// Throttle sleeps $CVV_TEST_THROTTLE after a progress report.
func Throttle() {
	if throttle > 0 {
		time.Sleep(throttle)
	}
}

// verifyThrottle is the pause after each progress report of a
// verification's read, from $CVV_TEST_VERIFY_THROTTLE.
var verifyThrottle = func() time.Duration {
	d, _ := time.ParseDuration(os.Getenv("CVV_TEST_VERIFY_THROTTLE"))
	return d
}()

// VerifyThrottle sleeps $CVV_TEST_VERIFY_THROTTLE after a verification read.
func VerifyThrottle() {
	if verifyThrottle > 0 {
		time.Sleep(verifyThrottle)
	}
}

// ProgressEvery returns $CVV_TEST_PROGRESS_INTERVAL (a Go duration) when set,
// d otherwise, so that a short test run shows its progress output.
func ProgressEvery(d time.Duration) time.Duration {
	if e, err := time.ParseDuration(os.Getenv("CVV_TEST_PROGRESS_INTERVAL")); err == nil && e > 0 {
		return e
	}
	return d
}
