package ui

import (
	"context"
	"encoding/json"
	"sync"
	"time"
)

// jsonPrinter prints newline-delimited JSON events (docs/JSON.md).
type jsonPrinter struct {
	mu    sync.Mutex
	enc   *json.Encoder
	ask   asker
	quiet bool
	every time.Duration
	// live: progress events are wanted (until the summary);
	// last is when the latest was printed.
	live bool
	last time.Time
}

func newJSON(o Options) *jsonPrinter {
	enc := json.NewEncoder(o.Stdout)
	enc.SetEscapeHTML(false)
	p := &jsonPrinter{enc: enc, quiet: o.Quiet, every: o.JSONEvery, live: true, last: time.Now()}
	p.ask = asker{in: o.Stdin, out: o.Stderr}
	return p
}

func (p *jsonPrinter) emit(v any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.enc.Encode(v)
}

type messageEvent struct {
	Event   string `json:"event"`
	Time    string `json:"time"`
	Path    string `json:"path"`
	Message string `json:"message"`
}

type errorEvent struct {
	Event   string `json:"event"`
	Time    string `json:"time"`
	Path    string `json:"path"`
	Dest    string `json:"dest"`
	Message string `json:"message"`
}

type pathEvent struct {
	Event string `json:"event"`
	Time  string `json:"time"`
	Path  string `json:"path"`
}

func (p *jsonPrinter) Warn(path, msg string) {
	p.emit(messageEvent{Event: "warning", Time: now(), Path: path, Message: msg})
}

func (p *jsonPrinter) Notice(path, msg string) {
	p.emit(messageEvent{Event: "notice", Time: now(), Path: path, Message: msg})
}

func (p *jsonPrinter) Fail(path, dest string, err error) {
	p.emit(errorEvent{Event: "error", Time: now(), Path: path, Dest: dest, Message: err.Error()})
}

func (p *jsonPrinter) Wrote(kind, path string) {
	p.emit(pathEvent{Event: kind, Time: now(), Path: path})
}

func (p *jsonPrinter) Start(s Start) {
	s.Event, s.Version, s.Time = "start", SchemaVersion, now()
	p.emit(s)
	p.mu.Lock()
	p.last = time.Now()
	p.mu.Unlock()
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
	// Added in schema version 1 (fields are only added).
	VerifyBytesDone   int64          `json:"verify_bytes_done"`
	VerifyBytesTotal  int64          `json:"verify_bytes_total"`
	VerifyBytesPerSec float64        `json:"verify_bytes_per_sec"`
	VerifyETASeconds  *float64       `json:"verify_eta_seconds"`
	Dests             []destProgress `json:"dests,omitempty"`
	Current           []string       `json:"current"`
}

// destProgress is one destination in a progress event.
type destProgress struct {
	Path        string  `json:"path"`
	State       string  `json:"state"`
	Bytes       int64   `json:"bytes"`
	BytesPerSec float64 `json:"bytes_per_sec"`
	FilesFailed int64   `json:"files_failed"`
}

// seconds is d in seconds, nil for d < 0 (unknown).
func seconds(d time.Duration) *float64 {
	if d < 0 {
		return nil
	}
	s := d.Seconds()
	return &s
}

// Progress prints a progress event every p.every while the run is live.
func (p *jsonPrinter) Progress(s Snapshot) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.quiet || !p.live || time.Since(p.last) < p.every {
		return
	}
	p.last = time.Now()
	ev := progressEvent{
		Event: "progress", Time: now(), Phase: s.Phase,
		BytesDone: s.BytesDone, BytesTotal: s.BytesTotal,
		FilesDone: s.FilesDone, FilesTotal: s.FilesTotal, FilesVerified: s.Verified,
		BytesPerSec: s.Rate, ETASeconds: seconds(s.ETA), Current: s.Current,
		VerifyBytesDone: s.VerifyDone, VerifyBytesTotal: s.VerifyTotal,
		VerifyBytesPerSec: s.VerifyRate, VerifyETASeconds: seconds(s.VerifyETA),
	}
	if ev.Current == nil {
		ev.Current = []string{}
	}
	for _, d := range s.Dests {
		ev.Dests = append(ev.Dests, destProgress{Path: d.Path, State: d.State, Bytes: d.Bytes, BytesPerSec: d.Rate, FilesFailed: d.Failed})
	}
	p.enc.Encode(ev)
}

type destEvent struct {
	Path        string `json:"path"`
	Status      string `json:"status"`
	Hash        string `json:"hash,omitempty"`
	Error       string `json:"error,omitempty"`
	RenamedFrom string `json:"renamed_from,omitempty"`
	Replaces    string `json:"replaces,omitempty"`
}

