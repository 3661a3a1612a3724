package report

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Tool names the harness uses for the contenders.
const (
	ToolTransfer = "cvv-transfer"
	ToolFull     = "cvv-full"
	ToolFallback = "cvv-fallback"
	ToolCp       = "cp"
	ToolRsync    = "rsync"
	// ToolCascade is cvv -m full with the last destination given as
	// --cascade; ToolNoSlow the same run without that destination. Both
	// print --json into events.jsonl (the source_released times).
	ToolCascade = "cvv-cascade"
	ToolNoSlow  = "cvv-noslow"
	// ToolCpXxhsum is what a user scripts for a verified copy: cp to each
	// destination, sync, drop the caches, xxhsum the source and the copies.
	ToolCpXxhsum = "cp-xxhsum"
)

// MinRunsForTargets is the number of runs the targets ask for; fewer runs
// still get a verdict, marked as indicative.
const MinRunsForTargets = 5

// Status is the verdict on one target check.
type Status string

// The verdicts.
const (
	Pass Status = "PASS"
	Miss Status = "MISS"
	// NA means the cells the check needs were not measured in this run.
	NA Status = "N/A"
)

// Check is one evaluated target condition.
type Check struct {
	// Target is the number of the goal (1-5) in the issue.
	Target int
	// What says what is compared, in words.
	What string
	// Scope is the storage target, workload and destination count.
	Scope string
	// Value is the measured figure, Limit the bound it must not exceed.
	Value, Limit float64
	// RoundMin and RoundMax bound the same ratio taken round by round
	// (NaN when not a wall time ratio or no rounds pair up): how far the
	// noise of the machine moves it.
	RoundMin, RoundMax float64
	// Unit formats Value and Limit ("x" for ratios, "MiB").
	Unit string
	// AtLeast makes Limit a floor: Value must not fall below it.
	AtLeast bool
	// Status is the verdict.
	Status Status
	// Note adds the run count when it is below MinRunsForTargets, or why the
	// check is N/A.
	Note string
}

// Measured formats Value with its unit, and the per-round range of a ratio
// when there is one.
func (c Check) Measured() string {
	s := formatUnit(c.Value, c.Unit)
	if !math.IsNaN(c.RoundMin) && !math.IsNaN(c.Value) {
		s += fmt.Sprintf(" (%.2f-%.2f)", c.RoundMin, c.RoundMax)
	}
	return s
}

// Bound formats Limit with its unit and direction.
func (c Check) Bound() string {
	if c.AtLeast {
		return ">= " + formatUnit(c.Limit, c.Unit)
	}
	return "<= " + formatUnit(c.Limit, c.Unit)
}

func formatUnit(v float64, unit string) string {
	if math.IsNaN(v) {
		return "-"
	}
	if unit == "x" {
		return fmt.Sprintf("%.2fx", v)
	}
	return fmt.Sprintf("%.1f %s", v, unit)
}

// TargetTitles are the goals of the performance issue, in words.
var TargetTitles = [...]string{
	1: "never slower than cp in any cell (disk, tmpfs, loop x every workload x every destination count), cvv -m transfer: wall <= 1.0x cp run once per destination, CPU seconds <= 1.0x cp, and <= 0.5x wherever several destinations are written",
	2: "at least 90% of the fio limit for the same mix (read the source device while writing N) for the streaming workloads (big file, image sequence)",
	3: "verification nearly free: cvv full <= 1.3x cvv transfer for trees (tree, image sequence) and <= 2.0x for a single file on separate devices; <= 0.5x cp + sync + drop caches + xxhsum of the source and every copy (where cp-xxhsum ran)",
	4: "a slow drive never holds up the card (throttle rig, --cascade): the source is released within 1.1x the time of the same run without the slow destination",
	5: "peak RSS <= 64 MiB in every cell",
}

