package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

func testJob() Job {
	return Job{Source: "/src", Dests: []string{"/a", "/b <2>"}, Mode: "full", Hash: "xxh3", Engine: "fallback",
		Version: "v1.2.3", Host: "host1", Start: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	b, err := New(testJob(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.Add(Row{Path: "clip.mov", Size: 3 << 20, Hash: "00aa", Source: "ok", Dests: []Dest{{"ok", true}, {"ok", true}}})
	b.Add(Row{Path: "sub/<b>.wav", Size: 5, Hash: "00bb", Source: "ok", Dests: []Dest{{"ok", true}, {"failed", true}}, Error: "pwrite: no space left on device"})
	b.Add(Row{Path: "old.txt", Size: 7, Hash: "", Dests: []Dest{{"skipped", false}, {"skipped", false}}})
	b.Sample(testJob().Start.Add(time.Second), 1<<20)
	b.Sample(testJob().Start.Add(2*time.Second), 3<<20)
	sum := Summary{End: testJob().Start.Add(2 * time.Second), Files: 3, Copied: 2, Skipped: 1, Failed: 1,
		Bytes: 3<<20 + 12, BytesMoved: 3<<20 + 5, Failures: 1, ExitStatus: 1, DestErrors: []string{"", ""}}
	path := filepath.Join(dir, "r.html")
	if err := b.Write(sum, path); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	for _, want := range []string{
		`<span class="badge FAILED">FAILED</span>`,
		`3 files: 2 copied, 1 skipped, 1 failed`,
		`<code>/b &lt;2&gt;</code>`,
		`<td class="s-failed">1 failed</td>`,
		`<td class="path">sub/&lt;b&gt;.wav</td>`, // the failures table, escaped
		`pwrite: no space left on device`,
		`<polyline`,
		`v1.2.3`, `host1`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// Self-contained: no URL is fetched.
	if m := regexp.MustCompile(`(?i)(src|href)=|url\(|@import`).FindString(html); m != "" {
		t.Errorf("report refers to an external resource: %q", m)
	}
	// The inlined rows are valid JSON and cannot close the script element.
	m := regexp.MustCompile(`(?s)<script type="application/json" id="rows">(.*?)</script>`).FindStringSubmatch(html)
	if m == nil {
		t.Fatal("no inlined rows")
	}
	var rows [][]any
	if err := json.Unmarshal([]byte(m[1]), &rows); err != nil || len(rows) != 3 {
		t.Fatalf("inlined rows: %v, %d rows", err, len(rows))
	}
	if rows[1][0] != "sub/<b>.wav" || strings.Contains(m[1], "<b>") {
		t.Errorf("row 2 = %v; raw %q", rows[1], m[1])
	}
	checkCSV(t, CSVName(path))
}

func checkCSV(t *testing.T, path string) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"path", "size", "xxh3", "source", "/a", "/b <2>", "error"},
		{"clip.mov", "3145728", "00aa", "ok", "ok", "ok", ""},
		{"sub/<b>.wav", "5", "00bb", "ok", "ok", "failed", "pwrite: no space left on device"},
		{"old.txt", "7", "", "", "skipped", "skipped", ""},
	}
	if fmt.Sprint(recs) != fmt.Sprint(want) {
		t.Errorf("CSV:\n%q\nwant\n%q", recs, want)
	}
}

// TestRowsNotInMemory adds 100,000 rows and checks the heap did not grow
// with them: they are in the temp file.
func TestRowsNotInMemory(t *testing.T) {
	b, err := New(testJob(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	const n = 100_000
	for i := range n {
		b.Add(Row{Path: fmt.Sprintf("day1/card%02d/clip%06d.mov", i%7, i), Size: int64(i), Hash: "0123456789abcdef",
			Source: "ok", Dests: []Dest{{"ok", true}, {"ok", true}}})
	}
	grew := int64(heap()) - int64(before)
	// Held in memory, the rows would take well over 10 MB.
	if grew > 2<<20 {
		t.Errorf("heap grew by %d bytes for %d rows", grew, n)
	}
	path := filepath.Join(t.TempDir(), "big.html")
	if err := b.Write(Summary{End: time.Now(), Files: n}, path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d rows: %d-byte report, heap +%d bytes while collecting", n, fi.Size(), grew)
}

// TestFailuresBounded: the report lists the first maxFailures failed
// files at its top, says how many more there are, and keeps no more of
// them in memory.
func TestFailuresBounded(t *testing.T) {
	b, err := New(testJob(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const n = maxFailures + 234
	for i := range n {
		b.Add(Row{Path: fmt.Sprintf("clip%05d.mov", i), Size: 1, Source: "ok", Dests: []Dest{{"failed", false}, {"ok", true}},
			Error: "open: input/output error"})
		b.Add(Row{Path: fmt.Sprintf("fine%05d.mov", i), Size: 1, Source: "ok", Dests: []Dest{{"ok", true}, {"ok", true}}})
	}
	if len(b.failures) != maxFailures {
		t.Errorf("%d failed rows kept in memory, want %d", len(b.failures), maxFailures)
	}
	path := filepath.Join(t.TempDir(), "r.html")
	if err := b.Write(Summary{End: time.Now(), Files: 2 * n, Failed: n, Failures: n}, path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	html := string(data)
	want := fmt.Sprintf("The first %d of %d; 234 more are not listed here", maxFailures, n)
	if !strings.Contains(html, want) {
		t.Errorf("report does not say %q", want)
	}
	top, _, _ := strings.Cut(html, `<table id="files">`)
	if strings.Contains(top, fmt.Sprintf("clip%05d.mov", maxFailures)) || !strings.Contains(top, fmt.Sprintf("clip%05d.mov", maxFailures-1)) {
		t.Errorf("the list of failures does not stop at the first %d", maxFailures)
	}
}

func TestSamplesBounded(t *testing.T) {
	var s samples
	t0 := time.Unix(0, 0)
	for i := range 100_000 {
		s.add(t0.Add(time.Duration(i)*time.Second), int64(i)<<20)
	}
	if len(s.pts) >= maxSamples {
		t.Errorf("%d samples kept, want < %d", len(s.pts), maxSamples)
	}
	at, r := s.rates()
	if len(at) == 0 || at[len(at)-1] != 99_999 {
		t.Fatalf("rates end at %v", at[len(at)-1:])
	}
	for i, v := range r {
		if v < 1<<20-1 || v > 1<<20+1 {
			t.Fatalf("rate %d = %g, want 1 MiB/s", i, v)
		}
	}
}

func TestNames(t *testing.T) {
	name := FileName(time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600)))
	if name != "cvv-report-20260102T020405Z.html" {
		t.Errorf("FileName = %q", name)
	}
	for _, n := range []string{name, CSVName(name)} {
		if !IsReportName(n) {
			t.Errorf("IsReportName(%q) = false", n)
		}
	}
	for _, n := range []string{"cvv-report.html", "x/" + name, "cvv-report-2026T1Z.html", name + ".bak", "report.html"} {
		if IsReportName(n) {
			t.Errorf("IsReportName(%q) = true", n)
		}
	}
	if CSVName("/x/r.html") != "/x/r.csv" || CSVName("/x/r") != "/x/r.csv" {
		t.Error("CSVName")
	}
}

// TestInterrupted: an interrupted run's report says so and does not claim
// exit status 0.
func TestInterrupted(t *testing.T) {
	dir := t.TempDir()
	b, err := New(testJob(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.Add(Row{Path: "a", Size: 1, Hash: "00", Source: "ok", Dests: []Dest{{"ok", true}, {"ok", true}}})
	path := filepath.Join(dir, "r.html")
	if err := b.Write(Summary{End: time.Now(), Files: 5, Copied: 1, Interrupted: true, DestErrors: []string{"", ""}}, path); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	for _, want := range []string{`<span class="badge INTERRUPTED">INTERRUPTED</span>`, `130 (SIGINT) or 143 (SIGTERM): interrupted`, `<td class="s-changed">interrupted</td>`} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(html, "<td>0 (") {
		t.Error("an interrupted run's report claims exit status 0")
	}
}

// TestDecodeRow reads back rows as they are stored, and refuses rows of
// another shape.
func TestDecodeRow(t *testing.T) {
	for _, r := range []Row{
		{Path: "a/b <&>\"é\n.mov", Size: 1 << 40, Hash: "0123456789abcdef", Source: "ok", Dests: []Dest{{Status: "ok"}, {Status: "failed"}}, Error: "x: <no space>"},
		{Path: "c", Dests: []Dest{{Status: "skipped"}}},
	} {
		raw, err := json.Marshal(rowJSON(r))
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeRow(raw, len(r.Dests))
		if err != nil || fmt.Sprint(got) != fmt.Sprint(r) {
			t.Errorf("decodeRow(%s) = %+v, %v; want %+v", raw, got, err, r)
		}
	}
	for _, bad := range []string{`["a",1,"h","ok",["ok"]]`, `["a",1,"h","ok",["ok"],"",1]`, `[1,1,"h","ok",["ok"],""]`, `{}`, `["a","1","h","ok",["ok"],""]`} {
		if r, err := decodeRow([]byte(bad), 1); err == nil {
			t.Errorf("decodeRow(%s) = %+v, want an error", bad, r)
		}
	}
}