func destEventOf(d Dest, status, hash string, err error) destEvent {
	ev := destEvent{Path: d.Path, Status: status, Hash: hash, Error: errString(err)}
	if d.RenamedFrom != "" {
		ev.RenamedFrom = d.RenamedFrom
	} else {
		ev.Replaces = d.Replaces
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

// ShowsFile: every file has its "file" event, and a verified one its
// "verify" event.
func (p *jsonPrinter) ShowsFile(done, verified bool) bool { return !done || verified }

// Copied prints the "file" event: the states at the end of the copy, the
// hash re-read at the copy for a kept file, the error of a failed one.
func (p *jsonPrinter) Copied(f File) {
	ev := fileEvent{
		Event: "file", Time: now(), Path: f.Rel, Size: f.Size,
		HashAlg: f.Alg, Hash: f.Hash,
		Seconds: f.Elapsed.Seconds(), BytesPerSec: Speed(f.Bytes, f.Elapsed),
		SourceError: errString(f.SourceErr), HashReused: f.HashReused,
	}
	for _, d := range f.Dests {
		st := "copied"
		var h string
		var err error
		switch d.State {
		case Pending:
			st = "pending" // --cascade fills it later
		case Skipped:
			st = "skipped"
		case OK:
			st, h = "kept", d.Hash
		case Failed:
			st, err = "failed", d.Err
		}
		ev.Dests = append(ev.Dests, destEventOf(d, st, h, err))
	}
	p.emit(ev)
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

// Done prints the "verify" event of a verified file.
func (p *jsonPrinter) Done(f File) {
	if !f.Verified {
		return
	}
	srcStatus := f.SourceState.String()
	if srcStatus == "" {
		srcStatus = "not_read"
	}
	ev := verifyEvent{
		Event: "verify", Time: now(), Path: f.Rel, Mode: f.Mode,
		HashAlg: f.Alg, Hash: f.Hash, OK: !f.Failed(), HashReused: f.HashReused,
		Source: destEvent{Path: f.Source, Status: srcStatus, Error: errString(f.SourceErr)},
	}
	for _, d := range f.Dests {
		st := "ok"
		switch d.State {
		case Pending:
			st = "pending" // --cascade fills it later
		case Skipped:
			st = "skipped"
		case Failed:
			st = "failed"
		case Copied:
			st = "not_verified"
		}
		ev.Dests = append(ev.Dests, destEventOf(d, st, d.Hash, d.Err))
	}
	p.emit(ev)
}

// SourceReleased prints the "source_released" event.
func (p *jsonPrinter) SourceReleased(ev SourceReleased) {
	ev.Event, ev.Time = "source_released", now()
	if ev.Pending == nil {
		ev.Pending = []string{}
	}
	p.emit(ev)
}

type cascadeEvent struct {
	Event       string      `json:"event"`
	Time        string      `json:"time"`
	Path        string      `json:"path"`
	Size        int64       `json:"size"`
	Mode        string      `json:"mode"`
	HashAlg     string      `json:"hash_alg"`
	Hash        string      `json:"hash"`
	From        string      `json:"from"`
	Seconds     float64     `json:"seconds"`
	BytesPerSec float64     `json:"bytes_per_sec"`
	Dests       []destEvent `json:"dests"`
	OK          bool        `json:"ok"`
}

// Cascaded prints the "cascade" event of a file whose cascade
// destinations are done.
func (p *jsonPrinter) Cascaded(c Cascade) {
	ev := cascadeEvent{
		Event: "cascade", Time: now(), Path: c.Rel, Size: c.Size, Mode: c.Mode,
		HashAlg: c.Alg, Hash: c.Hash, From: c.From,
		Seconds: c.Elapsed.Seconds(), BytesPerSec: Speed(c.Bytes, c.Elapsed), OK: !c.Failed(),
	}
	for _, d := range c.Dests {
		st := "ok"
		switch d.State {
		case Failed:
			st = "failed"
		case Copied:
			st = "not_verified"
		case Skipped:
			st = "skipped"
		case Pending:
			st = "pending"
		}
		ev.Dests = append(ev.Dests, destEventOf(d, st, d.Hash, d.Err))
	}
	p.emit(ev)
}

// Ask pauses the progress events while it asks.
func (p *jsonPrinter) Ask(ctx context.Context, question string) (bool, error) {
	return p.ask.askPaused(ctx, &p.mu, question, p.Close, func() { p.live, p.last = true, time.Now() })
}

func (p *jsonPrinter) Summary(s Summary) {
	s.Event, s.Time = "summary", now()
	p.Close()
	p.emit(s)
}

func (p *jsonPrinter) VerifyFile(ev VerifyFile) {
	ev.Event, ev.Time = "verify_file", now()
	p.emit(ev)
}

func (p *jsonPrinter) VerifySummary(s VerifySummary) {
	s.Event, s.Version, s.Time = "verify_summary", SchemaVersion, now()
	p.Close()
	p.emit(s)
}

// Sum is not used with JSON: cvv hash prints hash lists only.
func (p *jsonPrinter) Sum(line string) {}

func (p *jsonPrinter) Close() {
	p.mu.Lock()
	p.live = false
	p.mu.Unlock()
}

// Speed is n bytes in d, in bytes per second (0 for no time).
func Speed(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
