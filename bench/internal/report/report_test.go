package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rawDir builds a raw directory in the layout scripts/bench.sh writes.
type rawDir struct {
	t   *testing.T
	dir string
}

func newRaw(t *testing.T, plan Plan, workloads ...Workload) *rawDir {
	t.Helper()
	r := &rawDir{t: t, dir: t.TempDir()}
	r.json("plan.json", plan)
	for _, w := range workloads {
		r.json(filepath.Join("workloads", w.Name+".json"), w)
	}
	r.write("machine.txt", "test machine\n")
	return r
}

func (r *rawDir) write(rel, data string) {
	r.t.Helper()
	p := filepath.Join(r.dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rawDir) json(rel string, v any) {
	r.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		r.t.Fatal(err)
	}
	r.write(rel, string(b))
}

// run records one run of a cell the way hyperfine and rusage would: a
// hyperfine export with one time and a rusage line.
func (r *rawDir) run(k Key, i int, wall, cpu float64, rssKiB int64, exit int) {
	r.t.Helper()
	cell := filepath.Join(k.Target, k.Workload, fmt.Sprintf("d%d", k.Dests), k.Tool)
	h := fmt.Sprintf(`{"results":[{"command":%q,"mean":%g,"times":[%g],"user":%g,"system":0,"exit_codes":[%d]}]}`,
		k.Tool, wall, wall, cpu, exit)
	r.write(filepath.Join(cell, fmt.Sprintf("run%d.json", i)), h)
	u, err := json.Marshal(Usage{Label: fmt.Sprint("run", i), Wall: wall, User: cpu * 0.25, Sys: cpu * 0.75, MaxRSSKiB: rssKiB, Exit: exit})
	if err != nil {
		r.t.Fatal(err)
	}
	p := filepath.Join(r.dir, cell, "rusage.jsonl")
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := f.Write(append(u, '\n')); err != nil {
		r.t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		r.t.Fatal(err)
	}
}

// runs records one run per wall time, with CPU seconds cpu and RSS rss.
func (r *rawDir) runs(k Key, cpu float64, rssKiB int64, walls ...float64) {
	for i, w := range walls {
		r.run(k, i+1, w, cpu, rssKiB, 0)
	}
}

func (r *rawDir) fio(target string, read float64, writes ...float64) {
	var rd, wr strings.Builder
	fmt.Fprintf(&rd, `{"jobs":[{"jobname":"read","job options":{"ioengine":"io_uring","direct":"1"},"read":{"bw_bytes":%g},"write":{"bw_bytes":0}}]}`, read)
	wr.WriteString(`{"jobs":[`)
	for i, w := range writes {
		if i > 0 {
			wr.WriteString(",")
		}
		fmt.Fprintf(&wr, `{"jobname":"write%d","read":{"bw_bytes":0},"write":{"bw_bytes":%g}}`, i+1, w)
	}
	wr.WriteString("]}")
	// fio may print notes before its JSON; the parser must skip them.
	r.write(filepath.Join(target, "fio-read.json"), "note: both iodepth >= 1 and synchronous I/O engine\n"+rd.String())
	r.write(filepath.Join(target, "fio-write.json"), wr.String())
}

func (r *rawDir) load() *Dataset {
	r.t.Helper()
	d, err := Load(r.dir)
	if err != nil {
		r.t.Fatal(err)
	}
	return d
}

const gib = int64(1) << 30

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func TestMedianMinMax(t *testing.T) {
	for _, tc := range []struct {
		in       []float64
		med      float64
		min, max float64
	}{
		{[]float64{3}, 3, 3, 3},
		{[]float64{5, 1, 3}, 3, 1, 5},
		{[]float64{4, 1, 3, 2}, 2.5, 1, 4},
		{[]float64{2, 2, 9, 1, 2}, 2, 1, 9},
	} {
		in := append([]float64(nil), tc.in...)
		if got := Median(tc.in); got != tc.med {
			t.Errorf("Median(%v) = %v, want %v", tc.in, got, tc.med)
		}
		lo, hi := MinMax(tc.in)
		if lo != tc.min || hi != tc.max {
			t.Errorf("MinMax(%v) = %v, %v, want %v, %v", tc.in, lo, hi, tc.min, tc.max)
		}
		for i := range in {
			if in[i] != tc.in[i] {
				t.Fatalf("Median reordered its input: %v, was %v", tc.in, in)
			}
		}
	}
	if !math.IsNaN(Median(nil)) {
		t.Error("Median(nil) is not NaN")
	}
	if lo, hi := MinMax(nil); !math.IsNaN(lo) || !math.IsNaN(hi) {
		t.Error("MinMax(nil) is not NaN")
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "4096": 4096, "4K": 4096, "256K": 256 << 10, "1M": 1 << 20, "8MiB": 8 << 20,
		"2G": 2 << 30, "2GB": 2 << 30, "512m": 512 << 20, "1T": 1 << 40,
	} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v, want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "M", "-1M", "1.5G", "1X", "99999999999T"} {
		if got, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, got)
		}
	}
	for in, want := range map[int64]string{256 << 10: "256K", 1 << 20: "1M", 3 << 30: "3G", 1536 << 10: "1536K", 1000: "1000"} {
		if got := FormatSize(in); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", in, got, want)
		}
		if back, err := ParseSize(FormatSize(in)); err != nil || back != in {
			t.Errorf("ParseSize(FormatSize(%d)) = %d, %v", in, back, err)
		}
	}
}

