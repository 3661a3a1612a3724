// Package report turns the raw files a benchmark run leaves behind
// (hyperfine JSON exports, rusage records, fio JSON output, workload stats and
// the run plan) into the published tables: per-cell throughput, CPU and
// memory figures, time ratios against cp and rsync, the performance targets
// evaluated as PASS or MISS, a CSV, a Markdown report and a chart.
//
// It only reads measurements; it never runs anything and never decides a
// number on its own: a figure that was not measured is reported as missing.
//
// Layout of a raw directory, as scripts/bench.sh writes it:
//
//	plan.json                                 the Plan
//	machine.txt                               free-form machine description
//	workloads/<workload>.json                 a Workload
//	<target>/fio-read.json, fio-write.json    fio --output-format=json
//	<target>/fio-mix-d<N>.json                fio reading the source while writing N
//	<target>/<workload>/d<N>/<tool>/*.json    hyperfine --export-json files
//	<target>/<workload>/d<N>/<tool>/rusage.jsonl  one Usage per line
package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Plan is what a run meant to measure; plan.json in the raw directory.
type Plan struct {
	// Profile is the name of the profile (smoke, short, full, sweep).
	Profile string `json:"profile"`
	// Runs is the number of interleaved rounds per cell.
	Runs int `json:"runs"`
	// Targets are the storage targets (disk, tmpfs, loop).
	Targets []string `json:"targets"`
	// Workloads are the workload names (big, tree).
	Workloads []string `json:"workloads"`
	// Dests are the destination counts.
	Dests []int `json:"dests"`
	// Tools are the contender names (cvv-transfer, cp, ...).
	Tools []string `json:"tools"`
	// Started is when the run began, as the script printed it.
	Started string `json:"started"`
	// Only narrows the cells of some targets: the throttle rig measures
	// only some workloads, with 3 destinations.
	Only map[string]Scope `json:"only,omitempty"`
}

// Scope is the workloads and destination counts measured on one target,
// and the contenders measured there besides the plan's (the throttle rig:
// cvv --cascade and the same run without the slow destination).
type Scope struct {
	Workloads []string `json:"workloads"`
	Dests     []int    `json:"dests"`
	Tools     []string `json:"tools,omitempty"`
}

// Workload describes a generated source; written by genworkload -stats.
type Workload struct {
	// Name is "big" or "tree".
	Name string `json:"name"`
	// Bytes is the total size of the regular files.
	Bytes int64 `json:"bytes"`
	// Files is the number of regular files.
	Files int `json:"files"`
	// Dirs is the number of directories below the root.
	Dirs int `json:"dirs"`
	// Seed is the generator seed.
	Seed uint64 `json:"seed"`
}

// Usage is one rusage record of a timed command, as bench/cmd/rusage appends
// it: the resources of the command and every descendant it waited for.
type Usage struct {
	// Label names the measurement (free form).
	Label string `json:"label,omitempty"`
	// Wall is the elapsed time in seconds.
	Wall float64 `json:"wall_s"`
	// User and Sys are CPU seconds.
	User float64 `json:"user_s"`
	Sys  float64 `json:"sys_s"`
	// MaxRSSKiB is the peak resident set of the largest process, in KiB.
	MaxRSSKiB int64 `json:"maxrss_kib"`
	// Exit is the exit status (-1 if killed by a signal).
	Exit int `json:"exit"`
}

// Key identifies one cell of the matrix.
type Key struct {
	Target   string
	Workload string
	Dests    int
	Tool     string
}

func (k Key) String() string {
	return fmt.Sprintf("%s/%s/d%d/%s", k.Target, k.Workload, k.Dests, k.Tool)
}

// Cell holds every sample of one cell.
type Cell struct {
	Key
	// Walls are the wall times in seconds from hyperfine, one per run.
	Walls []float64
	// RoundWalls maps the round number of a hyperfine file named
	// run<N>.json to its wall time, for pairing contenders round by round.
	RoundWalls map[int]float64
	// Usages are the rusage records, one per run.
	Usages []Usage
	// HyperfineCPU are user+sys seconds per run as hyperfine measured them;
	// used when no rusage record exists.
	HyperfineCPU []float64
	// Failed counts runs that exited non-zero.
	Failed int
	// Released are the times (seconds after the start) at which cvv
	// released the source, from the source_released events of the runs
	// (events.jsonl, written by the contenders that print --json).
	Released []float64
	// WritePaths says how cvv wrote each destination, in order (direct,
	// buffered, pwrite), from the writes of a start event (start.jsonl,
	// recorded by an untimed run, or events.jsonl); nil when unknown.
	WritePaths []string
}

