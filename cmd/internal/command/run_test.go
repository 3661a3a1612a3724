package command

import (
	"bytes"
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
)

// A second Ctrl-C ends cvv at once, even when the run does not stop: run
// returns 130 from its own goroutine (it used to call os.Exit from the
// signal goroutine, which ended this test binary).
func TestSecondSignalReturns(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	defer close(release)
	old := runApp
	runApp = func(ctx context.Context, app *cli.App, args []string) error {
		close(started)
		<-release // a run that does not stop when cancelled
		return ctx.Err()
	}
	defer func() { runApp = old }()
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(context.Background(), []string{"cvv", "a", "b"}, strings.NewReader(""), &bytes.Buffer{}, &stderr)
	}()
	<-started
	for range 2 {
		if err := syscall.Kill(syscall.Getpid(), syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	select {
	case code := <-done:
		if code != ExitSIGINT {
			t.Errorf("exit status %d, want %d", code, ExitSIGINT)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return after a second SIGINT")
	}
	if !strings.Contains(stderr.String(), "cvv: second SIGINT (Ctrl-C), exiting now") {
		t.Errorf("stderr %q does not say it exits now", stderr.String())
	}
}
