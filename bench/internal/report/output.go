package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// csvFloat formats v for CSV: empty for NaN, else %.4g-like without
// exponent for ordinary magnitudes.
func csvFloat(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return ""
	}
	return strconv.FormatFloat(v, 'f', 4, 64)
}

// CSVHeader is the header of the results CSV.
var CSVHeader = []string{
	"target", "workload", "dests", "tool", "runs", "source_bytes",
	"wall_median_s", "wall_min_s", "wall_max_s",
	"mbps_median", "mbps_min", "mbps_max",
	"cpu_median_s", "cpu_s_per_gib", "max_rss_mib",
	"wall_vs_cp", "wall_vs_rsync", "fio_fraction", "fio_limit_mbps", "write_paths",
}

// WriteCSV writes rows as CSV with CSVHeader.
func WriteCSV(w io.Writer, rows []Row) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, r := range rows {
		rec := []string{
			r.Target, r.Workload, strconv.Itoa(r.Dests), r.Tool, strconv.Itoa(r.Runs), strconv.FormatInt(r.Bytes, 10),
			csvFloat(r.WallMedian), csvFloat(r.WallMin), csvFloat(r.WallMax),
			csvFloat(r.MBpsMedian), csvFloat(r.MBpsMin), csvFloat(r.MBpsMax),
			csvFloat(r.CPUMedian), csvFloat(r.CPUPerGiB), csvFloat(r.MaxRSSMiB),
			csvFloat(r.VsCp), csvFloat(r.VsRsync), csvFloat(r.FIOFraction), csvFloat(r.FIOLimit / MB),
			strings.Join(r.WritePaths, " "),
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteTargetsCSV writes the evaluated checks as CSV.
func WriteTargetsCSV(w io.Writer, checks []Check) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"target", "what", "scope", "value", "limit", "unit", "status", "note"}); err != nil {
		return err
	}
	for _, c := range checks {
		rec := []string{strconv.Itoa(c.Target), c.What, c.Scope, csvFloat(c.Value), csvFloat(c.Limit), c.Unit, string(c.Status), c.Note}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// mdFloat formats v with prec decimals, "-" for NaN.
func mdFloat(v float64, prec int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

func mdRatio(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	return fmt.Sprintf("%.2fx", v)
}

// MarkdownOptions are the parts of the report that do not come from the data.
type MarkdownOptions struct {
	// Title is the first heading.
	Title string
	// Chart is the relative path of the chart image, empty for none.
	Chart string
}

// WriteMarkdown writes the report: machine, plan, how to read it, the
// targets, the per-cell table and the fio baseline.
func WriteMarkdown(w io.Writer, d *Dataset, rows []Row, checks []Check, o MarkdownOptions) error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# %s\n\n", o.Title)
	p("Profile `%s`, %d run(s) per cell", d.Plan.Profile, d.Plan.Runs)
	if d.Plan.Started != "" {
		p(", started %s", d.Plan.Started)
	}
	p(".\n\n")
	if d.Machine != "" {
		p("## Machine and storage\n\n```\n%s\n```\n\n", d.Machine)
	}
	p("## Workloads\n\n| workload | files | dirs | bytes | seed |\n|---|--:|--:|--:|--:|\n")
	for _, name := range d.Plan.Workloads {
		wl := d.Workloads[name]
		p("| %s | %d | %d | %d (%.1f MiB) | %d |\n", name, wl.Files, wl.Dirs, wl.Bytes, float64(wl.Bytes)/(1<<20), wl.Seed)
	}
	p("\n## How to read this\n\n")
	p("- **MB/s** is source bytes (10^6) per wall second, including the `sync` inside the timed command; ")
	p("median over runs, min (slowest run) and max (fastest run). With N destinations the tool writes N times that.\n")
	p("- **CPU s/GiB** is the median user+sys CPU seconds of the command and its children per GiB of source.\n")
	p("- **RSS** is the largest peak resident set of any process of the command over all runs, in MiB.\n")
	p("- **vs cp**, **vs rsync** are time ratios: median wall of this tool / median wall of cp (rsync) in the same cell. ")
	p("Below 1.00x the tool is faster. cp and rsync run once per destination, one after the other.\n")
	p("- **fio** is MB/s as a fraction of the fio limit of the target (`--ioengine=io_uring --direct=1 --bs=1M --iodepth=32`): ")
	p("the slowest job of a fio run that reads the source device while writing N destinations at once, median over the runs of that mix; ")
	p("without that run, min(read, write) on separate devices, min(read, write/N) on one device; **fio MB/s** is that limit.\n")
	p("- **writes** is how cvv wrote each destination, in order: `direct` (O_DIRECT), `buffered` (page cache with write-behind), ")
	p("`pwrite` (portable engine), as its `--json` start event of an untimed run said.\n")
	p("- Per cell, each contender has its warm-up run(s), then its timed runs back to back; the contender order rotates ")
	p("from cell to cell. Caches are dropped and destinations removed before every run.\n\n")

	p("## Goals\n\n")
	for i := 1; i < len(TargetTitles); i++ {
		p("%d. %s\n", i, TargetTitles[i])
	}
	p("\nA ratio is of medians; in brackets, the lowest and highest of the same ratio taken round by round.\n")
	p("\n| # | check | scope | measured | limit | verdict | note |\n|--:|---|---|--:|--:|---|---|\n")
	for _, c := range checks {
		p("| %d | %s | %s | %s | %s | **%s** | %s |\n", c.Target, c.What, c.Scope, c.Measured(), c.Bound(), c.Status, c.Note)
	}
	if o.Chart != "" {
		p("\n## Throughput\n\n![source MB/s by workload, destinations and tool](%s)\n", o.Chart)
	}
	cur := ""
	for _, r := range rows {
		if r.Target != cur {
			cur = r.Target
			p("\n## Target `%s`\n\n", cur)
			p("| workload | dests | tool | runs | MB/s median | MB/s min-max | CPU s/GiB | RSS MiB | vs cp | vs rsync | fio | fio MB/s | writes |\n")
			p("|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
		}
		p("| %s | %d | %s | %d | %s | %s-%s | %s | %s | %s | %s | %s | %s | %s |\n",
			r.Workload, r.Dests, r.Tool, r.Runs, mdFloat(r.MBpsMedian, 0), mdFloat(r.MBpsMin, 0), mdFloat(r.MBpsMax, 0),
			mdFloat(r.CPUPerGiB, 2), mdFloat(r.MaxRSSMiB, 1), mdRatio(r.VsCp), mdRatio(r.VsRsync), mdPercent(r.FIOFraction),
			mdFloat(r.FIOLimit/MB, 0), r.WritePath())
	}
	if len(d.FIO) > 0 {
		p("\n## fio baseline\n\n| target | engine | direct | read MB/s | write MB/s per job |\n|---|---|---|--:|---|\n")
		for _, t := range d.Plan.Targets {
			f, ok := d.FIO[t]
			if !ok {
				continue
			}
			ws := make([]string, len(f.WriteJobs))
			for i, v := range f.WriteJobs {
				ws[i] = mdFloat(v/MB, 0)
			}
			p("| %s | %s | %v | %s | %s |\n", t, f.Engine, f.Direct, mdFloat(f.Read/MB, 0), strings.Join(ws, ", "))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func mdPercent(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*v)
}

// SummaryOptions are the parts of the README section that do not come from
// the data.
type SummaryOptions struct {
	// Chart is the path of the chart as the README links it (relative to
	// the repository root), empty for none.
	Chart string
	// Report is the path of the full report as the README links it.
	Report string
	// Command is how to reproduce the run, e.g. "make bench-full".
	Command string
}

// WriteSummary writes a compact Markdown section for the README: machine
// and storage, one line per target x workload x destination count with the
// median MB/s of every tool and cvv transfer's time ratios, the target
// verdicts tallied per goal, and how to reproduce.
func WriteSummary(w io.Writer, d *Dataset, rows []Row, checks []Check, o SummaryOptions) error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("Profile `%s`, %d run(s) per cell", d.Plan.Profile, d.Plan.Runs)
	if d.Plan.Started != "" {
		p(", %s", d.Plan.Started)
	}
	p(". Median source MB/s (10^6 bytes of source per wall second, `sync` included); ")
	p("the ratios are cvv transfer's median wall time over cp's and rsync's (below 1.00x cvv is faster); ")
	p("CPU is user+sys seconds per GiB of source (cvv transfer / cp), RSS cvv transfer's peak in MiB, ")
	p("fio the limit that fio measures for the same mix (reading the source while writing every destination), in MB/s.\n\n")
	if d.Machine != "" {
		p("```\n%s\n```\n\n", d.Machine)
	}
	if o.Chart != "" {
		p("![source MB/s by workload, destinations and tool](%s)\n\n", o.Chart)
	}
	writeSummaryTable(&b, rows)
	writeGoalTally(&b, checks)
	if o.Report != "" || o.Command != "" {
		p("\n")
		if o.Report != "" {
			p("Full report with min-max, CPU s/GiB, peak RSS and the fio baseline: [%s](%s). ", o.Report, o.Report)
		}
		if o.Command != "" {
			p("Reproduce with `%s`.", o.Command)
		}
		p("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeGoalTally writes one line per goal: how many of its checks passed,
// missed or were not measured, and each miss with its figure.
func writeGoalTally(b *strings.Builder, checks []Check) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	p("\n| goal | checks | pass | miss | n/a | the misses: scope, measured (limit) |\n|--:|--:|--:|--:|--:|---|\n")
	for g := 1; g < len(TargetTitles); g++ {
		var n, pass, miss, na int
		var misses []string
		for _, c := range checks {
			if c.Target != g {
				continue
			}
			n++
			switch c.Status {
			case Pass:
				pass++
			case Miss:
				miss++
				misses = append(misses, fmt.Sprintf("%s %s: %s (%s)", c.Scope, c.What, formatUnit(c.Value, c.Unit), c.Bound()))
			default:
				na++
			}
		}
		p("| %d | %d | %d | %d | %d | %s |\n", g, n, pass, miss, na, strings.Join(misses, "; "))
	}
}

// writeSummaryTable writes the summary's table: one line per target x
// workload x destination count, the median MB/s of every tool, then cvv
// transfer's ratios, CPU per GiB (and cp's), peak RSS and the fio limit.
func writeSummaryTable(b *strings.Builder, rows []Row) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	var tools []string
	type line struct {
		target, workload string
		dests            int
	}
	var lines []line
	byKey := map[Key]Row{}
	for _, r := range rows {
		if !slices.Contains(tools, r.Tool) {
			tools = append(tools, r.Tool)
		}
		l := line{r.Target, r.Workload, r.Dests}
		if !slices.Contains(lines, l) {
			lines = append(lines, l)
		}
		byKey[r.Key] = r
	}
	p("| target | workload | dests |")
	for _, t := range tools {
		p(" %s |", t)
	}
	p(" cvv/cp | cvv/rsync | CPU s/GiB | RSS | fio |\n|---|---|--:|")
	for range tools {
		p("--:|")
	}
	p("--:|--:|--:|--:|--:|\n")
	for _, l := range lines {
		p("| %s | %s | %d |", l.target, l.workload, l.dests)
		for _, t := range tools {
			r, ok := byKey[Key{l.target, l.workload, l.dests, t}]
			if !ok {
				p(" - |")
				continue
			}
			p(" %s |", mdFloat(r.MBpsMedian, 0))
		}
		tr := byKey[Key{l.target, l.workload, l.dests, ToolTransfer}]
		if tr.Runs == 0 {
			p(" - | - | - | - | - |\n")
			continue
		}
		cp := byKey[Key{l.target, l.workload, l.dests, ToolCp}]
		cpCPU := math.NaN()
		if cp.Runs > 0 {
			cpCPU = cp.CPUPerGiB
		}
		p(" %s | %s | %s / %s | %s | %s |\n", mdRatio(tr.VsCp), mdRatio(tr.VsRsync),
			mdFloat(tr.CPUPerGiB, 2), mdFloat(cpCPU, 2), mdFloat(tr.MaxRSSMiB, 0), mdFloat(tr.FIOLimit/MB, 0))
	}
}
