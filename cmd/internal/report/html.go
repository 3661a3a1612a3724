package report

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
	"time"

	"github.com/cvv-project/cvv/cmd/internal/plan"
)

// pageStyle is the report's whole style sheet, inlined.
const pageStyle = `body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
.badge{display:inline-block;padding:.1em .6em;border-radius:.3em;color:#fff;font-weight:bold}
.OK{background:#2a7d2a}.FAILED{background:#b52121}.INTERRUPTED{background:#b8860b}
table{border-collapse:collapse;width:100%}td,th{padding:.25em .5em;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
th{background:#f4f4f4;white-space:nowrap}td.n{text-align:right;font-variant-numeric:tabular-nums}
.kv th{width:12em;background:none;font-weight:600}
.s-failed,.s-changed,.s-error{color:#b52121;font-weight:bold}.s-ok{color:#2a7d2a}.s-skipped{color:#777}
code,.h{font-family:ui-monospace,monospace;font-size:12px}.path{overflow-wrap:anywhere;min-width:14em}.h,td.n{white-space:nowrap}.err{word-break:break-all;font-size:12px}
#pager{margin:.5em 0}#pager button{margin:0 .3em}input,select{font:inherit;margin-right:.5em}
svg text{font:11px sans-serif;fill:#444}
@media print{#controls,#pager{display:none}}`

// writeHTML writes the whole page: head, summary, destinations, chart,
// failures, and the per-file table with its rows inlined as JSON.
func (b *Builder) writeHTML(w io.Writer, sum Summary, csvName string) error {
	var h strings.Builder
	status := sum.Status()
	fmt.Fprintf(&h, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>cvv report: %s</title>\n<style>%s</style></head><body>\n",
		html.EscapeString(b.job.Source), pageStyle)
	fmt.Fprintf(&h, "<h1>cvv transfer report <span class=\"badge %s\">%s</span></h1>\n", status, status)
	b.summaryHTML(&h, sum)
	b.destsHTML(&h, sum)
	h.WriteString("<h2>Throughput</h2>\n")
	h.WriteString(b.chartSVG())
	b.failuresHTML(&h)
	if _, err := io.WriteString(w, h.String()); err != nil {
		return err
	}
	return b.tableHTML(w, csvName)
}

func esc(s string) string { return html.EscapeString(s) }

func (b *Builder) summaryHTML(h *strings.Builder, sum Summary) {
	el := sum.End.Sub(b.job.Start)
	kv := func(k, v string) { fmt.Fprintf(h, "<tr><th>%s</th><td>%s</td></tr>\n", k, v) }
	h.WriteString("<h2>Job</h2>\n<table class=\"kv\">\n")
	kv("Source", "<code>"+esc(b.job.Source)+"</code>")
	var ds []string
	for _, d := range b.job.Dests {
		ds = append(ds, "<code>"+esc(d)+"</code>")
	}
	kv("Destinations", strings.Join(ds, "<br>"))
	kv("Mode", esc(b.job.Mode)+" verification, "+esc(b.job.Hash)+" hash, "+esc(b.job.Engine)+" engine")
	kv("Started", esc(b.job.Start.Format(time.RFC3339)))
	kv("Finished", esc(sum.End.Format(time.RFC3339))+" ("+esc(el.Round(time.Millisecond).String())+")")
	kv("Files", fmt.Sprintf("<span id=\"totals\">%d files: %d copied, %d skipped, %d failed</span>", sum.Files, sum.Copied, sum.Skipped, sum.Failed))
	kv("Bytes", fmt.Sprintf("%s in the source, %s moved, %s/s", plan.HumanBytes(sum.Bytes), plan.HumanBytes(sum.BytesMoved), plan.HumanBytes(int64(rate(sum.BytesMoved, el)))))
	kv("Failures", fmt.Sprintf("%d failures, %d warnings", sum.Failures, sum.Warnings))
	if sum.Interrupted {
		// The signal is not known here: either status is the run's.
		kv("Exit status", "130 (SIGINT) or 143 (SIGTERM): interrupted")
	} else {
		kv("Exit status", fmt.Sprintf("%d (%s)", sum.ExitStatus, status(sum)))
	}
	kv("cvv", esc(b.job.Version))
	kv("Host", esc(b.job.Host))
	h.WriteString("</table>\n")
}

func status(sum Summary) string {
	switch {
	case sum.ExitStatus == 0:
		return "everything copied and verified"
	}
	return "some copies or verifications failed"
}