func TestSummarize(t *testing.T) {
	plan := Plan{Profile: "test", Runs: 3, Targets: []string{"disk"}, Workloads: []string{"big"}, Dests: []int{1}, Tools: []string{ToolTransfer, ToolCp, ToolRsync}}
	r := newRaw(t, plan, Workload{Name: "big", Bytes: 2 * gib, Files: 1})
	k := Key{Target: "disk", Workload: "big", Dests: 1}
	tr, cp, rs := k, k, k
	tr.Tool, cp.Tool, rs.Tool = ToolTransfer, ToolCp, ToolRsync
	r.runs(tr, 1.0, 40*1024, 2.0, 4.0, 1.0)
	r.runs(cp, 2.0, 2*1024, 4.0, 3.0, 5.0)
	r.runs(rs, 8.0, 7*1024, 8.0, 8.0, 8.0)
	r.fio("disk", 1e9, 5e8)
	d := r.load()
	if err := d.Check(); err != nil {
		t.Fatalf("Check: %v", err)
	}
	rows := d.Summarize()
	if len(rows) != 3 || rows[0].Tool != ToolTransfer || rows[1].Tool != ToolCp || rows[2].Tool != ToolRsync {
		t.Fatalf("rows not in plan order: %+v", rows)
	}
	row := rows[0]
	bytes := float64(2 * gib)
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"WallMedian", row.WallMedian, 2},
		{"WallMin", row.WallMin, 1},
		{"WallMax", row.WallMax, 4},
		{"MBpsMedian", row.MBpsMedian, bytes / 2 / 1e6},
		{"MBpsMin (slowest run)", row.MBpsMin, bytes / 4 / 1e6},
		{"MBpsMax (fastest run)", row.MBpsMax, bytes / 1 / 1e6},
		{"CPUMedian", row.CPUMedian, 1},
		{"CPUPerGiB", row.CPUPerGiB, 0.5},
		{"MaxRSSMiB", row.MaxRSSMiB, 40},
		{"VsCp", row.VsCp, 2.0 / 4.0},
		{"VsRsync", row.VsRsync, 2.0 / 8.0},
		// One device, one destination: the limit is min(read 1e9, write 5e8).
		{"FIOFraction", row.FIOFraction, bytes / 2 / 5e8},
		{"cp VsCp", rows[1].VsCp, 1},
		{"rsync VsCp", rows[2].VsCp, 2},
	} {
		if !near(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if row.Runs != 3 || row.Bytes != 2*gib {
		t.Errorf("Runs, Bytes = %d, %d", row.Runs, row.Bytes)
	}
}

func TestFIOLimit(t *testing.T) {
	plan := Plan{Runs: 1, Targets: []string{"disk", "loop", "tmpfs"}}
	r := newRaw(t, plan)
	r.fio("disk", 900e6, 600e6)
	r.fio("loop", 3e9, 1.2e9, 1.0e9, 1.1e9)
	d := r.load()
	for _, c := range []struct {
		target string
		dests  int
		want   float64
	}{
		{"disk", 1, 600e6},
		{"disk", 3, 200e6}, // three destinations share one device
		{"loop", 1, 1.0e9}, // the slowest device bounds the copy
		{"loop", 3, 1.0e9},
	} {
		if got := d.FIOLimit(c.target, c.dests); !near(got, c.want) {
			t.Errorf("FIOLimit(%s, %d) = %v, want %v", c.target, c.dests, got, c.want)
		}
	}
	if got := d.FIOLimit("tmpfs", 1); !math.IsNaN(got) {
		t.Errorf("FIOLimit without baseline = %v, want NaN", got)
	}
	if f := d.FIO["disk"]; f.Engine != "io_uring" || !f.Direct {
		t.Errorf("fio engine/direct = %q/%v", f.Engine, f.Direct)
	}
}

func TestCheckReportsGaps(t *testing.T) {
	plan := Plan{Runs: 2, Targets: []string{"disk"}, Workloads: []string{"big"}, Dests: []int{1, 3}, Tools: []string{ToolTransfer, ToolCp}}
	r := newRaw(t, plan, Workload{Name: "big", Bytes: gib})
	r.runs(Key{"disk", "big", 1, ToolTransfer}, 1, 1024, 1, 1)
	r.runs(Key{"disk", "big", 1, ToolCp}, 1, 1024, 1) // one run short
	r.run(Key{"disk", "big", 3, ToolTransfer}, 1, 1, 1, 1024, 0)
	r.run(Key{"disk", "big", 3, ToolTransfer}, 2, 1, 1, 1024, 1) // failed
	// disk/big/d3/cp never ran.
	err := r.load().Check()
	if err == nil {
		t.Fatal("Check passed an incomplete run")
	}
	for _, want := range []string{
		"disk/big/d1/cp: 1 of 2 runs",
		"disk/big/d3/cvv-transfer: 1 failed run(s)", // seen by hyperfine and rusage, counted once
		"disk/big/d3/cp: no measurement",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Check error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "disk/big/d1/cvv-transfer") {
		t.Errorf("Check blamed a complete cell:\n%v", err)
	}
}

func TestCheckNeedsRusage(t *testing.T) {
	plan := Plan{Runs: 1, Targets: []string{"disk"}, Workloads: []string{"big"}, Dests: []int{1}, Tools: []string{ToolCp}}
	r := newRaw(t, plan, Workload{Name: "big", Bytes: gib})
	r.write("disk/big/d1/cp/run1.json", `{"results":[{"times":[1.5],"user":0.5,"system":0.25,"exit_codes":[0]}]}`)
	d := r.load()
	if err := d.Check(); err == nil || !strings.Contains(err.Error(), "no rusage record") {
		t.Errorf("Check = %v, want a missing rusage complaint", err)
	}
	// Without rusage the CPU figure falls back to hyperfine's, RSS is unknown.
	row := d.Summarize()[0]
	if !near(row.CPUMedian, 0.75) || !math.IsNaN(row.MaxRSSMiB) {
		t.Errorf("CPUMedian, MaxRSSMiB = %v, %v; want 0.75, NaN", row.CPUMedian, row.MaxRSSMiB)
	}
}

func TestLoadErrors(t *testing.T) {
	if _, err := Load(t.TempDir()); err == nil {
		t.Error("Load of an empty directory succeeded")
	}
	r := newRaw(t, Plan{Runs: 1, Targets: []string{"disk"}, Workloads: []string{"big"}})
	if _, err := Load(r.dir); err == nil {
		t.Error("Load without the workload stats succeeded")
	}
	r.json("workloads/big.json", Workload{Name: "big", Bytes: gib})
	r.write("disk/big/d1/cp/rusage.jsonl", "{\"wall_s\":1}\nnot json\n")
	if _, err := Load(r.dir); err == nil || !strings.Contains(err.Error(), "rusage.jsonl:2") {
		t.Errorf("Load with a bad rusage line: %v, want the line number", err)
	}
}

// targetsData is a full plan where each target is set up to pass or miss
// by a known margin.
func targetsData(t *testing.T, runs int) *Dataset {
	t.Helper()
	plan := Plan{Runs: runs, Targets: []string{"disk", "loop"}, Workloads: []string{"big", "tree"}, Dests: []int{1, 3},
		Tools: []string{ToolTransfer, ToolFull, ToolFallback, ToolCp, ToolRsync}}
	r := newRaw(t, plan, Workload{Name: "big", Bytes: 2 * gib, Files: 1}, Workload{Name: "tree", Bytes: gib, Files: 100})
	walls := func(v float64) []float64 {
		ws := make([]float64, runs)
		for i := range ws {
			// Spread around v; the median stays v.
			ws[i] = v * (1 + 0.01*float64(i-runs/2))
		}
		return ws
	}
	set := func(target, wl string, n int, tool string, wall, cpu float64, rssMiB int64) {
		r.runs(Key{target, wl, n, tool}, cpu, rssMiB*1024, walls(wall)...)
	}
	for _, tg := range []string{"disk", "loop"} {
		for _, wl := range []string{"big", "tree"} {
			for _, n := range []int{1, 3} {
				cpW := 10.0 * float64(n)
				set(tg, wl, n, ToolCp, cpW, 4, 3)
				set(tg, wl, n, ToolRsync, 2*cpW, 8, 7)
				set(tg, wl, n, ToolTransfer, 10, 1, 30)
				set(tg, wl, n, ToolFull, 12, 2, 40)
				set(tg, wl, n, ToolFallback, 12, 2, 20)
			}
		}
	}
	// Misses, each by a margin: disk tree d1 transfer takes 10.5 s (> 1.0 x
	// cp's 10 s); loop tree d3 transfer uses 2.5 s CPU (> 0.5 x 4 s of cp,
	// with 3 destinations); full on loop tree d1 is 14 s (> 1.3 x 10 s);
	// full on loop big d3 is 23.5 s (> 2.0 x 11.5 s of transfer); cvv-full
	// on disk big d1 peaks at 65 MiB. Near misses that pass: loop big d3
	// transfer 11.5 s (0.38x cp x3), disk big d1 transfer 2.5 s CPU (0.62x
	// cp with one destination), full on loop big d1 12 s (1.2x).
	r2 := func(target, wl string, n int, tool string, wall, cpu float64, rss int64) {
		dir := filepath.Join(r.dir, target, wl, fmt.Sprintf("d%d", n), tool)
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		set(target, wl, n, tool, wall, cpu, rss)
	}
	r2("disk", "tree", 1, ToolTransfer, 10.5, 1, 30)
	r2("loop", "tree", 3, ToolTransfer, 10, 2.5, 30)
	r2("loop", "tree", 1, ToolFull, 14, 2, 40)
	r2("loop", "big", 3, ToolTransfer, 11.5, 1, 30)
	r2("loop", "big", 3, ToolFull, 23.5, 2, 40)
	r2("disk", "big", 1, ToolTransfer, 10, 2.5, 30)
	r2("disk", "big", 1, ToolFull, 12, 2, 65)
	return r.load()
}

func TestEvaluate(t *testing.T) {
	d := targetsData(t, 5)
	checks := d.Evaluate()
	type want struct {
		target int
		what   string
		scope  string
		value  float64
		status Status
	}
	wants := []want{
		{1, "cvv transfer / cp (wall)", "disk big d1", 1.0, Pass}, // equal is within <= 1.0
		{1, "cvv transfer / cp (wall)", "disk tree d1", 1.05, Miss},
		{1, "cvv transfer / cp (CPU user+sys)", "disk big d1", 2.5 / 4, Pass},
		{1, "cvv transfer / cp x3 (wall)", "loop big d3", 11.5 / 30, Pass},
		{1, "cvv transfer / cp x3 (CPU user+sys)", "loop tree d3", 2.5 / 4, Miss},
		{1, "cvv transfer / cp x3 (CPU user+sys)", "disk tree d3", 1.0 / 4, Pass},
		{3, "cvv full / cvv transfer (wall)", "loop tree d1", 1.4, Miss},
		{3, "cvv full / cvv transfer (wall)", "loop big d1", 1.2, Pass},
		{3, "cvv full / cvv transfer (wall)", "loop big d3", 23.5 / 11.5, Miss},
		{3, "cvv full / cvv transfer (wall)", "loop tree d3", 1.2, Pass},
		{5, "cvv-full peak RSS (largest over all cells)", "all (max at disk big d1)", 65, Miss},
		{5, "cvv-transfer peak RSS (largest over all cells)", "", 30, Pass},
	}
	for _, w := range wants {
		found := false
		for _, c := range checks {
			if c.Target != w.target || c.What != w.what || (w.scope != "" && c.Scope != w.scope) {
				continue
			}
			found = true
			if !near(c.Value, w.value) || c.Status != w.status {
				t.Errorf("target %d %s [%s] = %v %s, want %v %s", w.target, w.what, c.Scope, c.Value, c.Status, w.value, w.status)
			}
			if c.Note != "n=5 runs" {
				t.Errorf("target %d %s: note %q", w.target, w.what, c.Note)
			}
		}
		if !found {
			t.Errorf("no check for target %d %s [%s]", w.target, w.what, w.scope)
		}
	}
	count := map[int]int{}
	for _, c := range checks {
		count[c.Target]++
		// Full against transfer is judged on separate devices only.
		if c.Target == 3 && !strings.HasPrefix(c.Scope, "loop ") {
			t.Errorf("target 3 evaluated on %s, not on separate devices", c.Scope)
		}
		// Without a fio baseline the share of it is not judged, nor for
		// the tree.
		if c.Target == 2 && (c.Status != NA || strings.Contains(c.Scope, "tree")) {
			t.Errorf("target 2 %s [%s] = %s without a baseline", c.What, c.Scope, c.Status)
		}
	}
	// Goal 1 takes every cell of the matrix twice (wall and CPU): 2 targets
	// x 2 workloads x 2 counts; goal 2 the big file's 4 cells.
	if count[1] != 16 || count[2] != 4 || count[3] != 4 {
		t.Errorf("checks per goal %v, want 16 for 1, 4 for 2 and 4 for 3", count)
	}
}

// TestFIOGoal checks goal 2: a transfer cell's MB/s over the fio limit of
// its target and count, at least 90%.
func TestFIOGoal(t *testing.T) {
	plan := Plan{Runs: 5, Targets: []string{"loop", "tmpfs"}, Workloads: []string{"big", "seq", "tree"}, Dests: []int{1, 3}, Tools: []string{ToolTransfer}}
	r := newRaw(t, plan, Workload{Name: "big", Bytes: 2e9, Files: 1}, Workload{Name: "seq", Bytes: 1e9, Files: 100}, Workload{Name: "tree", Bytes: 1e9, Files: 1000})
	r.fio("loop", 3e9, 1.0e9, 1.2e9, 1.1e9) // limit: 1.0e9 B/s, the slowest write
	r.runs(Key{"loop", "big", 1, ToolTransfer}, 1, 1024, 2.2, 2.2, 2.2, 2.2, 2.2)
	r.runs(Key{"loop", "big", 3, ToolTransfer}, 1, 1024, 2.3, 2.3, 2.3, 2.3, 2.3)
	r.runs(Key{"loop", "seq", 1, ToolTransfer}, 1, 1024, 1, 1, 1, 1, 1)
	var got []string
	for _, c := range r.load().Evaluate() {
		if c.Target == 2 {
			got = append(got, fmt.Sprintf("%s %s %s %s", c.Scope, c.Measured(), c.Bound(), c.Status))
		}
	}
	want := []string{
		"loop big d1 0.91x >= 0.90x PASS", "loop big d3 0.87x >= 0.90x MISS",
		"loop seq d1 1.00x >= 0.90x PASS", "loop seq d3 - >= 0.90x N/A",
		"tmpfs big d1 - >= 0.90x N/A", "tmpfs big d3 - >= 0.90x N/A",
		"tmpfs seq d1 - >= 0.90x N/A", "tmpfs seq d3 - >= 0.90x N/A",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("goal 2 checks\n %q\nwant\n %q", got, want)
	}
}

func TestEvaluateFewRunsAndGaps(t *testing.T) {
	d := targetsData(t, 3)
	for _, c := range d.Evaluate() {
		if c.Status != NA && !strings.Contains(c.Note, "indicative") {
			t.Errorf("target %d %s: note %q does not flag 3 runs as indicative", c.Target, c.What, c.Note)
		}
	}
	// Without a loop target and a fio baseline, goals 2 and 3 are N/A, not
	// silently dropped; without cp, goal 1 is.
	plan := Plan{Runs: 5, Targets: []string{"disk"}, Workloads: []string{"big"}, Dests: []int{1}, Tools: []string{ToolTransfer, ToolCp}}
	r := newRaw(t, plan, Workload{Name: "big", Bytes: gib})
	r.runs(Key{"disk", "big", 1, ToolTransfer}, 1, 1024, 1, 1, 1, 1, 1)
	na := map[int]bool{}
	for _, c := range r.load().Evaluate() {
		if c.Status == NA {
			na[c.Target] = true
			if c.Note == "" {
				t.Errorf("target %d N/A without a reason", c.Target)
			}
		} else if c.Target != 5 {
			t.Errorf("target %d %s [%s] judged %s without its cells", c.Target, c.What, c.Scope, c.Status)
		}
	}
	for _, n := range []int{1, 2, 3} {
		if !na[n] {
			t.Errorf("target %d not reported as N/A", n)
		}
	}
}

func TestWriteCSV(t *testing.T) {
	d := targetsData(t, 5)
	rows := d.Summarize()
	var buf bytes.Buffer
	if err := WriteCSV(&buf, rows); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(rows)+1 || len(recs) != 1+2*2*2*5 {
		t.Fatalf("%d records for %d rows", len(recs), len(rows))
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	for _, rec := range recs[1:] {
		if rec[col["target"]] == "loop" && rec[col["workload"]] == "big" && rec[col["dests"]] == "3" && rec[col["tool"]] == ToolTransfer {
			if rec[col["wall_median_s"]] != "11.5000" || rec[col["wall_vs_cp"]] != "0.3833" || rec[col["fio_fraction"]] != "" {
				t.Errorf("loop big d3 transfer: wall %s vs cp %s fio %q", rec[col["wall_median_s"]], rec[col["wall_vs_cp"]], rec[col["fio_fraction"]])
			}
			mbps := float64(2*gib) / 11.5 / 1e6
			if rec[col["mbps_median"]] != fmt.Sprintf("%.4f", mbps) {
				t.Errorf("mbps_median %s, want %.4f", rec[col["mbps_median"]], mbps)
			}
			return
		}
	}
	t.Error("no loop/big/d3/cvv-transfer record")
}

func TestWriteMarkdownAndTargetsCSV(t *testing.T) {
	d := targetsData(t, 5)
	rows, checks := d.Summarize(), d.Evaluate()
	var md bytes.Buffer
	if err := WriteMarkdown(&md, d, rows, checks, MarkdownOptions{Title: "T", Chart: "c.png"}); err != nil {
		t.Fatal(err)
	}
	s := md.String()
	for _, want := range []string{
		"# T\n",
		"test machine",
		"| 1 | cvv transfer / cp (wall) | disk tree d1 | 1.05x (1.05-1.05) | <= 1.00x | **MISS** | n=5 runs |",
		"| 5 | cvv-full peak RSS (largest over all cells) | all (max at disk big d1) | 65.0 MiB | <= 64.0 MiB | **MISS** |",
		"![source MB/s by workload, destinations and tool](c.png)",
		"## Target `loop`",
		"| big | 3 | cvv-transfer | 5 | 187 | 183-191 | 0.50 | 30.0 | 0.38x | 0.19x | - | - | - |",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	var tc bytes.Buffer
	if err := WriteTargetsCSV(&tc, checks); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&tc).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(checks)+1 {
		t.Fatalf("%d target records for %d checks", len(recs), len(checks))
	}
	misses := 0
	for _, rec := range recs[1:] {
		if rec[6] == string(Miss) {
			misses++
		}
	}
	if misses != 5 {
		t.Errorf("%d MISS rows in targets.csv, want 5 (the planted misses)", misses)
	}
}

func TestWriteChart(t *testing.T) {
	d := targetsData(t, 5)
	var buf bytes.Buffer
	if err := WriteChart(&buf, d.Summarize()); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatalf("chart is not a PNG: %v", err)
	}
	// Two targets stack two panels.
	if b := img.Bounds(); b.Dx() < 400 || b.Dy() < 2*250 {
		t.Errorf("chart is %v", b)
	}
	if err := WriteChart(&buf, nil); err == nil {
		t.Error("WriteChart of no rows succeeded")
	}
}

func TestSweep(t *testing.T) {
	if bs, qd, ok := ParseSweepTool(SweepTool("256K", 16)); !ok || bs != 256<<10 || qd != 16 {
		t.Errorf("ParseSweepTool(SweepTool(256K, 16)) = %d, %d, %v", bs, qd, ok)
	}
	for _, bad := range []string{"cvv-transfer", "cvv-bs-qd4", "cvv-bs1M-qd", "cvv-bs1X-qd4"} {
		if _, _, ok := ParseSweepTool(bad); ok {
			t.Errorf("ParseSweepTool(%q) accepted", bad)
		}
	}
	var tools []string
	for _, bs := range []string{"256K", "1M", "4M"} {
		for _, qd := range []int{4, 32} {
			tools = append(tools, SweepTool(bs, qd))
		}
	}
	plan := Plan{Profile: "sweep", Runs: 1, Targets: []string{"disk"}, Workloads: []string{"big"}, Dests: []int{1}, Tools: tools}
	r := newRaw(t, plan, Workload{Name: "big", Bytes: gib})
	for i, tool := range tools {
		wall := 10.0 - float64(i)
		if tool == SweepTool("1M", 32) {
			wall = 2 // the winner
		}
		r.runs(Key{"disk", "big", 1, tool}, 1, 1024, wall)
	}
	tables := Sweep(r.load().Summarize())
	if len(tables) != 1 {
		t.Fatalf("%d tables", len(tables))
	}
	tb := tables[0]
	if tb.Best.BlockSize != 1<<20 || tb.Best.QueueDepth != 32 {
		t.Errorf("best = %s qd %d", FormatSize(tb.Best.BlockSize), tb.Best.QueueDepth)
	}
	if fmt.Sprint(tb.QueueDepths) != "[4 32]" || len(tb.BlockSizes) != 3 || tb.BlockSizes[0] != 256<<10 {
		t.Errorf("axes %v %v", tb.BlockSizes, tb.QueueDepths)
	}
	var md bytes.Buffer
	if err := WriteSweepMarkdown(&md, tables); err != nil {
		t.Fatal(err)
	}
	best := fmt.Sprintf("| 1M | %.0f (1.00) | **%.0f** (1.00) |", float64(gib)/8/1e6, float64(gib)/2/1e6)
	if !strings.Contains(md.String(), best) {
		t.Errorf("sweep table lacks %q:\n%s", best, md.String())
	}
}

func TestRoundRatios(t *testing.T) {
	plan := Plan{Runs: 4, Targets: []string{"disk"}, Workloads: []string{"big"}, Dests: []int{1}, Tools: []string{ToolTransfer, ToolCp}}
	r := newRaw(t, plan, Workload{Name: "big", Bytes: gib})
	tr, cp := Key{"disk", "big", 1, ToolTransfer}, Key{"disk", "big", 1, ToolCp}
	// Round 2 was slow for both (drift); round 4 of cp is missing. Rounds
	// 10+ must pair by number, not by the order of the file names.
	for round, w := range map[int]float64{1: 1, 2: 4, 3: 3, 4: 9, 10: 2} {
		r.run(tr, round, w, 1, 1024, 0)
	}
	for round, w := range map[int]float64{1: 2, 2: 8, 3: 2, 10: 1} {
		r.run(cp, round, w, 1, 1024, 0)
	}
	d := r.load()
	got := d.RoundRatios(tr, cp)
	want := []float64{0.5, 0.5, 1.5, 2}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("RoundRatios = %v, want %v", got, want)
	}
	if rs := d.RoundRatios(tr, Key{"disk", "big", 1, ToolRsync}); rs != nil {
		t.Errorf("RoundRatios against a missing cell = %v", rs)
	}
	for _, c := range d.Evaluate() {
		if c.Target == 1 && strings.Contains(c.What, "wall") {
			// Medians: transfer {1,2,3,4,9} -> 3, cp {1,2,2,8} -> 2.
			if c.Measured() != "1.50x (0.50-2.00)" {
				t.Errorf("target 1 measured %q", c.Measured())
			}
		}
		if c.Target == 1 && strings.Contains(c.What, "CPU") && strings.Contains(c.Measured(), "(") {
			t.Errorf("CPU ratio shows a round range: %q", c.Measured())
		}
	}
}