// FIO is the fio baseline of one target, in bytes per second.
type FIO struct {
	// Read is the sequential read bandwidth (sum over jobs).
	Read float64
	// WriteJobs are the sequential write bandwidths per job (one job per
	// destination device on separate-device targets).
	WriteJobs []float64
	// Mix maps a destination count N to the bandwidth of the slowest job
	// of a fio run that read the source device while writing to N
	// destinations at once, the median over such runs: the limit of a
	// copy to N destinations.
	Mix map[int]float64
	// Engine and Direct record how fio ran (the script falls back when
	// io_uring or O_DIRECT is refused and says so).
	Engine string
	Direct bool
}

// WriteMin is the slowest job's write bandwidth, 0 without jobs.
func (f FIO) WriteMin() float64 {
	if len(f.WriteJobs) == 0 {
		return 0
	}
	m := f.WriteJobs[0]
	for _, v := range f.WriteJobs[1:] {
		m = min(m, v)
	}
	return m
}

// Dataset is everything loaded from one raw directory.
type Dataset struct {
	Plan      Plan
	Machine   string
	Workloads map[string]Workload
	Cells     map[Key]*Cell
	FIO       map[string]FIO
}

// Cell returns the cell for k, nil if it has no samples.
func (d *Dataset) Cell(k Key) *Cell {
	c := d.Cells[k]
	if c == nil || len(c.Walls) == 0 {
		return nil
	}
	return c
}

