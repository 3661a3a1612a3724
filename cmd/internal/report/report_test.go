package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
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

// TestRowsNotInMemory adds 300,000 rows and checks the heap did not grow
// with them: they are in the temp file; what is held to choose the rows
// of the page stops growing at maxPageRows.
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
	const n = 3 * maxPageRows
	var half uint64
	for i := range n {
		if i == n/2 {
			half = heap()
		}
		b.Add(Row{Seq: int64(i), Path: fmt.Sprintf("day1/card%02d/clip%06d.mov", i%7, i), Size: int64(i), Hash: "0123456789abcdef",
			Source: "ok", Dests: []Dest{{"ok", true}, {"ok", true}}})
	}
	after := heap()
	grew, late := int64(after)-int64(before), int64(after)-int64(half)
	// Held in memory, the rows would take well over 30 MB; the keys of
	// the page's rows take 800 KB.
	if grew > 2<<20 || late > 512<<10 {
		t.Errorf("heap grew by %d bytes for %d rows, %d for the last %d", grew, n, late, n/2)
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

// TestDecodeRow reads back rows as they are stored, refuses a record cut
// short or too long, and inlines each as encoding/json would.
func TestDecodeRow(t *testing.T) {
	for _, r := range []Row{
		{Seq: 1 << 40, Path: "a/b <&>\"é\n.mov", Size: 1 << 40, Hash: "0123456789abcdef", Source: "ok", Dests: []Dest{{Status: "ok"}, {Status: "failed"}}, Error: "x: <no space>"},
		{Path: "c", Dests: []Dest{{Status: "skipped"}}},
		{Path: "bad\xff utf8 \u2028\x01\t\\", Size: -1, Dests: []Dest{}},
		{Path: "plain/path.dat", Size: 0, Hash: "ef46db3751d8e999", Source: "not_read", Dests: []Dest{{Status: "skipped"}, {Status: "not copied"}}},
	} {
		rec := appendRow(nil, &r)
		var got Row
		if err := decodeRow(rec, &got); err != nil || fmt.Sprint(got) != fmt.Sprint(r) {
			t.Errorf("decodeRow(appendRow(%+v)) = %+v, %v", r, got, err)
		}
		for n := range len(rec) {
			if err := decodeRow(rec[:n], &got); err == nil {
				t.Errorf("decodeRow of %d of %d bytes: no error", n, len(rec))
			}
		}
		if err := decodeRow(append(rec, 0), &got); err == nil {
			t.Error("decodeRow with a byte more: no error")
		}
		var want strings.Builder
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(true)
		st := make([]string, len(r.Dests))
		for i, d := range r.Dests {
			st[i] = d.Status
		}
		if err := enc.Encode([]any{r.Path, r.Size, r.Hash, r.Source, st, r.Error}); err != nil {
			t.Fatal(err)
		}
		if j := string(appendRowJSON(nil, &r)) + "\n"; j != want.String() {
			t.Errorf("appendRowJSON = %q, encoding/json %q", j, want.String())
		}
	}
}

// TestPageCapped: past maxPageRows rows the page inlines the failed ones
// first, then the others in path order, maxPageRows in all, and says so;
// the CSV has every row.
func TestPageCapped(t *testing.T) {
	dir := t.TempDir()
	b, err := New(testJob(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const n, failed = maxPageRows + 20_000, 7
	for i := range n {
		// Nearly in path order, as a copy settles them, with a few
		// failed late in path order.
		k := i ^ 3
		r := Row{Seq: int64(k), Path: fmt.Sprintf("d/f%07d", k), Size: int64(k), Hash: "00", Source: "ok", Dests: []Dest{{"ok", true}, {"ok", true}}}
		if k >= n-failed {
			r.Dests[1].Status, r.Error = "failed", "pwrite: no space left on device"
		}
		b.Add(r)
	}
	path := filepath.Join(dir, "r.html")
	if err := b.Write(Summary{End: time.Now(), Files: n, Failed: failed, Failures: failed}, path); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	want := fmt.Sprintf("This page lists %d of the %d files: the failed ones first, then the others in path order. <code>r.csv</code> beside it has every row.", maxPageRows, n)
	if !strings.Contains(html, want) {
		t.Errorf("the page does not say %q", want)
	}
	m := regexp.MustCompile(`(?s)<script type="application/json" id="rows">(.*?)</script>`).FindStringSubmatch(html)
	if m == nil {
		t.Fatal("no inlined rows")
	}
	var rows [][]any
	if err := json.Unmarshal([]byte(m[1]), &rows); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, r := range rows {
		got[r[0].(string)] = true
	}
	if len(rows) != maxPageRows || len(got) != maxPageRows {
		t.Fatalf("%d rows inlined (%d paths), want %d", len(rows), len(got), maxPageRows)
	}
	for k := range maxPageRows - failed {
		if p := fmt.Sprintf("d/f%07d", k); !got[p] {
			t.Fatalf("%s is not on the page", p)
		}
	}
	for k := n - failed; k < n; k++ {
		if p := fmt.Sprintf("d/f%07d", k); !got[p] {
			t.Fatalf("the failed %s is not on the page", p)
		}
	}
	f, err := os.Open(CSVName(path))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil || len(recs) != n+1 {
		t.Fatalf("CSV: %d records, %v; want %d rows and the head", len(recs), err, n)
	}
}

// TestShownRowsKeepsSmallest: whatever the order the rows come in, the
// page keeps the maxPageRows smallest keys, the largest of them on top.
func TestShownRowsKeepsSmallest(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h shownRows
	all := make([]int64, maxPageRows+maxPageRows/2)
	for i := range all {
		all[i] = rng.Int64N(1 << 40)
		h.add(all[i])
	}
	slices.Sort(all)
	kept := slices.Clone(h.keys)
	slices.Sort(kept)
	if !h.dropped || !slices.Equal(kept, all[:maxPageRows]) {
		t.Fatalf("dropped %v; kept %d keys, not the %d smallest", h.dropped, len(kept), maxPageRows)
	}
	if h.keys[0] != all[maxPageRows-1] {
		t.Errorf("top %d, want the largest kept, %d", h.keys[0], all[maxPageRows-1])
	}
}
