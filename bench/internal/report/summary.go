package report

import (
	"math"
	"slices"
	"strings"
)

// MB is the unit of throughput figures: 10^6 bytes, as disk vendors and fio
// (with --kb_base=1000) count.
const MB = 1e6

// GiB is the unit of the CPU-per-data figure.
const GiB = 1 << 30

// Median returns the median of xs (mean of the two middle values for an
// even count) and NaN for none.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// MinMax returns the smallest and largest of xs, NaN for none.
func MinMax(xs []float64) (lo, hi float64) {
	if len(xs) == 0 {
		return math.NaN(), math.NaN()
	}
	return slices.Min(xs), slices.Max(xs)
}

// Row is the summary of one cell.
type Row struct {
	Key
	// Runs is the number of wall-time samples.
	Runs int
	// Bytes is the size of the source (the workload), read once per run.
	Bytes int64
	// WallMedian, WallMin, WallMax are wall seconds.
	WallMedian, WallMin, WallMax float64
	// MBps* are source bytes per second in MB/s: the median is
	// Bytes/WallMedian, the minimum comes from the slowest run and the
	// maximum from the fastest.
	MBpsMedian, MBpsMin, MBpsMax float64
	// CPUMedian is the median of user+sys seconds per run.
	CPUMedian float64
	// CPUPerGiB is CPUMedian per GiB of source.
	CPUPerGiB float64
	// MaxRSSMiB is the largest peak RSS over all runs, NaN if unknown.
	MaxRSSMiB float64
	// VsCp and VsRsync are WallMedian divided by the median wall time of cp
	// (respectively rsync) in the same target, workload and destination
	// count: below 1 means this tool was faster. NaN when not measured.
	VsCp, VsRsync float64
	// FIOFraction is MBpsMedian over the fio limit of the target for this
	// destination count (see FIOLimit), NaN without a fio baseline.
	FIOFraction float64
	// FIOLimit is that limit in bytes per second, NaN without a baseline.
	FIOLimit float64
	// WritePaths is how each destination was written (Cell.WritePaths).
	WritePaths []string
}

// WritePath is r.WritePaths in one word per destination, "-" if unknown.
func (r Row) WritePath() string {
	if len(r.WritePaths) == 0 {
		return "-"
	}
	return strings.Join(r.WritePaths, " ")
}

// CPUs returns the per-run CPU seconds of c: from rusage records when there
// are any, else from hyperfine.
func (c *Cell) CPUs() []float64 {
	if len(c.Usages) == 0 {
		return c.HyperfineCPU
	}
	xs := make([]float64, len(c.Usages))
	for i, u := range c.Usages {
		xs[i] = u.User + u.Sys
	}
	return xs
}

// MaxRSSMiB is the largest peak RSS of c's runs in MiB, NaN if unknown.
func (c *Cell) MaxRSSMiB() float64 {
	if len(c.Usages) == 0 {
		return math.NaN()
	}
	var m int64
	for _, u := range c.Usages {
		m = max(m, u.MaxRSSKiB)
	}
	return float64(m) / 1024
}

// SeparateDevices reports whether target gives each destination its own
// device (the loop and throttle targets), which changes the fio limit and
// the targets that apply.
func SeparateDevices(target string) bool { return target == "loop" || target == "throttle" }

// FIOLimit is the throughput ceiling in bytes per second for copying a
// source to dests destinations on target, from the fio baseline: the source
// must be read once and each destination written once. On separate devices
// the writes run in parallel, so the limit is min(read, slowest device
// write); on one device the writes share its bandwidth: min(read, write/N).
// When fio also ran the mix itself (reading the source while writing to
// dests destinations at once), its slowest job is the limit. It returns NaN
// without a baseline.
func (d *Dataset) FIOLimit(target string, dests int) float64 {
	f, ok := d.FIO[target]
	if lim, ok := f.Mix[dests]; ok {
		return lim
	}
	if !ok || f.Read <= 0 || len(f.WriteJobs) == 0 {
		return math.NaN()
	}
	if SeparateDevices(target) {
		return min(f.Read, f.WriteMin())
	}
	var sum float64
	for _, w := range f.WriteJobs {
		sum += w
	}
	return min(f.Read, sum/float64(dests))
}

// Summarize computes a Row for every cell that has samples, in plan order
// followed by cells outside the plan in key order.
func (d *Dataset) Summarize() []Row {
	var rows []Row
	seen := map[Key]bool{}
	add := func(k Key) {
		if seen[k] {
			return
		}
		seen[k] = true
		if c := d.Cell(k); c != nil {
			rows = append(rows, d.row(c))
		}
	}
	for _, k := range d.PlannedKeys() {
		add(k)
	}
	var rest []Key
	for k := range d.Cells {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	slices.SortFunc(rest, func(a, b Key) int {
		if a.String() < b.String() {
			return -1
		}
		if a.String() > b.String() {
			return 1
		}
		return 0
	})
	for _, k := range rest {
		add(k)
	}
	return rows
}

func (d *Dataset) row(c *Cell) Row {
	r := Row{Key: c.Key, Runs: len(c.Walls), Bytes: d.Workloads[c.Workload].Bytes}
	r.WallMedian = Median(c.Walls)
	r.WallMin, r.WallMax = MinMax(c.Walls)
	b := float64(r.Bytes)
	r.MBpsMedian = b / r.WallMedian / MB
	r.MBpsMin = b / r.WallMax / MB
	r.MBpsMax = b / r.WallMin / MB
	r.CPUMedian = Median(c.CPUs())
	r.CPUPerGiB = r.CPUMedian / (b / GiB)
	r.MaxRSSMiB = c.MaxRSSMiB()
	r.VsCp = d.WallRatio(c.Key, "cp")
	r.VsRsync = d.WallRatio(c.Key, "rsync")
	r.FIOLimit = d.FIOLimit(c.Target, c.Dests)
	r.FIOFraction = b / r.WallMedian / r.FIOLimit
	r.WritePaths = c.WritePaths
	if r.Bytes == 0 {
		r.MBpsMedian, r.MBpsMin, r.MBpsMax, r.CPUPerGiB, r.FIOFraction = math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN()
	}
	return r
}

// WallRatio is the median wall time of k divided by that of tool in the
// same target, workload and destination count; NaN if either is missing.
func (d *Dataset) WallRatio(k Key, tool string) float64 {
	o := k
	o.Tool = tool
	return d.ratio(k, o, func(c *Cell) []float64 { return c.Walls })
}

// CPURatio is like WallRatio for median user+sys seconds.
func (d *Dataset) CPURatio(k Key, tool string) float64 {
	o := k
	o.Tool = tool
	return d.ratio(k, o, (*Cell).CPUs)
}

// RoundRatios are the wall time ratios of a over b round by round, for
// every round both cells have (contenders of one round ran back to back, so
// their ratio cancels drift that hits both). Sorted ascending.
func (d *Dataset) RoundRatios(a, b Key) []float64 {
	ca, cb := d.Cell(a), d.Cell(b)
	if ca == nil || cb == nil {
		return nil
	}
	var rs []float64
	for n, wa := range ca.RoundWalls {
		if wb, ok := cb.RoundWalls[n]; ok && wb > 0 {
			rs = append(rs, wa/wb)
		}
	}
	slices.Sort(rs)
	return rs
}

func (d *Dataset) ratio(a, b Key, f func(*Cell) []float64) float64 {
	ca, cb := d.Cell(a), d.Cell(b)
	if ca == nil || cb == nil {
		return math.NaN()
	}
	den := Median(f(cb))
	if den <= 0 {
		return math.NaN()
	}
	return Median(f(ca)) / den
}
