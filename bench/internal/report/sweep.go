package report

import (
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// SweepTool is the tool name the sweep gives cvv at one block size and queue
// depth, e.g. "cvv-bs1M-qd8".
func SweepTool(blockSize string, queueDepth int) string {
	return fmt.Sprintf("cvv-bs%s-qd%d", blockSize, queueDepth)
}

var sweepTool = regexp.MustCompile(`^cvv-bs([0-9]+[KMG]?)-qd([0-9]+)$`)

// ParseSweepTool splits a SweepTool name; ok is false for other names.
func ParseSweepTool(tool string) (blockSize int64, queueDepth int, ok bool) {
	m := sweepTool.FindStringSubmatch(tool)
	if m == nil {
		return 0, 0, false
	}
	bs, err := ParseSize(m[1])
	if err != nil {
		return 0, 0, false
	}
	qd, err := strconv.Atoi(m[2])
	if err != nil {
		return 0, 0, false
	}
	return bs, qd, true
}

// ParseSize parses a byte count with an optional binary suffix K, M, G
// (KiB, MiB, GiB), with or without a trailing "iB" or "B".
func ParseSize(s string) (int64, error) {
	t := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSpace(s), "B"), "i")
	mult := int64(1)
	if t != "" {
		switch t[len(t)-1] {
		case 'K', 'k':
			mult = 1 << 10
		case 'M', 'm':
			mult = 1 << 20
		case 'G', 'g':
			mult = 1 << 30
		case 'T', 't':
			mult = 1 << 40
		}
		if mult > 1 {
			t = t[:len(t)-1]
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("size %q overflows", s)
	}
	return n * mult, nil
}

// FormatSize prints a byte count with the largest binary suffix that
// divides it exactly: 262144 -> "256K".
func FormatSize(n int64) string {
	for _, u := range []struct {
		s string
		m int64
	}{{"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if n >= u.m && n%u.m == 0 {
			return strconv.FormatInt(n/u.m, 10) + u.s
		}
	}
	return strconv.FormatInt(n, 10)
}

// SweepPoint is the median throughput of one block size and queue depth.
type SweepPoint struct {
	BlockSize  int64
	QueueDepth int
	Row        Row
}

// SweepTable is the sweep of one target, workload and destination count.
type SweepTable struct {
	Target, Workload string
	Dests            int
	BlockSizes       []int64
	QueueDepths      []int
	Points           map[[2]int64]SweepPoint
	// Best is the point with the highest median MB/s.
	Best SweepPoint
}

// Sweep groups the sweep cells of the rows into tables, in row order.
func Sweep(rows []Row) []*SweepTable {
	var tables []*SweepTable
	find := func(r Row) *SweepTable {
		for _, t := range tables {
			if t.Target == r.Target && t.Workload == r.Workload && t.Dests == r.Dests {
				return t
			}
		}
		t := &SweepTable{Target: r.Target, Workload: r.Workload, Dests: r.Dests, Points: map[[2]int64]SweepPoint{}}
		tables = append(tables, t)
		return t
	}
	for _, r := range rows {
		bs, qd, ok := ParseSweepTool(r.Tool)
		if !ok || math.IsNaN(r.MBpsMedian) {
			continue
		}
		t := find(r)
		if !slices.Contains(t.BlockSizes, bs) {
			t.BlockSizes = append(t.BlockSizes, bs)
		}
		if !slices.Contains(t.QueueDepths, qd) {
			t.QueueDepths = append(t.QueueDepths, qd)
		}
		pt := SweepPoint{BlockSize: bs, QueueDepth: qd, Row: r}
		t.Points[[2]int64{bs, int64(qd)}] = pt
		if t.Best.Row.Runs == 0 || r.MBpsMedian > t.Best.Row.MBpsMedian {
			t.Best = pt
		}
	}
	for _, t := range tables {
		slices.Sort(t.BlockSizes)
		slices.Sort(t.QueueDepths)
	}
	return tables
}

// WriteSweepMarkdown writes one table per SweepTable: block sizes down,
// queue depths across, median MB/s (and CPU s/GiB) in the cells, the best
// cell in bold.
func WriteSweepMarkdown(w io.Writer, tables []*SweepTable) error {
	var b strings.Builder
	for _, t := range tables {
		fmt.Fprintf(&b, "### %s, %s, %d destination(s)\n\n", t.Target, t.Workload, t.Dests)
		fmt.Fprintf(&b, "Median source MB/s (CPU s/GiB); best: block %s, queue depth %d, %.0f MB/s.\n\n",
			FormatSize(t.Best.BlockSize), t.Best.QueueDepth, t.Best.Row.MBpsMedian)
		b.WriteString("| block \\ depth |")
		for _, qd := range t.QueueDepths {
			fmt.Fprintf(&b, " %d |", qd)
		}
		b.WriteString("\n|---|")
		for range t.QueueDepths {
			b.WriteString("--:|")
		}
		b.WriteString("\n")
		for _, bs := range t.BlockSizes {
			fmt.Fprintf(&b, "| %s |", FormatSize(bs))
			for _, qd := range t.QueueDepths {
				pt, ok := t.Points[[2]int64{bs, int64(qd)}]
				switch {
				case !ok:
					b.WriteString(" - |")
				case bs == t.Best.BlockSize && qd == t.Best.QueueDepth:
					fmt.Fprintf(&b, " **%.0f** (%.2f) |", pt.Row.MBpsMedian, pt.Row.CPUPerGiB)
				default:
					fmt.Fprintf(&b, " %.0f (%.2f) |", pt.Row.MBpsMedian, pt.Row.CPUPerGiB)
				}
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