// TestFIOMix checks that the fio run that read the source while writing N
// destinations at once sets the limit (its slowest job, the median over
// its repeats), in place of the separate read and write runs, and that
// without a mix the throttle rig counts as separate devices.
func TestFIOMix(t *testing.T) {
	plan := Plan{Runs: 1, Targets: []string{"disk", "throttle"}}
	r := newRaw(t, plan)
	r.fio("disk", 900e6, 600e6)
	r.fio("throttle", 3e9, 1.2e9, 1.0e9, 0.1e9)
	r.write("disk/fio-mix-d1.json", `{"jobs":[{"jobname":"read","read":{"bw_bytes":700e6},"write":{"bw_bytes":0}},`+
		`{"jobname":"write1","read":{"bw_bytes":0},"write":{"bw_bytes":450e6}}]}`)
	// Three runs of the 3-destination mix: the median of their slowest
	// jobs (900, 300 and 250 MB/s) is the limit.
	for k, lim := range map[string]string{"": "900e6", ".2": "300e6", ".3": "250e6"} {
		r.write("throttle/fio-mix-d3"+k+".json", `{"jobs":[{"jobname":"read","read":{"bw_bytes":2e9},"write":{"bw_bytes":0}},`+
			`{"jobname":"write1","read":{"bw_bytes":0},"write":{"bw_bytes":`+lim+`}},`+
			`{"jobname":"write2","read":{"bw_bytes":0},"write":{"bw_bytes":1e9}}]}`)
	}
	// Neither a run of its own nor a repeat: not read.
	r.write("throttle/fio-mix-d3.perf.json", `{"jobs":[{"jobname":"read","read":{"bw_bytes":1},"write":{"bw_bytes":0}}]}`)
	d := r.load()
	for _, c := range []struct {
		target string
		dests  int
		want   float64
	}{
		{"disk", 1, 450e6},     // the mix: the write job was the slowest
		{"disk", 3, 200e6},     // no mix for 3: the separate runs, write/3
		{"throttle", 3, 300e6}, // the median of three mixes
		{"throttle", 1, 0.1e9}, // no mix for 1, separate devices: the slowest write
	} {
		if got := d.FIOLimit(c.target, c.dests); !near(got, c.want) {
			t.Errorf("FIOLimit(%s, %d) = %v, want %v", c.target, c.dests, got, c.want)
		}
	}
}

