package report

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"time"

	"github.com/cvv-project/cvv/internal/atomicfile"
)

// Write writes the HTML report to path and the CSV of its rows to
// CSVName(path), each through a synced temp file renamed into place (a
// report in a destination root is as durable as the manifests beside it).
func (b *Builder) Write(sum Summary, path string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.tmp == nil {
		return errors.New("report: closed")
	}
	if err := writeFile(path, func(w io.Writer) error { return b.writeHTML(w, sum, filepath.Base(CSVName(path))) }); err != nil {
		return err
	}
	return writeFile(CSVName(path), b.writeCSV)
}

// writeFile writes final through gen, a synced temp file and a rename
// (atomicfile.PendingFile).
func writeFile(final string, gen func(io.Writer) error) error {
	pf, err := atomicfile.CreatePending(nil, final, 0)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	w := bufio.NewWriterSize(pf.File, 256<<10)
	if err := gen(w); err != nil {
		return errors.Join(fmt.Errorf("report %s: %w", final, err), pf.Abort())
	}
	if err := w.Flush(); err != nil {
		return errors.Join(fmt.Errorf("report %s: %w", final, err), pf.Abort())
	}
	if err := pf.Commit(&atomicfile.SourceAttrs{Mode: 0o644, ModTime: time.Now()}, atomicfile.SyncFull); err != nil {
		return fmt.Errorf("report %s: %w", final, err)
	}
	return nil
}

// writeCSV writes the rows: path, size, hash, source, one column per
// destination, error.
func (b *Builder) writeCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	head := []string{"path", "size", b.job.Hash, "source"}
	head = append(head, b.job.Dests...)
	head = append(head, "error")
	if err := cw.Write(head); err != nil {
		return err
	}
	rec := make([]string, len(head))
	err := b.eachRow(func(r *Row, _ []byte) error {
		rec = rec[:0]
		rec = append(rec, r.Path, strconv.FormatInt(r.Size, 10), r.Hash, r.Source)
		for i := range b.job.Dests {
			st := ""
			if i < len(r.Dests) {
				st = r.Dests[i].Status
			}
			rec = append(rec, st)
		}
		rec = append(rec, r.Error)
		return cw.Write(rec)
	})
	if err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}
