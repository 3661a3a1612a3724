package ui

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/cvv-project/cvv/cmd/internal/plan"
)

// textPrinter prints lines for people: results on stdout, messages on
// stderr, and the live progress on stderr (bars on a terminal, a plain
// line every p.every elsewhere).
type textPrinter struct {
	mu     sync.Mutex
	stdout io.Writer
	stderr io.Writer
	ask    asker
	quiet  bool
	color  bool
	every  time.Duration
	// canBar: stderr is a terminal that can show bars; linesToo: stdout is
	// a terminal too, so result lines go above the bars.
	canBar, linesToo bool
	// live: the progress is shown (until the summary, but not while
	// asking); bars is the display while it runs, last when
	// the latest plain line was printed.
	live bool
	bars *bars
	last time.Time
}

func newText(o Options) *textPrinter {
	p := &textPrinter{
		stdout: o.Stdout, stderr: o.Stderr, quiet: o.Quiet, every: o.LineEvery,
		color:    useColor(o.Stdout),
		canBar:   IsTerminal(o.Stderr) && HasWidth(o.Stderr) && os.Getenv("TERM") != "dumb",
		linesToo: IsTerminal(o.Stdout),
		live:     true,
		last:     time.Now(),
	}
	p.ask = asker{in: o.Stdin, out: o.Stderr}
	return p
}

// out writes a result line to stdout (above the bars when they run and
// stdout is the terminal too); p.mu is held.
func (p *textPrinter) out(line string) {
	if p.bars != nil && p.linesToo {
		io.WriteString(p.bars.p, line+"\n")
		return
	}
	io.WriteString(p.stdout, line+"\n")
}

// err writes a message line to stderr (above the bars when they run);
// p.mu is held.
func (p *textPrinter) err(line string) {
	if p.bars != nil {
		io.WriteString(p.bars.p, line+"\n")
		return
	}
	io.WriteString(p.stderr, line+"\n")
}

func (p *textPrinter) println(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.out(line)
}

func (p *textPrinter) eprintln(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.err(line)
}

func (p *textPrinter) Warn(path, msg string)   { p.eprintln("cvv: warning: " + msg) }
func (p *textPrinter) Notice(path, msg string) { p.eprintln("cvv: " + msg) }

func (p *textPrinter) Fail(path, dest string, err error) { p.eprintln("cvv: FAIL " + err.Error()) }

func (p *textPrinter) Wrote(kind, path string) {
	if !p.quiet {
		p.println("cvv: wrote " + DisplayName(path))
	}
}

// Start says, for several destinations, which status column of the file
// lines is which destination; the live display starts with the progress.
func (p *textPrinter) Start(s Start) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last = time.Now()
	if s.Verbose {
		for _, w := range s.Writes {
			how := map[string]string{"direct": "O_DIRECT writes", "buffered": "page-cache writes with write-behind", "pwrite": "page-cache writes"}[w.Path]
			p.err(fmt.Sprintf("cvv: %s: %s (%s)", DisplayName(w.Dest), how, w.Why))
		}
	}
	if !p.quiet && len(s.Names) > 1 {
		names := make([]string, len(s.Names))
		for i, n := range s.Names {
			names[i] = DisplayName(n)
		}
		p.out("cvv: file lines: NAME  SIZE  SPEED  HASH  src STATUS  then the status on " + strings.Join(names, ", "))
	}
}

// Progress draws the bars, or prints a plain line every p.every.
func (p *textPrinter) Progress(s Snapshot) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.quiet || !p.live:
	case p.canBar && p.bars == nil:
		p.bars = newBars(p.stderr, s)
	case p.canBar:
		p.bars.update(s)
	case time.Since(p.last) >= p.every:
		p.last = time.Now()
		p.err(progressLine(s))
	}
}

// progressLine is the plain progress line: the bytes of the phase the run
// is in.
func progressLine(s Snapshot) string {
	done, total, rate, eta := s.BytesDone, s.BytesTotal, s.Rate, s.ETA
	if s.Phase == "verify" && s.VerifyTotal > 0 {
		done, total, rate, eta = s.VerifyDone, s.VerifyTotal, s.VerifyRate, s.VerifyETA
	}
	pct := 100.0
	if total > 0 {
		pct = 100 * float64(done) / float64(total)
	}
	line := fmt.Sprintf("cvv: %s %s / %s (%.0f%%), %d/%d files, %d verified, %s/s",
		s.Phase, plan.HumanBytes(done), plan.HumanBytes(total), pct,
		s.FilesDone, s.FilesTotal, s.Verified, plan.HumanBytes(int64(rate)))
	if eta >= 0 {
		line += ", ETA " + eta.Round(time.Second).String()
	}
	return line
}