// TestPlanOnly checks that a target's own scope (the throttle rig: some
// workloads, 3 destinations) replaces the plan's workloads and counts.
func TestPlanOnly(t *testing.T) {
	plan := Plan{Runs: 1, Targets: []string{"loop", "throttle"}, Workloads: []string{"big", "seq"}, Dests: []int{1, 3},
		Tools: []string{ToolCp}, Only: map[string]Scope{"throttle": {Workloads: []string{"big"}, Dests: []int{3}}}}
	r := newRaw(t, plan, Workload{Name: "big", Bytes: gib}, Workload{Name: "seq", Bytes: gib})
	for _, k := range []Key{{"loop", "big", 1, ToolCp}, {"loop", "big", 3, ToolCp}, {"loop", "seq", 1, ToolCp}, {"loop", "seq", 3, ToolCp}} {
		r.runs(k, 1, 1024, 2)
	}
	d := r.load()
	if err := d.Check(); err == nil || !strings.Contains(err.Error(), "throttle/big/d3/cp: no measurement") {
		t.Errorf("Check = %v, want the missing throttle cell", err)
	}
	r.runs(Key{"throttle", "big", 3, ToolCp}, 1, 1024, 2)
	if err := r.load().Check(); err != nil {
		t.Errorf("Check asked for cells outside the throttle scope: %v", err)
	}
}

