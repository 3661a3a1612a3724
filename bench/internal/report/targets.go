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
	// Target is the number of the target (1-6) in the issue.
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

// Bound formats Limit with its unit.
func (c Check) Bound() string { return "<= " + formatUnit(c.Limit, c.Unit) }

func formatUnit(v float64, unit string) string {
	if math.IsNaN(v) {
		return "-"
	}
	if unit == "x" {
		return fmt.Sprintf("%.2fx", v)
	}
	return fmt.Sprintf("%.1f %s", v, unit)
}

// TargetTitles are the six targets of the issue, in words.
var TargetTitles = [...]string{
	1: "big file to 3 destinations on separate devices: cvv transfer <= 0.40x cp x3, and within 10% of its own 1-destination time",
	2: "big file to 1 destination: cvv wall <= 1.0x cp, CPU seconds <= 0.5x cp",
	3: "tree to 1 destination: cvv wall <= 1.0x cp; to 3 destinations <= 0.5x cp x3",
	4: "full mode wall <= 1.3x transfer on separate devices",
	5: "peak RSS <= 64 MiB for every workload",
	6: "fallback engine within 25% of the uring engine on the single-device target",
	7: "one slow destination (throttle rig, --cascade): the source is released within 1.1x the time of the same run without it",
	8: "cvv full <= 0.5x cp + sync + drop caches + xxhsum of the source and every copy",
}

// Evaluate checks the six targets against the dataset. Checks whose cells
// were not measured are returned with Status NA, so that the report shows
// what was not covered instead of hiding it.
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
	sep, single := d.targetsWhere(true), d.targetsWhere(false)

	// 1. big, 3 destinations, separate devices.
	for _, t := range orNA(sep, "loop") {
		k3 := Key{Target: t, Workload: "big", Dests: 3, Tool: ToolTransfer}
		out = append(out,
			ratio(1, "cvv transfer / cp x3 (wall)", k3, Key{Target: t, Workload: "big", Dests: 3, Tool: ToolCp}, false, 0.40),
			ratio(1, "cvv transfer 3 dest / 1 dest (wall)", k3, Key{Target: t, Workload: "big", Dests: 1, Tool: ToolTransfer}, false, 1.10))
	}
	// 2 and 3: every target measured.
	for _, t := range d.Plan.Targets {
		k := Key{Target: t, Workload: "big", Dests: 1, Tool: ToolTransfer}
		cp := Key{Target: t, Workload: "big", Dests: 1, Tool: ToolCp}
		out = append(out,
			ratio(2, "cvv transfer / cp (wall)", k, cp, false, 1.0),
			ratio(2, "cvv transfer / cp (CPU user+sys)", k, cp, true, 0.5))
	}
	for _, t := range d.Plan.Targets {
		for _, n := range []int{1, 3} {
			k := Key{Target: t, Workload: "tree", Dests: n, Tool: ToolTransfer}
			cp := k
			cp.Tool = ToolCp
			limit, what := 1.0, "cvv transfer / cp (wall)"
			if n == 3 {
				limit, what = 0.5, "cvv transfer / cp x3 (wall)"
			}
			out = append(out, ratio(3, what, k, cp, false, limit))
		}
	}
	// 4. full vs transfer on separate devices, every workload and count.
	for _, t := range orNA(sep, "loop") {
		for _, w := range d.Plan.Workloads {
			for _, n := range d.Plan.Dests {
				k := Key{Target: t, Workload: w, Dests: n, Tool: ToolFull}
				tr := k
				tr.Tool = ToolTransfer
				out = append(out, ratio(4, "cvv full / cvv transfer (wall)", k, tr, false, 1.3))
			}
		}
	}
	// 5. peak RSS of every cvv contender over every cell.
	for _, tool := range []string{ToolTransfer, ToolFull, ToolFallback} {
		c := Check{Target: 5, What: tool + " peak RSS (largest over all cells)", Scope: "all", Limit: 64, Unit: "MiB",
			Value: math.NaN(), RoundMin: math.NaN(), RoundMax: math.NaN()}
		var where string
		runs := math.MaxInt
		for _, k := range d.PlannedKeys() {
			cell := d.Cell(k)
			if k.Tool != tool || cell == nil {
				continue
			}
			runs = min(runs, len(cell.Walls))
			if v := cell.MaxRSSMiB(); !math.IsNaN(v) && (math.IsNaN(c.Value) || v > c.Value) {
				c.Value, where = v, scope(k)
			}
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
	// 6. fallback vs uring on the single-device target.
	for _, t := range orNA(single, "disk") {
		if t == "tmpfs" && len(single) > 1 {
			continue // not a device; disk is the single-device target
		}
		for _, w := range d.Plan.Workloads {
			for _, n := range d.Plan.Dests {
				k := Key{Target: t, Workload: w, Dests: n, Tool: ToolFallback}
				tr := k
				tr.Tool = ToolTransfer
				out = append(out, ratio(6, "cvv fallback / cvv transfer (wall)", k, tr, false, 1.25))
			}
		}
	}
	// 7. --cascade: the source is released as soon as without the slow
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
				c := Check{Target: 7, What: "cvv --cascade / cvv without the slow destination (time to source_released)", Scope: scope(k),
					Limit: 1.10, Unit: "x", RoundMin: math.NaN(), RoundMax: math.NaN()}
				c.Value = d.ratio(k, base, func(c *Cell) []float64 { return c.Released })
				d.verdict(&c, k, base)
				out = append(out, c)
			}
		}
	}
	// 8. full mode against the scripted cp + xxhsum, where it was run.
	if slices.Contains(d.Plan.Tools, ToolCpXxhsum) {
		for _, k := range d.PlannedKeys() {
			if k.Tool == ToolFull {
				base := k
				base.Tool = ToolCpXxhsum
				out = append(out, ratio(8, "cvv full / cp + sync + xxhsum (wall)", k, base, false, 0.5))
			}
		}
	}
	return out
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

// targetsWhere lists the plan's targets that do (or do not) give each
// destination its own device.
func (d *Dataset) targetsWhere(separate bool) []string {
	var ts []string
	for _, t := range d.Plan.Targets {
		if SeparateDevices(t) == separate {
			ts = append(ts, t)
		}
	}
	return ts
}

// orNA returns ts, or the single name def when ts is empty so that the check
// appears in the report as N/A.
func orNA(ts []string, def string) []string {
	if len(ts) == 0 {
		return []string{def}
	}
	return ts
}

func scope(k Key) string {
	return fmt.Sprintf("%s %s d%d", k.Target, k.Workload, k.Dests)
}