// stopLocked ends the bars; p.mu is held.
func (p *textPrinter) stopLocked() {
	if p.bars != nil {
		p.bars.stop()
		p.bars = nil
	}
}

// Close ends the live display.
func (p *textPrinter) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.live = false
	p.stopLocked()
}

// Ask pauses the display while it asks.
func (p *textPrinter) Ask(ctx context.Context, question string) (bool, error) {
	return p.ask.askPaused(ctx, &p.mu, question, p.Close, func() { p.live, p.last = true, time.Now() })
}

func (p *textPrinter) paint(s, color string) string {
	if !p.color {
		return s
	}
	return "\x1b[" + color + "m" + s + "\x1b[0m"
}

// Done prints the file's result line and its failures.
func (p *textPrinter) Done(f File) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.quiet {
		p.out(p.resultLine(f))
	}
	if f.SourceErr != nil {
		p.err(fmt.Sprintf("cvv: FAIL %s: %v", DisplayName(f.Rel), f.SourceErr))
	}
	for _, d := range f.Dests {
		// A destination given up before the copy was reported once.
		if d.Err != nil && d.Err != f.SourceErr && !d.Reported {
			p.err(fmt.Sprintf("cvv: FAIL %s -> %s: %v", DisplayName(f.Rel), DisplayName(d.Path), d.Err))
		}
	}
}

// SourceReleased says that the source may go while destinations are still
// to be filled (--cascade; on stderr, not with -q); at the end of a run
// the summary says it.
func (p *textPrinter) SourceReleased(ev SourceReleased) {
	if p.quiet || len(ev.Pending) == 0 {
		return
	}
	line := fmt.Sprintf("cvv: source released after %s: %s is read no more", secondsString(ev.Seconds), DisplayName(ev.Source))
	if len(ev.Pending) > 0 {
		names := make([]string, len(ev.Pending))
		for i, n := range ev.Pending {
			names[i] = DisplayName(n)
		}
		line += "; filling " + strings.Join(names, ", ") + " from verified copies"
	}
	p.eprintln(line)
}

// secondsString is s seconds, rounded to the millisecond.
func secondsString(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(time.Millisecond).String()
}

// Cascaded prints the result line of a file's cascade destinations
// (NAME  SIZE  SPEED  ALG HASH  from COPY  DEST-STATUS...) and their
// failures.
func (p *textPrinter) Cascaded(c Cascade) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.quiet {
		f := File{Rel: c.Rel, Size: c.Size, Bytes: c.Bytes, Elapsed: c.Elapsed, Alg: c.Alg, Hash: c.Hash, Dests: c.Dests}
		from := "-"
		if c.From != "" {
			from = DisplayName(c.From)
		}
		p.out(p.linePrefix(f) + "  from " + from + " " + p.destStates(f))
	}
	for _, d := range c.Dests {
		if d.Err != nil {
			p.err(fmt.Sprintf("cvv: FAIL %s -> %s: %v", DisplayName(c.Rel), DisplayName(d.Path), d.Err))
		}
	}
}

// Copied prints nothing: the result line comes with Done.
func (p *textPrinter) Copied(File) {}

// ShowsFile: Copied shows nothing, Done the result line unless quiet,
// and only failures with -q.
func (p *textPrinter) ShowsFile(done, _ bool) bool { return done && !p.quiet }

// tinyFile is the size below which a file's rate is not shown: it says
// more about the file's open, sync and rename than about the throughput.
const tinyFile = 1 << 20

// resultLine is the per-file text line:
//
//	NAME  SIZE  SPEED  ALG HASH  src STATUS  DEST-STATUS...
func (p *textPrinter) resultLine(f File) string {
	var b strings.Builder
	b.WriteString(p.linePrefix(f))
	b.WriteString("  src ")
	switch f.SourceState {
	case SourceOK:
		b.WriteString(p.paint("ok", "32"))
	case SourceChanged:
		b.WriteString(p.paint("CHANGED", "31"))
	case SourceError:
		b.WriteString(p.paint("FAIL", "31"))
	default:
		if f.HashReused {
			// The hash of the verification record, not a read.
			b.WriteString("reused")
		} else {
			b.WriteString("-")
		}
	}
	b.WriteString(" ")
	b.WriteString(p.destStates(f))
	return b.String()
}

// linePrefix is the start of a file's line: NAME  SIZE  SPEED  ALG HASH.
func (p *textPrinter) linePrefix(f File) string {
	var b strings.Builder
	b.WriteString(DisplayName(f.Rel) + "  " + plan.HumanBytes(f.Size) + "  ")
	if f.Elapsed > 0 && f.Bytes >= tinyFile {
		b.WriteString(plan.HumanBytes(int64(Speed(f.Bytes, f.Elapsed))) + "/s")
	} else {
		b.WriteString("-")
	}
	b.WriteString("  " + f.Alg + " ")
	if f.Hash != "" {
		b.WriteString(f.Hash)
	} else {
		b.WriteString("-")
	}
	return b.String()
}

