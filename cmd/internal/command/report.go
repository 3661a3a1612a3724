package command

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/cmd/internal/plan"
)

// jsonVersion is the version of the --json event schema (docs/JSON.md). It
// changes only when a field changes meaning or disappears.
const jsonVersion = 1

// reporter writes everything the user sees: per-file lines, warnings,
// errors, the live progress and the summary, as text or as JSON events.
// Its methods are safe for concurrent use.
type reporter struct {
	r           *runner
	mu          sync.Mutex
	json        bool
	quiet       bool
	color       bool
	stdout      io.Writer
	stderr      io.Writer
	enc         *json.Encoder
	prog        progressDisplay
	interrupted bool
}

// progressDisplay is the live progress: bars on a terminal, a plain line
// every few seconds otherwise, JSON progress events with --json.
type progressDisplay interface {
	// lineWriter returns where per-file lines go while the display runs
	// (above the bars on a terminal), or nil for stdout.
	lineWriter() io.Writer
	// stop ends the display; it may be called more than once.
	stop()
}

func newReporter(r *runner) *reporter {
	rep := &reporter{
		r:      r,
		json:   r.opts.json,
		quiet:  r.opts.quiet,
		stdout: r.stdout,
		stderr: r.stderr,
	}
	if rep.json {
		rep.enc = json.NewEncoder(r.stdout)
		rep.enc.SetEscapeHTML(false)
	}
	_, noColor := os.LookupEnv("NO_COLOR")
	rep.color = !noColor && !rep.json && isTerminal(r.stdout) && os.Getenv("TERM") != "dumb"
	return rep
}

// startProgress starts the live display for the current phase.
func (rep *reporter) startProgress() {
	if rep.quiet {
		return
	}
	var p progressDisplay
	switch {
	case rep.json:
		p = newTickerProgress(rep.r, progressEvery(time.Second), rep.progressEvent)
	case isTerminal(rep.stderr) && hasWidth(rep.stderr) && os.Getenv("TERM") != "dumb":
		p = newBarProgress(rep.r, rep.stderr, isTerminal(rep.stdout))
	default:
		p = newTickerProgress(rep.r, progressEvery(5*time.Second), rep.progressLine)
	}
	rep.mu.Lock()
	rep.prog = p
	rep.mu.Unlock()
}

func (rep *reporter) stopProgress() {
	rep.mu.Lock()
	p := rep.prog
	rep.prog = nil
	rep.mu.Unlock()
	if p != nil {
		// Not under mu: the display's goroutine may be printing a line.
		p.stop()
	}
}

func (rep *reporter) close() { rep.stopProgress() }

func (rep *reporter) emit(v any) {
	rep.mu.Lock()
	defer rep.mu.Unlock()
	rep.enc.Encode(v)
}

// printOut writes a result line to stdout (above the bars when they run).
func (rep *reporter) printOut(line string) {
	rep.mu.Lock()
	defer rep.mu.Unlock()
	if rep.prog != nil {
		if w := rep.prog.lineWriter(); w != nil {
			io.WriteString(w, line+"\n")
			return
		}
	}
	io.WriteString(rep.stdout, line+"\n")
}

// printErr writes a message line to stderr (above the bars when they run).
func (rep *reporter) printErr(line string) {
	rep.mu.Lock()
	defer rep.mu.Unlock()
	if b, ok := rep.prog.(*barProgress); ok && b != nil {
		io.WriteString(b.p, line+"\n")
		return
	}
	io.WriteString(rep.stderr, line+"\n")
}

func now() string { return time.Now().UTC().Format(time.RFC3339Nano) }