// Evaluate checks the goals against the dataset. Checks whose cells were not
// measured are returned with Status NA, so that the report shows what was
// not covered instead of hiding it.
func (d *Dataset) Evaluate() []Check {
	var out []Check
	ratio := func(target int, what string, a, b Key, cpu bool, limit float64) Check {
		c := Check{Target: target, What: what, Scope: scope(a), Limit: limit, Unit: "x", RoundMin: math.NaN(), RoundMax: math.NaN()}
		f := func(c *Cell) []float64 { return c.Walls }
		if cpu {
			f = (*Cell).CPUs
		} else if rs := d.RoundRatios(a, b); len(rs) > 0 {
			c.RoundMin, c.RoundMax = rs[0], rs[len(rs)-1]
		}
		c.Value = d.ratio(a, b, f)
		if a.Workload != b.Workload || a.Dests != b.Dests || a.Target != b.Target {
			c.Scope = scope(a) + " vs " + scope(b)
		}
		d.verdict(&c, a, b)
		return c
	}
	// The matrix of goals 1 and 2: every planned transfer cell but the
	// throttle rig's (goal 4 is judged there).
	var matrix []Key
	for _, k := range d.PlannedKeys() {
		if k.Tool == ToolTransfer && k.Target != "throttle" {
			matrix = append(matrix, k)
		}
	}
	if len(matrix) == 0 {
		matrix = []Key{{Target: "disk", Workload: "big", Dests: 1, Tool: ToolTransfer}}
	}

	// 1. Never slower than cp, and lighter on the CPU.
	for _, k := range matrix {
		cp := k
		cp.Tool = ToolCp
		what, cpu := "cvv transfer / cp (wall)", 1.0
		if k.Dests > 1 {
			what, cpu = fmt.Sprintf("cvv transfer / cp x%d (wall)", k.Dests), 0.5
		}
		out = append(out,
			ratio(1, what, k, cp, false, 1.0),
			ratio(1, strings.Replace(what, "(wall)", "(CPU user+sys)", 1), k, cp, true, cpu))
	}
	// 2. The share of the fio limit, for the streaming workloads.
	for _, k := range matrix {
		if k.Workload == "tree" {
			continue // many small files: not the mix fio measures
		}
		out = append(out, d.fioCheck(k))
	}
	// 3. Full against transfer on separate devices, and against the script.
	for _, k := range d.PlannedKeys() {
		if k.Tool != ToolFull || !SeparateDevices(k.Target) || k.Target == "throttle" {
			continue
		}
		tr := k
		tr.Tool = ToolTransfer
		limit := 1.3
		if d.Workloads[k.Workload].Files == 1 {
			limit = 2.0
		}
		out = append(out, ratio(3, "cvv full / cvv transfer (wall)", k, tr, false, limit))
	}
	if !slices.ContainsFunc(out, func(c Check) bool { return c.Target == 3 }) {
		k := Key{Target: "loop", Workload: "tree", Dests: 1, Tool: ToolFull}
		tr := k
		tr.Tool = ToolTransfer
		out = append(out, ratio(3, "cvv full / cvv transfer (wall)", k, tr, false, 1.3))
	}
	if slices.Contains(d.Plan.Tools, ToolCpXxhsum) {
		for _, k := range d.PlannedKeys() {
			if k.Tool == ToolFull {
				base := k
				base.Tool = ToolCpXxhsum
				out = append(out, ratio(3, "cvv full / cp + sync + xxhsum (wall)", k, base, false, 0.5))
			}
		}
	}
	// 4. --cascade: the source is released as soon as without the slow
	// destination.
	for _, t := range d.Plan.Targets {
		o, ok := d.Plan.Only[t]
		if !ok || !slices.Contains(o.Tools, ToolCascade) {
			continue
		}
		for _, w := range o.Workloads {
			for _, n := range o.Dests {
				k := Key{Target: t, Workload: w, Dests: n, Tool: ToolCascade}
				base := k
				base.Tool = ToolNoSlow
				c := Check{Target: 4, What: "cvv --cascade / cvv without the slow destination (time to source_released)", Scope: scope(k),
					Limit: 1.10, Unit: "x", RoundMin: math.NaN(), RoundMax: math.NaN()}
				c.Value = d.ratio(k, base, func(c *Cell) []float64 { return c.Released })
				d.verdict(&c, k, base)
				out = append(out, c)
			}
		}
	}
	// 5. Peak RSS of every cvv contender over every cell.
	for _, tool := range []string{ToolTransfer, ToolFull, ToolFallback, ToolCascade, ToolNoSlow} {
		c := Check{Target: 5, What: tool + " peak RSS (largest over all cells)", Scope: "all", Limit: 64, Unit: "MiB",
			Value: math.NaN(), RoundMin: math.NaN(), RoundMax: math.NaN()}
		var where string
		runs, planned := math.MaxInt, false
		for _, k := range d.PlannedKeys() {
			if k.Tool != tool {
				continue
			}
			planned = true
			cell := d.Cell(k)
			if cell == nil {
				continue
			}
			runs = min(runs, len(cell.Walls))
			if v := cell.MaxRSSMiB(); !math.IsNaN(v) && (math.IsNaN(c.Value) || v > c.Value) {
				c.Value, where = v, scope(k)
			}
		}
		if !planned && tool != ToolTransfer {
			continue
		}
		switch {
		case math.IsNaN(c.Value):
			c.Status, c.Note = NA, "not measured"
		case c.Value <= c.Limit:
			c.Status = Pass
		default:
			c.Status = Miss
		}
		if where != "" {
			c.Scope = "all (max at " + where + ")"
			c.Note = runsNote(runs)
		}
		out = append(out, c)
	}
	return out
}