// Load reads a raw directory.
func Load(dir string) (*Dataset, error) {
	d := &Dataset{
		Workloads: map[string]Workload{},
		Cells:     map[Key]*Cell{},
		FIO:       map[string]FIO{},
	}
	if err := readJSON(filepath.Join(dir, "plan.json"), &d.Plan); err != nil {
		return nil, err
	}
	if b, err := os.ReadFile(filepath.Join(dir, "machine.txt")); err == nil {
		d.Machine = strings.TrimSpace(string(b))
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	for _, w := range d.Plan.Workloads {
		var wl Workload
		if err := readJSON(filepath.Join(dir, "workloads", w+".json"), &wl); err != nil {
			return nil, err
		}
		if wl.Bytes <= 0 {
			return nil, fmt.Errorf("workload %s: size %d", w, wl.Bytes)
		}
		d.Workloads[w] = wl
	}
	for _, t := range d.Plan.Targets {
		f, ok, err := loadFIO(filepath.Join(dir, t))
		if err != nil {
			return nil, err
		}
		if ok {
			d.FIO[t] = f
		}
		if err := d.loadTarget(dir, t); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// loadTarget reads every cell directory below dir/target.
func (d *Dataset) loadTarget(dir, target string) error {
	root := filepath.Join(dir, target)
	wls, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, wl := range wls {
		if !wl.IsDir() {
			continue
		}
		dds, err := os.ReadDir(filepath.Join(root, wl.Name()))
		if err != nil {
			return err
		}
		for _, dd := range dds {
			n, err := strconv.Atoi(strings.TrimPrefix(dd.Name(), "d"))
			if !dd.IsDir() || !strings.HasPrefix(dd.Name(), "d") || err != nil {
				continue
			}
			tools, err := os.ReadDir(filepath.Join(root, wl.Name(), dd.Name()))
			if err != nil {
				return err
			}
			for _, tl := range tools {
				if !tl.IsDir() {
					continue
				}
				k := Key{Target: target, Workload: wl.Name(), Dests: n, Tool: tl.Name()}
				c, err := loadCell(filepath.Join(root, wl.Name(), dd.Name(), tl.Name()), k)
				if err != nil {
					return err
				}
				d.Cells[k] = c
			}
		}
	}
	return nil
}

// hyperfineExport is the part of hyperfine's --export-json output we use.
type hyperfineExport struct {
	Results []struct {
		Command   string    `json:"command"`
		Times     []float64 `json:"times"`
		User      float64   `json:"user"`
		System    float64   `json:"system"`
		ExitCodes []*int    `json:"exit_codes"`
	} `json:"results"`
}

func loadCell(dir string, k Key) (*Cell, error) {
	c := &Cell{Key: k, RoundWalls: map[int]float64{}}
	// hyperfine and rusage both see a failed run: count it once.
	var hfFailed, ruFailed int
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		switch {
		case e.Name() == "events.jsonl":
			rs, err := parseReleased(p)
			if err != nil {
				return nil, err
			}
			c.Released = append(c.Released, rs...)
			if c.WritePaths == nil {
				if c.WritePaths, err = parseWritePaths(p); err != nil {
					return nil, err
				}
			}
		case e.Name() == "start.jsonl":
			ws, err := parseWritePaths(p)
			if err != nil {
				return nil, err
			}
			c.WritePaths = ws
		case e.Name() == "rusage.jsonl":
			us, err := ParseUsages(p)
			if err != nil {
				return nil, err
			}
			c.Usages = append(c.Usages, us...)
		case strings.HasSuffix(e.Name(), ".json"):
			var h hyperfineExport
			if err := readJSON(p, &h); err != nil {
				return nil, err
			}
			for _, r := range h.Results {
				c.Walls = append(c.Walls, r.Times...)
				if n, ok := roundOf(e.Name()); ok && len(r.Times) == 1 {
					c.RoundWalls[n] = r.Times[0]
				}
				for range r.Times {
					c.HyperfineCPU = append(c.HyperfineCPU, r.User+r.System)
				}
				for _, ec := range r.ExitCodes {
					if ec == nil || *ec != 0 {
						hfFailed++
					}
				}
			}
		}
	}
	for _, u := range c.Usages {
		if u.Exit != 0 {
			ruFailed++
		}
	}
	c.Failed = max(hfFailed, ruFailed)
	return c, nil
}

// parseReleased reads the seconds of every source_released event of a cvv
// --json event stream.
func parseReleased(path string) ([]float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []float64
	for _, line := range bytes.Split(b, []byte("\n")) {
		if !bytes.Contains(line, []byte(`"event":"source_released"`)) {
			continue
		}
		var ev struct {
			Seconds *float64 `json:"seconds"`
		}
		if err := json.Unmarshal(line, &ev); err != nil || ev.Seconds == nil {
			return nil, fmt.Errorf("%s: bad source_released event %q", path, line)
		}
		out = append(out, *ev.Seconds)
	}
	return out, nil
}

// parseWritePaths reads the write path of every destination from the first
// start event of a cvv --json event stream; nil if there is none.
func parseWritePaths(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if !bytes.Contains(line, []byte(`"event":"start"`)) {
			continue
		}
		var ev struct {
			Writes []struct {
				Path string `json:"path"`
			} `json:"writes"`
		}
		if err := json.Unmarshal(line, &ev); err != nil {
			return nil, fmt.Errorf("%s: bad start event %q: %w", path, line, err)
		}
		out := make([]string, len(ev.Writes))
		for i, w := range ev.Writes {
			out[i] = w.Path
		}
		return out, nil
	}
	return nil, nil
}

// roundOf parses the round number of a file named run<N>.json.
func roundOf(name string) (int, bool) {
	num, ok := strings.CutPrefix(strings.TrimSuffix(name, ".json"), "run")
	if !ok || !strings.HasSuffix(name, ".json") {
		return 0, false
	}
	n, err := strconv.Atoi(num)
	return n, err == nil
}

// ParseUsages reads a rusage.jsonl file.
func ParseUsages(path string) ([]Usage, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var us []Usage
	sc := bufio.NewScanner(bytes.NewReader(b))
	for line := 1; sc.Scan(); line++ {
		t := bytes.TrimSpace(sc.Bytes())
		if len(t) == 0 {
			continue
		}
		var u Usage
		if err := json.Unmarshal(t, &u); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		us = append(us, u)
	}
	return us, sc.Err()
}

// fioOutput is the part of fio's JSON output we use.
type fioOutput struct {
	Jobs []struct {
		Name    string `json:"jobname"`
		Options struct {
			IOEngine string `json:"ioengine"`
			Direct   string `json:"direct"`
		} `json:"job options"`
		Read struct {
			BWBytes float64 `json:"bw_bytes"`
		} `json:"read"`
		Write struct {
			BWBytes float64 `json:"bw_bytes"`
		} `json:"write"`
	} `json:"jobs"`
	GlobalOptions struct {
		IOEngine string `json:"ioengine"`
		Direct   string `json:"direct"`
	} `json:"global options"`
}

// loadFIO reads dir/fio-read.json and dir/fio-write.json; ok is false when
// neither exists.
func loadFIO(dir string) (f FIO, ok bool, err error) {
	var rd, wr fioOutput
	rerr := readFIOJSON(filepath.Join(dir, "fio-read.json"), &rd)
	werr := readFIOJSON(filepath.Join(dir, "fio-write.json"), &wr)
	if errors.Is(rerr, fs.ErrNotExist) && errors.Is(werr, fs.ErrNotExist) {
		return FIO{}, false, nil
	}
	if rerr != nil {
		return FIO{}, false, rerr
	}
	if werr != nil {
		return FIO{}, false, werr
	}
	for _, j := range rd.Jobs {
		f.Read += j.Read.BWBytes
	}
	for _, j := range wr.Jobs {
		f.WriteJobs = append(f.WriteJobs, j.Write.BWBytes)
	}
	f.Engine, f.Direct = rd.GlobalOptions.IOEngine, rd.GlobalOptions.Direct == "1"
	if len(rd.Jobs) > 0 && rd.Jobs[0].Options.IOEngine != "" {
		f.Engine = rd.Jobs[0].Options.IOEngine
		f.Direct = rd.Jobs[0].Options.Direct == "1"
	}
	f.Mix, err = loadFIOMix(dir)
	return f, true, err
}

// loadFIOMix reads every dir/fio-mix-d<N>.json and its repeats
// fio-mix-d<N>.<k>.json: one read job and N write jobs that ran at once.
// The limit of one run is its slowest job; the limit for N is the median
// over the runs (a single mix of a second or less moved by 30% within a
// morning on the disk, and by 3x on tmpfs).
func loadFIOMix(dir string) (map[int]float64, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "fio-mix-d*.json"))
	if err != nil || len(paths) == 0 {
		return nil, err
	}
	runs := map[int][]float64{}
	for _, p := range paths {
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), "fio-mix-d"), ".json")
		if i := strings.IndexByte(name, '.'); i >= 0 {
			if _, err := strconv.Atoi(name[i+1:]); err != nil {
				continue
			}
			name = name[:i]
		}
		n, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		var out fioOutput
		if err := readFIOJSON(p, &out); err != nil {
			return nil, err
		}
		lim := math.Inf(1)
		for _, j := range out.Jobs {
			lim = min(lim, j.Read.BWBytes+j.Write.BWBytes)
		}
		if len(out.Jobs) > 0 && lim > 0 {
			runs[n] = append(runs[n], lim)
		}
	}
	mix := map[int]float64{}
	for n, lims := range runs {
		mix[n] = Median(lims)
	}
	return mix, nil
}