// TestWriteSummary checks the summary's per-cell columns: MB/s per tool,
// ratios, CPU s/GiB of cvv and cp, cvv's peak RSS and the fio limit.
func TestWriteSummary(t *testing.T) {
	d := targetsData(t, 5)
	var b bytes.Buffer
	if err := WriteSummary(&b, d, d.Summarize(), d.Evaluate(), SummaryOptions{Report: "r.md", Command: "make bench"}); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	for _, want := range []string{
		"| target | workload | dests | cvv-transfer | cvv-full | cvv-fallback | cp | rsync | cvv/cp | cvv/rsync | CPU s/GiB | RSS | fio |",
		// loop big d3: 2 GiB in 11.5 s, cp x3 30 s, 1 s CPU (0.5 s/GiB) vs
		// cp's 4 s (2 s/GiB), 30 MiB, no fio baseline.
		"| loop | big | 3 | 187 | 91 | 179 | 72 | 36 | 0.38x | 0.19x | 0.50 / 2.00 | 30 | - |",
		// The goals, tallied, with each miss.
		"| 1 | 16 | 14 | 2 | 0 | disk tree d1 cvv transfer / cp (wall): 1.05x (<= 1.00x); loop tree d3 cvv transfer / cp x3 (CPU user+sys): 0.62x (<= 0.50x) |",
		"| 2 | 4 | 0 | 0 | 4 |  |",
		"| 3 | 4 | 2 | 2 | 0 | loop big d3 cvv full / cvv transfer (wall): 2.04x (<= 2.00x); loop tree d1 cvv full / cvv transfer (wall): 1.40x (<= 1.30x) |",
		"| 4 | 0 | 0 | 0 | 0 |  |",
		"| 5 | 3 | 2 | 1 | 0 | all (max at disk big d1) cvv-full peak RSS (largest over all cells): 65.0 MiB (<= 64.0 MiB) |",
		"Reproduce with `make bench`.",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
}

// TestCascadeReleased checks goal 4: the extra contenders of the
// throttle scope are planned there only, their source_released times are
// read from events.jsonl, and the check compares their medians.
func TestCascadeReleased(t *testing.T) {
	plan := Plan{Runs: 2, Targets: []string{"loop", "throttle"}, Workloads: []string{"big"}, Dests: []int{1},
		Tools: []string{ToolCp}, Only: map[string]Scope{"throttle": {Workloads: []string{"big"}, Dests: []int{3}, Tools: []string{ToolCascade, ToolNoSlow}}}}
	r := newRaw(t, plan, Workload{Name: "big", Bytes: gib})
	r.runs(Key{"loop", "big", 1, ToolCp}, 1, 1024, 2, 2)
	r.runs(Key{"throttle", "big", 3, ToolCp}, 1, 1024, 9, 9)
	if err := r.load().Check(); err == nil || !strings.Contains(err.Error(), "throttle/big/d3/cvv-cascade: no measurement") ||
		strings.Contains(err.Error(), "loop/big/d1/cvv-cascade") {
		t.Errorf("Check = %v, want the cascade cells of the throttle rig only", err)
	}
	events := func(tool string, secs ...float64) {
		var b strings.Builder
		for _, s := range secs {
			fmt.Fprintf(&b, "{\"event\":\"start\"}\n{\"event\":\"source_released\",\"time\":\"x\",\"seconds\":%g}\n{\"event\":\"summary\"}\n", s)
		}
		r.write(filepath.Join("throttle", "big", "d3", tool, "events.jsonl"), b.String())
	}
	r.runs(Key{"throttle", "big", 3, ToolCascade}, 1, 1024, 8, 8)
	r.runs(Key{"throttle", "big", 3, ToolNoSlow}, 1, 1024, 1, 1)
	events(ToolCascade, 1.1, 1.3)
	events(ToolNoSlow, 1.0, 1.0)
	d := r.load()
	if err := d.Check(); err != nil {
		t.Fatal(err)
	}
	var got []Check
	for _, c := range d.Evaluate() {
		if c.Target == 4 {
			got = append(got, c)
		}
	}
	if len(got) != 1 || got[0].Scope != "throttle big d3" || math.Abs(got[0].Value-1.2) > 1e-9 || got[0].Status != Miss {
		t.Errorf("target 4 checks %+v, want one MISS of 1.20x on throttle big d3", got)
	}
}

// TestFullVsScriptedCheck checks goal 3's second half: cvv full against cp + sync +
// xxhsum, in every planned cell, only when that contender was run.
func TestFullVsScriptedCheck(t *testing.T) {
	plan := Plan{Runs: 1, Targets: []string{"loop"}, Workloads: []string{"big"}, Dests: []int{1, 3}, Tools: []string{ToolFull, ToolCpXxhsum}}
	r := newRaw(t, plan, Workload{Name: "big", Bytes: gib})
	r.runs(Key{"loop", "big", 1, ToolFull}, 1, 1024, 2)
	r.runs(Key{"loop", "big", 1, ToolCpXxhsum}, 1, 1024, 5)
	r.runs(Key{"loop", "big", 3, ToolFull}, 1, 1024, 6)
	r.runs(Key{"loop", "big", 3, ToolCpXxhsum}, 1, 1024, 10)
	var got []string
	for _, c := range r.load().Evaluate() {
		if c.Target == 3 && strings.Contains(c.What, "xxhsum") {
			got = append(got, fmt.Sprintf("%s %.2f %s", c.Scope, c.Value, c.Status))
		}
	}
	if want := "[loop big d1 0.40 PASS loop big d3 0.60 MISS]"; fmt.Sprint(got) != want {
		t.Errorf("goal 3 scripted checks %v, want %s", got, want)
	}
	plan.Tools = []string{ToolFull}
	r = newRaw(t, plan, Workload{Name: "big", Bytes: gib})
	for _, c := range r.load().Evaluate() {
		if c.Target == 3 && strings.Contains(c.What, "xxhsum") {
			t.Errorf("goal 3 checked against cp-xxhsum without that contender: %+v", c)
		}
	}
}

// TestWritePaths checks that the write path of every destination comes from
// the start event of a cell's untimed run (start.jsonl) or of its event
// stream, and reaches the markdown table and the CSV.
func TestWritePaths(t *testing.T) {
	plan := Plan{Runs: 1, Targets: []string{"disk"}, Workloads: []string{"big"}, Dests: []int{1, 3}, Tools: []string{ToolTransfer, ToolCp}}
	r := newRaw(t, plan, Workload{Name: "big", Bytes: gib})
	for _, n := range []int{1, 3} {
		r.runs(Key{"disk", "big", n, ToolTransfer}, 1, 1024, 2)
		r.runs(Key{"disk", "big", n, ToolCp}, 1, 1024, 3)
	}
	r.write("disk/big/d1/cvv-transfer/start.jsonl",
		`{"event":"start","writes":[{"dest":"/a","path":"buffered","why":"shares its filesystem with the source"}]}`+"\n")
	r.write("disk/big/d3/cvv-transfer/events.jsonl", `{"event":"start","writes":[{"dest":"/a","path":"buffered"},{"dest":"/b","path":"direct"},{"dest":"/c","path":"buffered"}]}`+"\n"+
		`{"event":"start","writes":[{"dest":"/a","path":"pwrite"}]}`+"\n")
	d := r.load()
	want := map[int]string{1: "buffered", 3: "buffered direct buffered"}
	rows := d.Summarize()
	for _, row := range rows {
		w := "-"
		if row.Tool == ToolTransfer {
			w = want[row.Dests]
		}
		if got := row.WritePath(); got != w {
			t.Errorf("%v: write path %q, want %q", row.Key, got, w)
		}
	}
	var md, csvb bytes.Buffer
	if err := WriteMarkdown(&md, d, rows, nil, MarkdownOptions{Title: "T"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "| 0.67x | - | - | - | buffered direct buffered |") {
		t.Errorf("markdown lacks the d3 write paths:\n%s", md.String())
	}
	if err := WriteCSV(&csvb, rows); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(csvb.String(), ",buffered\n") {
		t.Errorf("CSV lacks the d1 write path:\n%s", csvb.String())
	}
	r.write("disk/big/d1/cvv-transfer/start.jsonl", `{"event":"start","writes":[}`+"\n")
	if _, err := Load(r.dir); err == nil || !strings.Contains(err.Error(), "bad start event") {
		t.Errorf("Load of a broken start event: %v", err)
	}
}