// displayName makes a path printable on one line: names with control or
// non-printable characters are quoted Go-style.
func displayName(s string) string {
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

type startEvent struct {
	Event       string   `json:"event"`
	Version     int      `json:"version"`
	Time        string   `json:"time"`
	Source      string   `json:"source"`
	SourceIsDir bool     `json:"source_is_dir"`
	Dests       []string `json:"dests"`
	Mode        string   `json:"mode"`
	Hash        string   `json:"hash"`
	Engine      string   `json:"engine"`
	Jobs        int      `json:"jobs"`
	VerifyAfter bool     `json:"verify_after"`
	Files       int      `json:"files"`
	Dirs        int      `json:"dirs"`
	Symlinks    int      `json:"symlinks"`
	Bytes       int64    `json:"bytes"`
	FilesToCopy int      `json:"files_to_copy"`
	BytesToCopy int64    `json:"bytes_to_copy"`
	// Writes says how each destination is written, in Dests order.
	Writes []writeEvent `json:"writes"`
}

// writeEvent is how one destination is written: "direct" (O_DIRECT),
// "buffered" (the page cache, with write-behind) or "pwrite" (the portable
// engine, through the page cache), and why.
type writeEvent struct {
	Dest string `json:"dest"`
	Path string `json:"path"`
	Why  string `json:"why"`
}

// writeEvents describes how each destination is written.
func (rep *reporter) writeEvents() []writeEvent {
	r := rep.r
	out := make([]writeEvent, len(r.plan.Dests))
	for i, d := range r.plan.Dests {
		w := r.writes[i]
		out[i] = writeEvent{Dest: d.Path, Path: w.Path.String(), Why: w.Why}
		if r.eng.Name() == "fallback" {
			out[i].Path, out[i].Why = "pwrite", "the portable engine writes through the page cache"
		} else if w.Path == cvv.WriteAuto {
			out[i].Path = cvv.WriteDirect.String()
		}
	}
	return out
}

// verboseWrites prints, with -v, how each destination is written.
func (rep *reporter) verboseWrites() {
	if rep.json || !rep.r.opts.verbose {
		return
	}
	for _, w := range rep.writeEvents() {
		how := map[string]string{"direct": "O_DIRECT writes", "buffered": "page-cache writes with write-behind", "pwrite": "page-cache writes"}[w.Path]
		rep.printErr(fmt.Sprintf("cvv: %s: %s (%s)", displayName(w.Dest), how, w.Why))
	}
}

func (rep *reporter) start() {
	r := rep.r
	toCopy := 0
	for _, fj := range r.files {
		if fj.needsCopy() {
			toCopy++
		}
	}
	if rep.json {
		ev := startEvent{
			Event: "start", Version: jsonVersion, Time: now(),
			Source: r.plan.Source, SourceIsDir: r.plan.IsDir,
			Mode: r.opts.mode.String(), Hash: r.opts.alg.String(), Engine: r.eng.Name(),
			Jobs: r.opts.jobs, VerifyAfter: r.opts.verifyAfter,
			Files: len(r.files), Dirs: len(r.tree.Dirs), Symlinks: len(r.tree.Links),
			Bytes: r.tree.Bytes, FilesToCopy: toCopy, BytesToCopy: r.bytesTotal,
		}
		for _, d := range r.plan.Dests {
			ev.Dests = append(ev.Dests, d.Path)
		}
		ev.Writes = rep.writeEvents()
		rep.emit(ev)
	}
	rep.verboseWrites()
	rep.startProgress()
}

type warningEvent struct {
	Event   string `json:"event"`
	Time    string `json:"time"`
	Path    string `json:"path"`
	Message string `json:"message"`
}

func (rep *reporter) warn(rel, msg string) {
	rep.r.warnings.Add(1)
	if rep.json {
		rep.emit(warningEvent{Event: "warning", Time: now(), Path: rel, Message: msg})
		return
	}
	rep.printErr("cvv: warning: " + msg)
}

// notice tells what cvv did to an existing destination file (replaced it,
// copied beside it, repaired it): on standard error in text mode, as a
// "notice" event with --json. It is not a warning: nothing went wrong.
func (rep *reporter) notice(rel, msg string) {
	if rep.json {
		rep.emit(warningEvent{Event: "notice", Time: now(), Path: rel, Message: msg})
		return
	}
	rep.printErr("cvv: " + msg)
}

type errorEvent struct {
	Event   string `json:"event"`
	Time    string `json:"time"`
	Path    string `json:"path"`
	Dest    string `json:"dest"`
	Message string `json:"message"`
}

// entryError reports the failure of something that is not a file copy: a
// directory, a symlink, an unreadable part of the source, a manifest.
func (rep *reporter) entryError(rel, target string, err error) {
	if rep.json {
		rep.emit(errorEvent{Event: "error", Time: now(), Path: rel, Dest: target, Message: err.Error()})
		return
	}
	rep.printErr("cvv: FAIL " + err.Error())
}

type destEvent struct {
	Path   string `json:"path"`
	Status string `json:"status"`
	Hash   string `json:"hash,omitempty"`
	Error  string `json:"error,omitempty"`
	// RenamedFrom is the name the copy would have had (--on-conflict
	// rename put it at Path instead); Replaces describes the different
	// file the copy replaces (--on-conflict overwrite).
	RenamedFrom string `json:"renamed_from,omitempty"`
	Replaces    string `json:"replaces,omitempty"`
}

// destEventOf is the JSON dest of fj on destination i with status st, the
// hash re-read from it and its error.
func (rep *reporter) destEventOf(fj *fileJob, i int, st, hash string, err error) destEvent {
	ev := destEvent{Path: rep.r.target(fj, i), Status: st, Hash: hash, Error: errString(err)}
	if c := fj.conflict(i); c.alt != "" {
		ev.RenamedFrom = rep.r.plan.Target(i, fj.e.Rel)
	} else {
		ev.Replaces = c.replaced
	}
	return ev
}

type fileEvent struct {
	Event       string      `json:"event"`
	Time        string      `json:"time"`
	Path        string      `json:"path"`
	Size        int64       `json:"size"`
	HashAlg     string      `json:"hash_alg"`
	Hash        string      `json:"hash"`
	Seconds     float64     `json:"seconds"`
	BytesPerSec float64     `json:"bytes_per_sec"`
	SourceError string      `json:"source_error,omitempty"`
	Dests       []destEvent `json:"dests"`
	// Added in schema version 1: hash is the one the destinations'
	// verification records hold, not a read of the source.
	HashReused bool `json:"hash_reused"`
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func speed(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// copied reports the end of the copy phase of a file (JSON "file" event).
func (rep *reporter) copied(fj *fileJob, states []destState) {
	if !rep.json {
		return
	}
	ev := fileEvent{
		Event: "file", Time: now(), Path: fj.e.Rel, Size: fj.e.Size,
		HashAlg: rep.r.opts.alg.String(), Hash: fj.hash,
		Seconds: fj.elapsed().Seconds(), BytesPerSec: speed(fj.size, fj.elapsed()),
		SourceError: errString(fj.sourceErr()), HashReused: fj.hashReused,
	}
	for i := range states {
		st := "copied"
		switch states[i] {
		case dsSkipped:
			st = "skipped"
		case dsOK:
			st = "kept"
		case dsFailed:
			st = "failed"
		}
		// A hash was re-read at the copy only for a kept file (the
		// verification may have read one since).
		var h string
		var err error
		switch states[i] {
		case dsOK:
			h = fj.destHashOf(i)
		case dsFailed:
			err = fj.err(i)
		}
		ev.Dests = append(ev.Dests, rep.destEventOf(fj, i, st, h, err))
	}
	rep.emit(ev)
}

type verifyEvent struct {
	Event   string      `json:"event"`
	Time    string      `json:"time"`
	Path    string      `json:"path"`
	Mode    string      `json:"mode"`
	HashAlg string      `json:"hash_alg"`
	Hash    string      `json:"hash"`
	Source  destEvent   `json:"source"`
	Dests   []destEvent `json:"dests"`
	OK      bool        `json:"ok"`
	// Added in schema version 1: hash is the one the destinations'
	// verification records hold (--verify-existing), the source was not
	// read.
	HashReused bool `json:"hash_reused"`
}

// done reports a file whose fate is final: the JSON "verify" event (when it
// was verified) or the text result line, and the failure details.
func (rep *reporter) done(fj *fileJob) {
	r := rep.r
	if rep.json {
		if !fj.verified {
			return
		}
		srcStatus := fj.srcState.String()
		if srcStatus == "" {
			srcStatus = "not_read"
		}
		ev := verifyEvent{
			Event: "verify", Time: now(), Path: fj.e.Rel, Mode: r.opts.mode.String(),
			HashAlg: r.opts.alg.String(), Hash: fj.hash, OK: !fj.failed(), HashReused: fj.hashReused,
			Source: destEvent{Path: rep.r.source(fj), Status: srcStatus, Error: errString(fj.sourceErr())},
		}
		for i := range fj.state {
			st := "ok"
			switch fj.state[i] {
			case dsSkipped:
				st = "skipped"
			case dsFailed:
				st = "failed"
			case dsCopied:
				st = "not_verified"
			}
			ev.Dests = append(ev.Dests, rep.destEventOf(fj, i, st, fj.destHashOf(i), fj.err(i)))
		}
		rep.emit(ev)
		return
	}
	if !rep.quiet {
		rep.printOut(rep.resultLine(fj))
	}
	if fj.sourceErr() != nil {
		rep.printErr(fmt.Sprintf("cvv: FAIL %s: %v", displayName(fj.e.Rel), fj.sourceErr()))
	}
	for i := range fj.state {
		err := fj.err(i)
		// A dropped destination was reported once, not file by file.
		if err != nil && err != fj.sourceErr() && err != rep.r.dropped[i] {
			rep.printErr(fmt.Sprintf("cvv: FAIL %s -> %s: %v", displayName(fj.e.Rel), displayName(rep.r.target(fj, i)), err))
		}
	}
}

func (rep *reporter) paint(s, color string) string {
	if !rep.color {
		return s
	}
	return "\x1b[" + color + "m" + s + "\x1b[0m"
}

// resultLine is the per-file text line:
//
//	NAME  SIZE  SPEED  ALG HASH  src STATUS  DEST-STATUS...
func (rep *reporter) resultLine(fj *fileJob) string {
	r := rep.r
	var b strings.Builder
	b.WriteString(displayName(fj.e.Rel))
	b.WriteString("  ")
	b.WriteString(plan.HumanBytes(fj.e.Size))
	b.WriteString("  ")
	if el := fj.elapsed(); el > 0 {
		b.WriteString(plan.HumanBytes(int64(speed(fj.size, el))) + "/s")
	} else {
		b.WriteString("-")
	}
	b.WriteString("  ")
	b.WriteString(r.opts.alg.String())
	b.WriteString(" ")
	if fj.hash != "" {
		b.WriteString(fj.hash)
	} else {
		b.WriteString("-")
	}
	b.WriteString("  src ")
	switch fj.srcState {
	case srcOK:
		b.WriteString(rep.paint("ok", "32"))
	case srcChanged:
		b.WriteString(rep.paint("CHANGED", "31"))
	case srcError:
		b.WriteString(rep.paint("FAIL", "31"))
	default:
		if fj.hashReused {
			// The hash of the verification record, not a read.
			b.WriteString("reused")
		} else {
			b.WriteString("-")
		}
	}
	b.WriteString(" ")
	for _, s := range fj.state {
		b.WriteString(" ")
		switch s {
		case dsOK:
			b.WriteString(rep.paint("ok", "32"))
		case dsSkipped:
			b.WriteString("skip")
		case dsCopied:
			b.WriteString("copied")
		case dsFailed:
			b.WriteString(rep.paint("FAIL", "31"))
		default:
			b.WriteString("-")
		}
	}
	return b.String()
}

// ask asks the user a yes/no question on stderr and reads the answer from
// stdin; an empty answer is yes.
func (rep *reporter) ask(ctx context.Context, question string) (bool, error) {
	rep.stopProgress()
	rep.mu.Lock()
	io.WriteString(rep.stderr, question)
	rep.mu.Unlock()
	type answer struct {
		line string
		err  error
	}
	ch := make(chan answer, 1)
	go func() {
		line, err := bufio.NewReader(rep.r.stdin).ReadString('\n')
		ch <- answer{line, err}
	}()
	var line string
	select {
	case a := <-ch:
		if a.err != nil && (a.err != io.EOF || a.line == "") {
			return false, fmt.Errorf("--ask: no answer on standard input; the copies were not verified")
		}
		line = a.line
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer rep.startProgress()
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "", "y", "yes":
		return true, nil
	}
	return false, nil
}

type progressEvent struct {
	Event         string   `json:"event"`
	Time          string   `json:"time"`
	Phase         string   `json:"phase"`
	BytesDone     int64    `json:"bytes_done"`
	BytesTotal    int64    `json:"bytes_total"`
	FilesDone     int64    `json:"files_done"`
	FilesTotal    int      `json:"files_total"`
	FilesVerified int64    `json:"files_verified"`
	BytesPerSec   float64  `json:"bytes_per_sec"`
	ETASeconds    *float64 `json:"eta_seconds"`
	Current       []string `json:"current"`
}

// snapshot is the state the progress displays show.
type snapshot struct {
	phase                 string
	bytesDone, bytesTotal int64
	filesDone, verified   int64
	filesTotal            int
	rate                  float64
	eta                   time.Duration // <0: unknown
	current               []string
}

func (r *runner) snapshot() snapshot {
	s := snapshot{
		phase:      r.phase.Load().(string),
		bytesDone:  r.bytesDone.Load(),
		bytesTotal: r.bytesTotal,
		filesDone:  r.filesDone.Load(),
		verified:   r.verifyDone.Load(),
		filesTotal: len(r.files),
		eta:        -1,
	}
	if s.phase == "copy" && s.filesDone == int64(s.filesTotal) && r.opts.mode != VerifyTransfer && !r.opts.verifyAfter {
		s.phase = "verify"
	}
	el := time.Since(r.start)
	if el > 0 {
		s.rate = float64(r.bytesRead.Load()) / el.Seconds()
	}
	if s.rate > 0 && s.phase == "copy" {
		s.eta = time.Duration(float64(s.bytesTotal-s.bytesDone) / s.rate * float64(time.Second))
	}
	r.inFlight.Range(func(k, _ any) bool {
		s.current = append(s.current, k.(string))
		return len(s.current) < 8
	})
	sort.Strings(s.current)
	return s
}

func (rep *reporter) progressEvent(s snapshot) {
	ev := progressEvent{
		Event: "progress", Time: now(), Phase: s.phase,
		BytesDone: s.bytesDone, BytesTotal: s.bytesTotal,
		FilesDone: s.filesDone, FilesTotal: s.filesTotal, FilesVerified: s.verified,
		BytesPerSec: s.rate, Current: s.current,
	}
	if ev.Current == nil {
		ev.Current = []string{}
	}
	if s.eta >= 0 {
		e := s.eta.Seconds()
		ev.ETASeconds = &e
	}
	rep.emit(ev)
}

func (rep *reporter) progressLine(s snapshot) {
	pct := 100.0
	if s.bytesTotal > 0 {
		pct = 100 * float64(s.bytesDone) / float64(s.bytesTotal)
	}
	line := fmt.Sprintf("cvv: %s %s / %s (%.0f%%), %d/%d files, %d verified, %s/s",
		s.phase, plan.HumanBytes(s.bytesDone), plan.HumanBytes(s.bytesTotal), pct,
		s.filesDone, s.filesTotal, s.verified, plan.HumanBytes(int64(s.rate)))
	if s.eta >= 0 {
		line += ", ETA " + s.eta.Round(time.Second).String()
	}
	rep.printErr(line)
}

type summaryEvent struct {
	Event         string  `json:"event"`
	Time          string  `json:"time"`
	Files         int     `json:"files"`
	FilesCopied   int     `json:"files_copied"`
	FilesSkipped  int     `json:"files_skipped"`
	FilesFailed   int     `json:"files_failed"`
	FilesVerified int64   `json:"files_verified"`
	Symlinks      int64   `json:"symlinks"`
	Dirs          int     `json:"dirs"`
	Failures      int64   `json:"failures"`
	Warnings      int64   `json:"warnings"`
	Bytes         int64   `json:"bytes"`
	BytesCopied   int64   `json:"bytes_copied"`
	Seconds       float64 `json:"seconds"`
	BytesPerSec   float64 `json:"bytes_per_sec"`
	Interrupted   bool    `json:"interrupted"`
	OK            bool    `json:"ok"`
	// Added in schema version 1 (fields are only added).
	FilesNotVerified int `json:"files_not_verified"`
	FilesNotStarted  int `json:"files_not_started"`
	FilesHashReused  int `json:"files_hash_reused"`
}

// fileCounts are the files of a run by outcome. A file counts once: failed
// first, then not verified, not started, copied, skipped.
type fileCounts struct {
	copied, skipped, failed, notVerified, notStarted int
	// hashReused counts the files whose source hash came from their
	// verification records (aside from the outcomes above).
	hashReused int
}

func (r *runner) countFiles() fileCounts {
	var c fileCounts
	for _, fj := range r.files {
		if fj.hashReused {
			c.hashReused++
		}
		switch {
		case fj.failed():
			c.failed++
		case slices.Contains(fj.state, dsCopied):
			// Copied (maybe given its name) but not verified.
			c.notVerified++
			if fj.wrote {
				c.copied++
			}
		case slices.Contains(fj.state, dsPending):
			// Not copied, or its check not done: the run stopped first.
			c.notStarted++
		case fj.wrote:
			c.copied++
		default:
			c.skipped++
		}
	}
	return c
}

// summary reports the end of the run.
func (rep *reporter) summary() {
	rep.stopProgress()
	r := rep.r
	c := r.countFiles()
	ok := r.failures.Load() == 0 && !rep.interrupted && c.notVerified == 0 && c.notStarted == 0
	el := time.Since(r.start)
	moved := r.bytesRead.Load()
	if rep.json {
		rep.emit(summaryEvent{
			Event: "summary", Time: now(), Files: len(r.files),
			FilesCopied: c.copied, FilesSkipped: c.skipped, FilesFailed: c.failed,
			FilesNotVerified: c.notVerified, FilesNotStarted: c.notStarted, FilesHashReused: c.hashReused,
			FilesVerified: r.verifyDone.Load(), Symlinks: int64(len(r.tree.Links)), Dirs: len(r.tree.Dirs),
			Failures: r.failures.Load(), Warnings: r.warnings.Load(),
			Bytes: r.tree.Bytes, BytesCopied: moved, Seconds: el.Seconds(), BytesPerSec: speed(moved, el),
			Interrupted: rep.interrupted, OK: ok,
		})
		return
	}
	if rep.quiet {
		return
	}
	state := ""
	if rep.interrupted {
		state = " (interrupted)"
	}
	counts := fmt.Sprintf("%d copied, %d skipped, %d failed", c.copied, c.skipped, c.failed)
	if c.notVerified > 0 {
		counts += fmt.Sprintf(", %d not verified", c.notVerified)
	}
	if c.notStarted > 0 {
		counts += fmt.Sprintf(", %d not started", c.notStarted)
	}
	if c.hashReused > 0 {
		counts += fmt.Sprintf(", %d with the source hash of their verification record", c.hashReused)
	}
	rep.printOut(fmt.Sprintf("cvv: %s (%s), %s in %s, %s/s, %s, %s mode, %s%s",
		count(len(r.files), "file", "files"), counts, plan.HumanBytes(r.tree.Bytes), el.Round(time.Millisecond),
		plan.HumanBytes(int64(speed(moved, el))), count(len(r.plan.Dests), "destination", "destinations"), r.opts.mode,
		count(r.failures.Load(), "failure", "failures"), state))
}