func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func (b *Builder) destsHTML(h *strings.Builder, sum Summary) {
	el := sum.End.Sub(b.job.Start)
	h.WriteString("<h2>Destinations</h2>\n<table><tr><th>destination</th><th>status</th><th>verified</th><th>copied, not verified</th><th>skipped</th><th>failed</th><th>written</th><th>throughput</th></tr>\n")
	for i, d := range b.job.Dests {
		s := b.dests[i]
		st, cls := "complete", "ok"
		switch {
		case i < len(sum.DestErrors) && sum.DestErrors[i] != "":
			st, cls = "given up: "+sum.DestErrors[i], "failed"
		case s.failed > 0:
			st, cls = fmt.Sprintf("%d failed", s.failed), "failed"
		case sum.Interrupted:
			st, cls = "interrupted", "changed"
		}
		fmt.Fprintf(h, "<tr><td class=\"path\"><code>%s</code></td><td class=\"s-%s\">%s</td><td class=\"n\">%d</td><td class=\"n\">%d</td><td class=\"n\">%d</td><td class=\"n\">%d</td><td class=\"n\">%s</td><td class=\"n\">%s/s</td></tr>\n",
			esc(d), cls, esc(st), s.ok, s.copied, s.skipped, s.failed, plan.HumanBytes(s.bytes), plan.HumanBytes(int64(rate(s.bytes, el))))
	}
	h.WriteString("</table>\n")
}

// chartSVG draws the throughput over time as an inline SVG line chart.
func (b *Builder) chartSVG() string {
	at, r := b.samples.rates()
	const W, H, L, B, T = 760.0, 220.0, 70.0, 30.0, 10.0
	var h strings.Builder
	fmt.Fprintf(&h, "<svg id=\"chart\" width=\"%g\" height=\"%g\" viewBox=\"0 0 %g %g\" role=\"img\" aria-label=\"throughput over time\">\n", W, H, W, H)
	if len(at) == 0 {
		h.WriteString("<text x=\"10\" y=\"20\">too short a run to chart</text></svg>\n")
		return h.String()
	}
	maxT, maxR := at[len(at)-1], 0.0
	for _, v := range r {
		maxR = math.Max(maxR, v)
	}
	if maxR == 0 {
		maxR = 1
	}
	x := func(t float64) float64 { return L + (W-L-10)*t/math.Max(maxT, 1e-9) }
	y := func(v float64) float64 { return H - B - (H-B-T)*v/maxR }
	fmt.Fprintf(&h, "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"#999\"/><line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"#999\"/>\n", L, T, L, H-B, L, H-B, W-10, H-B)
	for _, f := range []float64{0, 0.5, 1} {
		fmt.Fprintf(&h, "<text x=\"%g\" y=\"%.1f\" text-anchor=\"end\">%s/s</text>\n", L-4, y(maxR*f)+4, plan.HumanBytes(int64(maxR*f)))
	}
	fmt.Fprintf(&h, "<text x=\"%g\" y=\"%g\">0 s</text><text x=\"%g\" y=\"%g\" text-anchor=\"end\">%s</text>\n",
		L, H-B+16, W-10, H-B+16, esc((time.Duration(maxT * float64(time.Second))).Round(time.Second).String()))
	var pts strings.Builder
	fmt.Fprintf(&pts, "%.1f,%.1f", x(0), y(r[0]))
	for i := range at {
		fmt.Fprintf(&pts, " %.1f,%.1f", x(at[i]), y(r[i]))
	}
	fmt.Fprintf(&h, "<polyline fill=\"none\" stroke=\"#1f6fb2\" stroke-width=\"2\" points=\"%s\"/>\n</svg>\n", pts.String())
	return h.String()
}

// failuresHTML lists the failed files first, up to maxFailures of them.
func (b *Builder) failuresHTML(h *strings.Builder) {
	if len(b.failures) == 0 {
		return
	}
	fmt.Fprintf(h, "<h2>Failed files</h2>\n")
	if more := b.failed - len(b.failures); more > 0 {
		have := "the table below and the CSV have them all"
		if b.failed > maxPageRows {
			have = "the CSV has them all"
		}
		fmt.Fprintf(h, "<p>The first %d of %d; %d more are not listed here: %s.</p>\n", len(b.failures), b.failed, more, have)
	}
	h.WriteString("<table id=\"failures\">" + b.headRow() + "\n")
	for _, r := range b.failures {
		h.WriteString(rowHTML(r))
	}
	h.WriteString("</table>\n")
}

func (b *Builder) headRow() string {
	var s strings.Builder
	s.WriteString("<tr><th>path</th><th>size</th><th>" + esc(b.job.Hash) + "</th><th>source</th>")
	for i := range b.job.Dests {
		fmt.Fprintf(&s, "<th title=\"%s\">dest %d</th>", esc(b.job.Dests[i]), i+1)
	}
	s.WriteString("<th>error</th></tr>")
	return s.String()
}

func rowHTML(r Row) string {
	var s strings.Builder
	fmt.Fprintf(&s, "<tr><td class=\"path\">%s</td><td class=\"n\">%s</td><td class=\"h\">%s</td><td class=\"s-%s\">%s</td>",
		esc(r.Path), plan.HumanBytes(r.Size), esc(r.Hash), esc(r.Source), esc(r.Source))
	for _, d := range r.Dests {
		fmt.Fprintf(&s, "<td class=\"s-%s\">%s</td>", esc(d.Status), esc(d.Status))
	}
	fmt.Fprintf(&s, "<td class=\"err\">%s</td></tr>\n", esc(r.Error))
	return s.String()
}
