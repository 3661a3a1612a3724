// Package report writes the transfer report of a copy: a self-contained
// HTML page (summary, per-destination results, a throughput chart, a
// per-file table that stays usable for 100,000 files) and a CSV of the
// same per-file rows.
//
// It is fed by events (Add a row per file, Sample the bytes moved) and
// holds no pointer into the copy. The per-file rows are streamed to a
// temp file, not kept: memory stays bounded whatever the size of the tree
// (only the first few failures are kept, to show them at the top). It
// never reads or writes anything but its temp file and the report files it
// is asked to write.
package report

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sync"
	"time"
)

// Job describes the copy a report is about.
type Job struct {
	Source  string
	Dests   []string
	Mode    string // verification mode
	Hash    string // hash algorithm
	Engine  string
	Version string // cvv version
	Host    string
	Start   time.Time
}

// Row is the result of one file.
type Row struct {
	// Seq is the row's place in path order (a copy's walk is): past
	// maxPageRows rows, the page lists the failed ones first, then the
	// others by Seq.
	Seq  int64
	Path string
	Size int64
	Hash string
	// Source is what a re-read of the source found: "ok", "changed",
	// "error", or "" when it was not re-read.
	Source string
	// Dests holds one result per destination of the Job, in order.
	Dests []Dest
	// Error says why the file failed; "" when it did not.
	Error string
}

// Dest is the result of one file on one destination.
type Dest struct {
	// Status is "ok" (verified), "copied" (not verified), "skipped"
	// (existing file kept) or "failed".
	Status string
	// Wrote is set when this run wrote the file there.
	Wrote bool
}

// Summary is the outcome of the copy, known at its end.
type Summary struct {
	End                time.Time
	Files              int
	Copied, Skipped    int
	Failed             int
	Bytes              int64 // bytes of the source tree
	BytesMoved         int64 // bytes read and written by this run
	Failures, Warnings int64
	Interrupted        bool
	ExitStatus         int
	// DestErrors[i] says why destination i was given up before the copy
	// ("" when it took part).
	DestErrors []string
}

// Status returns the one word that sums up the run.
func (s Summary) Status() string {
	switch {
	case s.Interrupted:
		return "INTERRUPTED"
	case s.Failures > 0 || s.ExitStatus != 0:
		return "FAILED"
	}
	return "OK"
}

// maxFailures is how many failed rows the report keeps in memory to list
// them first; every row is in the full table and the CSV.
const maxFailures = 1000

// destStats are the counters of one destination.
type destStats struct {
	ok, copied, skipped, failed int
	bytes                       int64
}

// Builder collects the rows of one copy. Its methods are safe for
// concurrent use.
type Builder struct {
	job Job

	mu       sync.Mutex
	tmp      *os.File
	buf      *bufio.Writer
	rec      []byte // the row being stored
	rows     int
	err      error // the first error writing the temp file
	dests    []destStats
	failures []Row
	// failed counts the failed rows, listed or not.
	failed  int
	samples samples
	// shown are the keys of the rows the page lists (pageRows).
	shown shownRows
}

// New starts the report of job; its rows go to a temp file in dir
// (os.TempDir() when "").
func New(job Job, dir string) (*Builder, error) {
	f, err := os.CreateTemp(dir, "cvv-report-rows-*.jsonl")
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	// Unlinked at once: the rows vanish with the process, however it ends.
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, fmt.Errorf("report: %w", err)
	}
	b := &Builder{job: job, tmp: f, buf: bufio.NewWriterSize(f, 64<<10), dests: make([]destStats, len(job.Dests))}
	b.samples.add(job.Start, 0)
	return b, nil
}

// Add records the result of one file.
func (b *Builder) Add(r Row) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, d := range r.Dests {
		if i >= len(b.dests) {
			break
		}
		s := &b.dests[i]
		switch d.Status {
		case "ok":
			s.ok++
		case "copied":
			s.copied++
		case "skipped":
			s.skipped++
		case "failed":
			s.failed++
		}
		if d.Wrote && d.Status != "failed" {
			s.bytes += r.Size
		}
	}
	if r.failed() {
		b.failed++
		if len(b.failures) < maxFailures {
			b.failures = append(b.failures, r)
		}
	}
	b.shown.add(rowKey(&r))
	if b.err == nil {
		b.rec = appendRow(b.rec[:0], &r)
		b.buf.Write(binary.AppendUvarint(b.buf.AvailableBuffer(), uint64(len(b.rec))))
		_, b.err = b.buf.Write(b.rec)
	}
	b.rows++
}