// fioCheck is goal 2 for the transfer cell k: its median MB/s as a share of
// the fio limit of its target and destination count.
func (d *Dataset) fioCheck(k Key) Check {
	c := Check{Target: 2, What: "cvv transfer MB/s / fio limit", Scope: scope(k), Limit: 0.90, Unit: "x", AtLeast: true,
		Value: math.NaN(), RoundMin: math.NaN(), RoundMax: math.NaN()}
	cell := d.Cell(k)
	lim := d.FIOLimit(k.Target, k.Dests)
	switch {
	case cell == nil:
		c.Status, c.Note = NA, "not measured: "+k.String()
		return c
	case math.IsNaN(lim) || lim <= 0:
		c.Status, c.Note = NA, "no fio baseline for "+k.Target
		return c
	}
	c.Value = d.row(cell).FIOFraction
	switch {
	case math.IsNaN(c.Value):
		c.Status, c.Note = NA, "no usable samples"
		return c
	case c.Value >= c.Limit:
		c.Status = Pass
	default:
		c.Status = Miss
	}
	c.Note = runsNote(len(cell.Walls))
	return c
}

// verdict fills Status and Note of c from the cells a and b.
func (d *Dataset) verdict(c *Check, a, b Key) {
	ca, cb := d.Cell(a), d.Cell(b)
	switch {
	case ca == nil || cb == nil:
		var miss []string
		if ca == nil {
			miss = append(miss, a.String())
		}
		if cb == nil {
			miss = append(miss, b.String())
		}
		c.Status, c.Note = NA, "not measured: "+strings.Join(miss, ", ")
		return
	case math.IsNaN(c.Value):
		c.Status, c.Note = NA, "no usable samples"
		return
	case c.Value <= c.Limit:
		c.Status = Pass
	default:
		c.Status = Miss
	}
	c.Note = runsNote(min(len(ca.Walls), len(cb.Walls)))
}

func runsNote(runs int) string {
	if runs < MinRunsForTargets {
		return fmt.Sprintf("n=%d runs (< %d): indicative only", runs, MinRunsForTargets)
	}
	return fmt.Sprintf("n=%d runs", runs)
}

func scope(k Key) string {
	return fmt.Sprintf("%s %s d%d", k.Target, k.Workload, k.Dests)
}
