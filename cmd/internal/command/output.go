package command

import (
	"io"
	"time"

	"github.com/cvv-project/cvv/cmd/internal/testhook"
	"github.com/cvv-project/cvv/cmd/internal/ui"
)

// displayName makes a path printable on one line (ui.DisplayName).
func displayName(s string) string { return ui.DisplayName(s) }

// errString is err's message, "" for nil.
func errString(err error) string { return ui.ErrString(err) }

// newPrinter returns the printer the command line asks for.
func newPrinter(stdin io.Reader, stdout, stderr io.Writer, json, quiet bool) ui.Output {
	return ui.New(ui.Options{
		Stdin: stdin, Stdout: stdout, Stderr: stderr, JSON: json, Quiet: quiet,
		LineEvery: testhook.ProgressEvery(5 * time.Second), JSONEvery: testhook.ProgressEvery(time.Second),
	})
}