// destStates is the status of each destination of a file's line, each
// after a space.
func (p *textPrinter) destStates(f File) string {
	var b strings.Builder
	for _, d := range f.Dests {
		b.WriteString(" ")
		switch d.State {
		case OK:
			b.WriteString(p.paint("ok", "32"))
		case Skipped:
			b.WriteString("skip")
		case Copied:
			b.WriteString("copied")
		case Failed:
			b.WriteString(p.paint("FAIL", "31"))
		default:
			b.WriteString("-")
		}
	}
	return b.String()
}

// count is n and the noun in the singular or the plural: "1 file",
// "2 files".
func count[N int | int64](n N, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// Summary ends the display and prints the summary line.
func (p *textPrinter) Summary(s Summary) {
	p.Close()
	if p.quiet {
		return
	}
	state := ""
	if s.Interrupted {
		state = " (interrupted)"
	}
	counts := fmt.Sprintf("%d copied, %d skipped, %d failed", s.FilesCopied, s.FilesSkipped, s.FilesFailed)
	if s.FilesNotVerified > 0 {
		counts += fmt.Sprintf(", %d not verified", s.FilesNotVerified)
	}
	if s.FilesNotStarted > 0 {
		counts += fmt.Sprintf(", %d not started", s.FilesNotStarted)
	}
	if s.FilesHashReused > 0 {
		counts += fmt.Sprintf(", %d with the source hash of their verification record", s.FilesHashReused)
	}
	released := ""
	if s.SourceReleased != nil && s.ShowRelease {
		released = ", source released after " + secondsString(*s.SourceReleased)
	}
	p.println(fmt.Sprintf("cvv: %s (%s), %s in %s, %s/s, %s, %s mode, %s%s%s",
		count(s.Files, "file", "files"), counts, plan.HumanBytes(s.Bytes), s.Elapsed.Round(time.Millisecond),
		plan.HumanBytes(int64(s.BytesPerSec)), count(s.DestsCount, "destination", "destinations"), s.Mode,
		count(s.Failures, "failure", "failures"), released, state))
	if len(s.Dests) > 1 {
		for _, d := range s.Dests {
			p.println(destLine(d))
		}
	}
}

// destLine is the summary line of one destination: complete, or what is
// missing there and why.
func destLine(d DestSummary) string {
	state := "complete"
	switch {
	case d.Error != "" || (d.FilesFailed > 0 && d.FilesOK+d.FilesSkipped == 0):
		state = "FAILED"
	case !d.Complete:
		state = "INCOMPLETE"
	}
	line := fmt.Sprintf("cvv:   %s: %s (%d ok, %d skipped, %d failed", DisplayName(d.Name), state, d.FilesOK, d.FilesSkipped, d.FilesFailed)
	if d.FilesNotVerified > 0 {
		line += fmt.Sprintf(", %d not verified", d.FilesNotVerified)
	}
	if d.FilesNotStarted > 0 {
		line += fmt.Sprintf(", %d not started", d.FilesNotStarted)
	}
	line += ")"
	if d.Error != "" {
		line += ": " + d.Error
	}
	return line
}

// VerifyFile prints the line of one checked file (not an ok one with -q).
func (p *textPrinter) VerifyFile(ev VerifyFile) {
	if p.quiet && ev.Status == "ok" {
		return
	}
	line := fmt.Sprintf("%-7s  %s", ev.Status, DisplayName(ev.Path))
	switch {
	case ev.SizeOnly && ev.Status != "missing":
		line += fmt.Sprintf("  (size only: %d bytes)", ev.Size)
	case ev.Status == "changed":
		line += fmt.Sprintf("  (recorded %s, now %s)", ev.Expected, ev.Actual)
	case ev.Status == "error":
		line += "  (" + ev.Error + ")"
	}
	p.println(line)
}

// VerifySummary ends the display and prints the generations written and
// the summary line, with -q too.
func (p *textPrinter) VerifySummary(s VerifySummary) {
	p.Close()
	for _, w := range s.Recorded {
		if strings.HasSuffix(w, ".mhl") {
			p.println("cvv verify: recorded " + DisplayName(w))
		}
	}
	names := make([]string, len(s.Records))
	for i, r := range s.Records {
		names[i] = DisplayName(r)
	}
	p.println(fmt.Sprintf("cvv verify: %s against %s (%s): %d ok, %d changed, %d missing, %d new, %d unreadable",
		count(s.Files, "file", "files"), strings.Join(names, ", "), s.Hash, s.OK, s.Changed, s.Missing, s.New, s.Errors))
}

// Sum prints a line of a hash list as it is.
func (p *textPrinter) Sum(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	io.WriteString(p.stdout, line)
}
