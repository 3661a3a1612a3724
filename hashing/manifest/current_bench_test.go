package manifest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cvv-project/cvv/hashing"
)

// benchRecord is a record of n files in directories of about 550, as
// genworkload's scale tree lays them out, its files in a spool, written
// in formats below a temporary root.
func benchRecord(b *testing.B, n int, formats []Format) Record {
	b.Helper()
	root := filepath.Join(b.TempDir(), "d1")
	if err := os.Mkdir(root, 0o755); err != nil {
		b.Fatal(err)
	}
	rec := Record{Root: root, Alg: hashing.XXH3, Start: time.Date(2026, 12, 2, 1, 2, 3, 0, time.UTC), Process: "transfer", Spool: NewFileSpool()}
	b.Cleanup(func() { rec.Spool.Close() })
	for k := range n {
		d := fmt.Sprintf("s%03d/d%02d", k/550/10, k/550%10)
		if k%550 == 0 {
			rec.Dirs = append(rec.Dirs, d)
			if k/550%10 == 0 {
				rec.Dirs = append(rec.Dirs, d[:4])
			}
		}
		p := fmt.Sprintf("%s/f%04d.dat", d, k%550)
		if err := rec.Spool.Add(File{Path: p, Size: int64(k % 7), ModTime: time.Unix(1700000000, 0), Hash: hashing.XXH3.Sum([]byte(p))}); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := Write(rec, formats); err != nil {
		b.Fatal(err)
	}
	return rec
}

// BenchmarkCurrent is the check of a re-run that changed nothing: the
// lists of 200,000 files already record the run, in each format alone
// and in all three, whole or with the ASC MHL history read ahead.
func BenchmarkCurrent(b *testing.B) {
	all := []Format{Sums, XXH, MHL}
	rec := benchRecord(b, 200_000, all)
	for _, fs := range [][]Format{{Sums}, {XXH}, {MHL}, all} {
		b.Run(fmt.Sprint(fs), func(b *testing.B) {
			for b.Loop() {
				if !Current(rec, fs) {
					b.Fatal("not current")
				}
			}
		})
	}
	// What is left for the end of a run that began the check ahead
	// (CurrentCheck.ReadAhead, not timed): the lists were just written,
	// and are stamped with no margin.
	defer setStampMargin(0)()
	for _, fs := range [][]Format{{MHL}, all} {
		b.Run(fmt.Sprint(fs)+"-ahead", func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				c := NewCurrentCheck(rec, fs)
				c.ReadAhead()
				b.StartTimer()
				if len(c.Formats(rec)) != len(fs) {
					b.Fatal("not current")
				}
				c.Close()
			}
		})
	}
}
