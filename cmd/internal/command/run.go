// Package command is the cvv command line: the urfave/cli application, the
// copy run that drives a cvv.Engine over a planned tree, its verification,
// its output (per-file lines, live progress, newline-delimited JSON) and the
// one place where errors become exit statuses.
//
// It uses the engines only through the cvv.Engine contract, never their
// internals, and it never writes outside the destinations it was given.
package command

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/cvv-project/cvv/cmd/internal/copier"
	"github.com/cvv-project/cvv/cmd/internal/usage"
	"github.com/cvv-project/cvv/hashing/manifest"
)

// Exit statuses.
const (
	ExitOK      = 0                  // everything copied and verified
	ExitFailure = copier.ExitFailure // at least one copy or verification failed
	ExitUsage   = 2                  // bad command line or bad input; nothing written
	// ExitNotVerified: every file was copied, but some copies were not
	// verified (--ask answered no); the next run verifies them.
	ExitNotVerified = 3
	ExitSIGINT      = 130 // interrupted (128 + SIGINT)
	ExitSIGTERM     = 143 // terminated (128 + SIGTERM)
)

// errFailures and errNotVerified end a run whose failures or unverified
// copies have been reported already (copier's, also used by cvv verify and
// cvv hash).
var (
	errFailures    = copier.ErrFailures
	errNotVerified = copier.ErrNotVerified
)

// Run runs the cvv command line args (args[0] is the program name) and
// returns the exit status. The first SIGINT or SIGTERM cancels the run, which
// stops within a second and leaves no partial file under a final name; a
// second one exits at once.
func Run(ctx context.Context, args []string) int {
	return run(ctx, args, os.Stdin, os.Stdout, os.Stderr)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)

	app := newApp(stdin, stdout, stderr)
	result := make(chan error, 1)
	go func() {
		args, err := reorderArgs(app, args)
		if err == nil {
			err = runApp(ctx, app, args)
		}
		result <- err
	}()
	// The first signal cancels the run, which stops within a second; a
	// second one returns at once (main exits with the status, leaving the
	// run's goroutines behind).
	var sig os.Signal
	var err error
	select {
	case err = <-result:
	case sig = <-sigs:
		cancel()
		select {
		case err = <-result:
		case s2 := <-sigs:
			fmt.Fprintf(stderr, "cvv: second %s, exiting now\n", signalName(s2))
			return signalStatus(s2)
		}
	}
	code := exitStatus(err, sig)
	if err != nil && code != ExitOK && !errors.Is(err, errFailures) && !errors.Is(err, errNotVerified) {
		if sig != nil {
			fmt.Fprintf(stderr, "cvv: interrupted by %s\n", signalName(sig))
		} else {
			fmt.Fprintf(stderr, "cvv: %v\n", err)
		}
	}
	return code
}

// runApp runs the application; a seam for tests.
var runApp = func(ctx context.Context, app *cli.App, args []string) error { return app.RunContext(ctx, args) }

// exitStatus is the one mapping from a run's outcome to an exit status.
func exitStatus(err error, sig os.Signal) int {
	if sig != nil {
		return signalStatus(sig)
	}
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, usage.ErrUsage), errors.Is(err, manifest.ErrCorrupt), errors.Is(err, manifest.ErrInvalid):
		// A manifest that cannot be trusted is bad input, as is a
		// request the manifest writer refuses.
		return ExitUsage
	case errors.Is(err, context.Canceled):
		return ExitSIGINT
	case errors.Is(err, errNotVerified):
		return ExitNotVerified
	}
	return ExitFailure
}

// signalName names s as people know it: SIGINT (Ctrl-C), SIGTERM. The
// Go names ("interrupt", "terminated") made "interrupted by interrupt".
func signalName(s os.Signal) string {
	switch s {
	case os.Interrupt:
		return "SIGINT (Ctrl-C)"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}

func signalStatus(s os.Signal) int {
	if s == syscall.SIGTERM {
		return ExitSIGTERM
	}
	return ExitSIGINT
}
