package copier

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cvv-project/cvv/cmd/internal/plan"
	"github.com/cvv-project/cvv/cmd/internal/report"
	"github.com/cvv-project/cvv/cmd/internal/ui"
)

// transferReport feeds the HTML and CSV transfer report (--report, and by
// default with --hash-file one beside the manifests in each destination
// root) from the run's events: the start, each settled file, the bytes
// moved once a second, the end.
type transferReport struct {
	b     *report.Builder
	paths []string // the HTML files to write
	stop  chan struct{}
	done  chan struct{}
}

// reportPaths returns the HTML reports the run writes.
func (r *runner) reportPaths() []string {
	var paths []string
	if r.opts.Report != "" {
		paths = append(paths, r.opts.Report)
	}
	if r.opts.HashFiles.Dest && r.opts.hashFilesWanted() && !r.opts.NoReport && !r.opts.Shard.Sharded() {
		for i, d := range r.plan.Dests {
			if r.live(i) {
				paths = append(paths, filepath.Join(d.Root(r.plan.IsDir), report.FileName(r.start)))
			}
		}
	}
	return paths
}

// startReport starts collecting the report, if one is wanted. Its rows go
// to an unlinked temp file beside the first report (on the destination's
// filesystem, not in a tmpfs /tmp that would hold them in memory).
func (r *runner) startReport() error {
	paths := r.reportPaths()
	if len(paths) == 0 {
		return nil
	}
	host, _ := os.Hostname()
	job := report.Job{Source: r.plan.Source, Mode: r.opts.Mode.String(), Hash: r.opts.Alg.String(),
		Engine: r.eng.Name(), Version: r.opts.Version, Host: host, Start: r.start}
	for _, d := range r.plan.Dests {
		job.Dests = append(job.Dests, d.Path)
	}
	b, err := report.New(job, filepath.Dir(paths[0]))
	if err != nil {
		return err
	}
	t := &transferReport{b: b, paths: paths, stop: make(chan struct{}), done: make(chan struct{})}
	r.report = t
	go func() {
		defer close(t.done)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case now := <-tick.C:
				b.Sample(now, r.bytesRead.Load())
			case <-t.stop:
				return
			}
		}
	}()
	return nil
}

// reportFile adds a settled file to the report.
func (r *runner) reportFile(fj *fileJob) {
	if r.report == nil {
		return
	}
	// The tree is walked in path order: k is the file's place in it.
	row := report.Row{Seq: int64(fj.k), Path: fj.entry().Rel, Size: fj.entry().Size, Hash: fj.hash(), Source: fj.srcState().String()}
	if err := fj.sourceErr(); err != nil {
		row.Error = err.Error()
	}
	for i, s := range fj.states() {
		row.Dests = append(row.Dests, report.Dest{Status: reportStatus(s), Wrote: fj.actions()[i] != plan.Skip})
		if err := fj.err(i); err != nil && row.Error == "" {
			row.Error = err.Error()
		}
	}
	r.report.b.Add(row)
}

func reportStatus(s destState) string {
	switch s {
	case dsOK:
		return "ok"
	case dsCopied:
		return "copied"
	case dsSkipped:
		return "skipped"
	case dsFailed:
		return "failed"
	}
	return "not copied"
}

// finishReport writes the reports with the run's summary and says where.
// A report that cannot be written is a failure of the run.
func (r *runner) finishReport(sum report.Summary) error {
	t := r.report
	if t == nil {
		return nil
	}
	r.report = nil
	close(t.stop)
	<-t.done
	t.b.Sample(sum.End, sum.BytesMoved)
	var errs []error
	for _, p := range t.paths {
		if err := t.b.Write(sum, p); err != nil {
			errs = append(errs, err)
			continue
		}
		for _, q := range []string{p, report.CSVName(p)} {
			r.out.Wrote("report", q)
		}
	}
	if err := t.b.Close(); err != nil {
		errs = append(errs, fmt.Errorf("report: %w", err))
	}
	return errors.Join(errs...)
}

// finish ends the run's output: the reports, then the summary.
func (r *runner) finish(interrupted bool) {
	r.interrupted = interrupted
	if r.report != nil {
		if err := r.finishReport(r.reportSummary(interrupted)); err != nil {
			r.failures.Add(1)
			r.out.Fail("", "", err)
		}
		// The report may have been written into a destination root.
		r.finishRoots()
	}
	r.syncNamesLast()
	r.summary()
}

// reportSummary is the end of the run as the report states it.
func (r *runner) reportSummary(interrupted bool) report.Summary {
	c := r.countFiles()
	copied, skipped, failed := c.copied, c.skipped, c.failed
	sum := report.Summary{
		End: time.Now(), Files: r.files.len(), Copied: copied, Skipped: skipped, Failed: failed,
		Bytes: r.tree.Bytes, BytesMoved: r.bytesRead.Load(),
		Failures: r.failures.Load(), Warnings: r.warnings.Load(), Interrupted: interrupted,
	}
	if sum.Failures > 0 {
		sum.ExitStatus = ExitFailure
	}
	for _, err := range r.dropped {
		sum.DestErrors = append(sum.DestErrors, ui.ErrString(err))
	}
	return sum
}