// readFIOJSON parses fio's JSON output, which some fio versions precede with
// informational lines ("note: both iodepth >= 1 and synchronous I/O engine").
func readFIOJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if i := bytes.IndexByte(b, '{'); i > 0 {
		b = b[i:]
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// Check reports every planned cell that has fewer than Plan.Runs samples or
// a failed run, and every cvv cell without a rusage record. A nil error means
// the run is complete.
func (d *Dataset) Check() error {
	var probs []string
	for _, k := range d.PlannedKeys() {
		c := d.Cells[k]
		switch {
		case c == nil || len(c.Walls) == 0:
			probs = append(probs, k.String()+": no measurement")
			continue
		case len(c.Walls) < d.Plan.Runs:
			probs = append(probs, fmt.Sprintf("%s: %d of %d runs", k, len(c.Walls), d.Plan.Runs))
		}
		if c.Failed > 0 {
			probs = append(probs, fmt.Sprintf("%s: %d failed run(s)", k, c.Failed))
		}
		if len(c.Usages) == 0 {
			probs = append(probs, k.String()+": no rusage record")
		}
	}
	if len(probs) > 0 {
		sort.Strings(probs)
		return fmt.Errorf("incomplete benchmark run:\n  %s", strings.Join(probs, "\n  "))
	}
	return nil
}

// PlannedKeys lists every cell of the plan, in plan order.
func (d *Dataset) PlannedKeys() []Key {
	var ks []Key
	for _, t := range d.Plan.Targets {
		wls, dests, tools := d.Plan.Workloads, d.Plan.Dests, d.Plan.Tools
		if o, ok := d.Plan.Only[t]; ok {
			wls, dests, tools = o.Workloads, o.Dests, append(slices.Clone(tools), o.Tools...)
		}
		for _, w := range wls {
			for _, n := range dests {
				for _, tool := range tools {
					ks = append(ks, Key{Target: t, Workload: w, Dests: n, Tool: tool})
				}
			}
		}
	}
	return ks
}
