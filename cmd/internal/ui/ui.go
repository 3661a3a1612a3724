// Package ui shows what cvv does: per-file lines, warnings and failures,
// the live progress (bars on a terminal, a plain line every few seconds
// elsewhere), the summaries of copy and verify, and the same as
// newline-delimited JSON events (docs/JSON.md).
//
// The commands push what happens to a printer: events, and snapshots of
// their progress from a goroutine of their own. A printer never reads the
// state of the run it shows and holds no pointer into it; it never decides
// anything about the run either (the answer to Ask aside). Its methods are
// safe for concurrent use.
package ui

import (
	"context"
	"io"
	"os"
	"strconv"
	"time"
	"unicode"
)

// SchemaVersion is the version of the --json event schema (docs/JSON.md).
// It changes only when a field changes meaning or disappears.
const SchemaVersion = 1

// Printer is what every command reports through.
type Printer interface {
	// Progress shows a new state of the run's progress. The run pushes
	// one every few tenths of a second; the printer shows what it wants
	// of them.
	Progress(Snapshot)
	// Warn reports something cvv skipped or could not do that does not
	// fail the run.
	Warn(path, msg string)
	// Notice tells what cvv did that nothing went wrong with (a conflict
	// resolved, a repair, which engine runs).
	Notice(path, msg string)
	// Fail reports the failure of something that is not a file copy: a
	// directory, a symlink, a destination, a manifest.
	Fail(path, dest string, err error)
	// Close ends the live display; it may be called more than once.
	Close()
}

// CopyPrinter is what a copy reports through.
type CopyPrinter interface {
	Printer
	// Start announces the run; the live display starts with it.
	Start(Start)
	// Copied reports the end of a file's copy phase.
	Copied(File)
	// Done reports a file whose fate is final.
	Done(File)
	// Wrote reports a file cvv wrote beside the copies: kind is
	// "hashfile" or "report".
	Wrote(kind, path string)
	// SourceReleased reports that the run reads the source no more.
	SourceReleased(SourceReleased)
	// Cascaded reports a file whose cascade destinations (--cascade)
	// were filled from a verified copy, or failed.
	Cascaded(Cascade)
	// Ask asks a yes/no question and reads the answer; an empty answer is
	// yes. The live display pauses meanwhile.
	Ask(ctx context.Context, question string) (bool, error)
	// Summary reports the end of the run and ends the live display.
	Summary(Summary)
}

// FileShows is implemented by a copy printer that shows only some of the
// file events: a run asks it before it builds the File of an event
// nobody would see (the events of millions of files skipped by a
// re-run). A printer without it is given every event.
type FileShows interface {
	// ShowsFile reports whether Copied (done false) or Done (done true)
	// shows anything of a file that failed nowhere (no error on its
	// source or on any destination) and whose verification completed
	// or not (verified). A failed file's events are always given.
	ShowsFile(done, verified bool) bool
}

// VerifyPrinter is what cvv verify reports through.
type VerifyPrinter interface {
	Printer
	// VerifyFile reports the check of one recorded (or new) file.
	VerifyFile(VerifyFile)
	// VerifySummary reports the end of the verification and ends the live
	// display.
	VerifySummary(VerifySummary)
}

// HashPrinter is what cvv hash reports through.
type HashPrinter interface {
	Printer
	// Sum prints one line of a hash list (with its newline).
	Sum(line string)
}

// Output is a printer for every command: what New returns.
type Output interface {
	CopyPrinter
	VerifyPrinter
	HashPrinter
}

// Options choose and set up a printer.
type Options struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// JSON prints newline-delimited JSON events on Stdout.
	JSON bool
	// Quiet prints only problems and the summary.
	Quiet bool
	// LineEvery and JSONEvery are how often the plain progress line and
	// the JSON progress event come (0: 5 s and 1 s).
	LineEvery, JSONEvery time.Duration
}

// New returns the printer the options ask for: JSON events, or text with
// bars when standard error is a terminal that can show them.
func New(o Options) Output {
	if o.LineEvery <= 0 {
		o.LineEvery = 5 * time.Second
	}
	if o.JSONEvery <= 0 {
		o.JSONEvery = time.Second
	}
	if o.JSON {
		return newJSON(o)
	}
	return newText(o)
}

// now is the time stamp of an event.
func now() string { return time.Now().UTC().Format(time.RFC3339Nano) }

// DisplayName makes a path printable on one line: names with control or
// non-printable characters are quoted Go-style; "" is ".".
func DisplayName(s string) string {
	for _, c := range s {
		if !unicode.IsPrint(c) && c != ' ' {
			return strconv.Quote(s)
		}
	}
	if s == "" {
		return "."
	}
	return s
}

// errString is err's message, "" for nil.
func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// useColor reports whether text on w may be coloured.
func useColor(w io.Writer) bool {
	_, noColor := os.LookupEnv("NO_COLOR")
	return !noColor && IsTerminal(w) && os.Getenv("TERM") != "dumb"
}

// ErrString is err's message, "" for nil.
func ErrString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