func (r Row) failed() bool {
	if r.Error != "" || r.Source == "changed" || r.Source == "error" {
		return true
	}
	for _, d := range r.Dests {
		if d.Status == "failed" {
			return true
		}
	}
	return false
}

// Sample records that bytes had been moved in all at time t (for the
// throughput chart).
func (b *Builder) Sample(t time.Time, bytes int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.samples.add(t, bytes)
}

// Close removes the temp file of rows.
func (b *Builder) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.tmp == nil {
		return nil
	}
	err := b.tmp.Close()
	b.tmp = nil
	return err
}

// eachRow calls fn with each stored row, in the order they were added.
// The Row, its Dests and the record it was read from are reused for the
// next one.
func (b *Builder) eachRow(fn func(r *Row, rec []byte) error) error {
	if b.err != nil {
		return fmt.Errorf("report: storing rows: %w", b.err)
	}
	if err := b.buf.Flush(); err != nil {
		return fmt.Errorf("report: storing rows: %w", err)
	}
	if _, err := b.tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	defer b.tmp.Seek(0, io.SeekEnd)
	br := bufio.NewReaderSize(b.tmp, 64<<10)
	var r Row
	var rec []byte
	for {
		n, err := binary.ReadUvarint(br)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil || n > 64<<20 {
			return errors.Join(errBadRow, err)
		}
		rec = slicesGrow(rec, int(n))
		if _, err := io.ReadFull(br, rec); err != nil {
			return errors.Join(errBadRow, err)
		}
		if err := decodeRow(rec, &r); err != nil {
			return err
		}
		if err := fn(&r, rec); err != nil {
			return err
		}
	}
}

// slicesGrow returns b with length n, its array reused when it can hold
// them.
func slicesGrow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

var errBadRow = errors.New("report: bad stored row")

// appendRow appends r as stored: its place, path, size, hash, source,
// each destination's status and its error, strings with their length
// first.
func appendRow(b []byte, r *Row) []byte {
	b = binary.AppendVarint(b, r.Seq)
	b = appendField(b, r.Path)
	b = binary.AppendVarint(b, r.Size)
	b = appendField(b, r.Hash)
	b = appendField(b, r.Source)
	b = binary.AppendUvarint(b, uint64(len(r.Dests)))
	for _, d := range r.Dests {
		b = appendField(b, d.Status)
	}
	return appendField(b, r.Error)
}

func appendField(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decodeRow reads back into r a row appendRow stored (its Dests reused).
func decodeRow(rec []byte, r *Row) error {
	ok := true
	str := func() string {
		n, k := binary.Uvarint(rec)
		if !ok || k <= 0 || uint64(len(rec)-k) < n {
			ok = false
			return ""
		}
		s := string(rec[k : k+int(n)])
		rec = rec[k+int(n):]
		return s
	}
	seq, k := binary.Varint(rec)
	if ok = k > 0; ok {
		rec = rec[k:]
	}
	r.Seq = seq
	r.Path = str()
	size, k := binary.Varint(rec)
	if ok = ok && k > 0; ok {
		rec = rec[k:]
	}
	r.Size = size
	r.Hash, r.Source = str(), str()
	n, k := binary.Uvarint(rec)
	if ok = ok && k > 0 && n <= uint64(len(rec)); ok {
		rec = rec[k:]
	}
	r.Dests = r.Dests[:0]
	for i := uint64(0); ok && i < n; i++ {
		r.Dests = append(r.Dests, Dest{Status: str()})
	}
	r.Error = str()
	if !ok || len(rec) != 0 {
		return errBadRow
	}
	return nil
}

// fileNameRE matches the names FileName makes.
var fileNameRE = regexp.MustCompile(`^cvv-report-\d{8}T\d{6}Z\.(html|csv)$`)

// FileName is the base name of the report written beside the manifests
// in a destination root for a copy started at start:
// cvv-report-20060102T150405Z.html. Its CSV has the same name with .csv.
func FileName(start time.Time) string {
	return "cvv-report-" + start.UTC().Format("20060102T150405Z") + ".html"
}

// IsReportName reports whether the base name name is one of the report
// files FileName names (the HTML or its CSV): they are cvv's, not part of
// the copied content, and cvv verify does not count them as new files.
func IsReportName(name string) bool { return fileNameRE.MatchString(name) }

// CSVName returns the path of the CSV that goes with the HTML report at
// path: the same name with .csv instead of .html (or .csv added).
func CSVName(path string) string {
	if n := len(path) - len(".html"); n > 0 && path[n:] == ".html" {
		return path[:n] + ".csv"
	}
	return path + ".csv"
}
