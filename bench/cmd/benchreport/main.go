// Command benchreport turns a raw benchmark directory written by
// scripts/bench.sh or scripts/sweep.sh into the published report.
//
//	benchreport report -raw DIR/raw -out DIR   report.md, summary.md, results.csv, targets.csv, throughput.png
//	benchreport sweep  -raw DIR/raw -out DIR   sweep.md, sweep.csv
//
// summary.md is the compact section for the README (-link gives the path of
// DIR from the repository root, -reproduce the command to show). report exits with status 1 when a planned measurement is missing or a
// contender failed (after writing what it could), so that a smoke run fails
// loudly; it never fails because a performance target was missed.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"

	"github.com/cvv-project/cvv/bench/internal/report"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: benchreport report|sweep -raw DIR -out DIR")
	}
	fl := flag.NewFlagSet("benchreport "+args[0], flag.ContinueOnError)
	raw := fl.String("raw", "", "raw directory (required)")
	out := fl.String("out", "", "output directory (default: the parent of -raw)")
	title := fl.String("title", "", "report title")
	link := fl.String("link", "", "path of the output directory as the README links it (for summary.md)")
	reproduce := fl.String("reproduce", "", "command that reproduces the run (for summary.md)")
	if err := fl.Parse(args[1:]); err != nil {
		return err
	}
	if *raw == "" {
		return errors.New("-raw is required")
	}
	if *out == "" {
		*out = filepath.Dir(filepath.Clean(*raw))
	}
	d, err := report.Load(*raw)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	switch args[0] {
	case "report":
		return writeReport(d, *out, *title, *link, *reproduce, stdout)
	case "sweep":
		return writeSweep(d, *out, stdout)
	}
	return fmt.Errorf("unknown subcommand %q (want report or sweep)", args[0])
}

func writeReport(d *report.Dataset, out, title, link, reproduce string, stdout io.Writer) error {
	rows := d.Summarize()
	checks := d.Evaluate()
	if title == "" {
		title = "cvv benchmark, profile " + d.Plan.Profile
	}
	chart := "throughput.png"
	if len(rows) == 0 {
		chart = ""
	} else if err := writeFile(filepath.Join(out, chart), func(w io.Writer) error { return report.WriteChart(w, rows) }); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(out, "results.csv"), func(w io.Writer) error { return report.WriteCSV(w, rows) }); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(out, "targets.csv"), func(w io.Writer) error { return report.WriteTargetsCSV(w, checks) }); err != nil {
		return err
	}
	md := filepath.Join(out, "report.md")
	if err := writeFile(md, func(w io.Writer) error {
		return report.WriteMarkdown(w, d, rows, checks, report.MarkdownOptions{Title: title, Chart: chart})
	}); err != nil {
		return err
	}
	so := report.SummaryOptions{Command: reproduce}
	if link != "" {
		so.Report = path.Join(link, "report.md")
		if chart != "" {
			so.Chart = path.Join(link, chart)
		}
	}
	if err := writeFile(filepath.Join(out, "summary.md"), func(w io.Writer) error {
		return report.WriteSummary(w, d, rows, checks, so)
	}); err != nil {
		return err
	}
	for _, c := range checks {
		fmt.Fprintf(stdout, "goal %d %-5s %-40s %-28s %8s %9s  %s\n", c.Target, c.Status, c.What, c.Scope, c.Measured(), c.Bound(), c.Note)
	}
	fmt.Fprintf(stdout, "report: %s\n", md)
	return d.Check()
}

func writeSweep(d *report.Dataset, out string, stdout io.Writer) error {
	rows := d.Summarize()
	tables := report.Sweep(rows)
	if len(tables) == 0 {
		return errors.New("no sweep cells (tools named cvv-bs<size>-qd<depth>) in the raw directory")
	}
	if err := writeFile(filepath.Join(out, "sweep.csv"), func(w io.Writer) error { return report.WriteCSV(w, rows) }); err != nil {
		return err
	}
	md := filepath.Join(out, "sweep.md")
	if err := writeFile(md, func(w io.Writer) error {
		if _, err := fmt.Fprintf(w, "# cvv tuning sweep\n\nBlock size x queue depth, `cvv -m transfer`, %d interleaved run(s) per cell.\n\n", d.Plan.Runs); err != nil {
			return err
		}
		if d.Machine != "" {
			if _, err := fmt.Fprintf(w, "```\n%s\n```\n\n", d.Machine); err != nil {
				return err
			}
		}
		return report.WriteSweepMarkdown(w, tables)
	}); err != nil {
		return err
	}
	if err := report.WriteSweepMarkdown(stdout, tables); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "sweep: %s\n", md)
	return d.Check()
}

// writeFile creates path, lets fill write it and closes it, reporting the
// first error.
func writeFile(path string, fill func(io.Writer) error) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	return fill(f)
}
