package command

import (
	"math"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/cmd/internal/plan"
	"github.com/cvv-project/cvv/cmd/internal/usage"
	"github.com/cvv-project/cvv/hashing"
)

// VerifyMode is how much a copy is checked after it is written. It is the
// plan's Level: the record a verification leaves on a destination file
// (plan.Record) is on the same scale.
type VerifyMode = plan.Level

// The verification modes, weakest first.
const (
	// VerifyTransfer checks the destination sizes; the in-flight source
	// hash is still reported.
	VerifyTransfer = plan.LevelTransfer
	// VerifySource re-reads the source and compares its hash, size and
	// mtime with what the copy saw.
	VerifySource = plan.LevelSource
	// VerifyFull re-reads the source and every destination from the media,
	// in parallel, and compares every hash with the in-flight one.
	VerifyFull = plan.LevelFull
)

// ParseVerifyMode parses "transfer", "source" or "full".
func ParseVerifyMode(s string) (VerifyMode, error) {
	if m, ok := plan.ParseLevel(s); ok {
		return m, nil
	}
	return 0, usage.Errorf("unknown mode %q (want transfer, source or full)", s)
}

// ParseSize parses a byte count with an optional binary unit: 4096, 256K,
// 256KiB, 1M, 1MiB, 2G. Units are powers of 1024; case does not matter.
func ParseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(t, "B")
	t = strings.TrimSuffix(t, "I")
	mult := int64(1)
	if t != "" {
		switch t[len(t)-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		}
		if mult != 1 {
			t = t[:len(t)-1]
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64/mult {
		return 0, usage.Errorf("bad size %q (want a positive number with an optional K, M or G suffix, like 1M)", s)
	}
	return n * mult, nil
}

// The default concurrency. A tree of small files is bound by latency
// (open, fdatasync, rename per file), which more files in flight overlap:
// on the 2,001-file benchmark tree 16 beat 8 and 4 (see the commit that
// set it). Big files gain nothing from it and would hold more buffers and
// seek more, so no more than defaultBigJobs files larger than one block are
// copied at once unless --jobs is given.
const (
	defaultJobs    = 16
	defaultBigJobs = 4
)

// copyOptions are the parsed flags of a copy.
type copyOptions struct {
	engine     EngineKind
	engineOpts cvv.Options
	// write forces a write path on every destination; cvv.WriteAuto
	// chooses per destination (plan.Plan.WritePaths).
	write cvv.WritePath
	// verbose prints how each destination is written.
	verbose bool
	jobs    int
	// bigJobs bounds the files larger than one block among the jobs in
	// flight (their blocks, not their latency, are what costs).
	bigJobs     int
	noFsync     bool
	noPreserve  bool
	noXattrs    bool // --no-xattrs
	mode        VerifyMode
	alg         hashing.Algorithm
	verifyAfter bool
	ask         bool
	quiet       bool
	json        bool
	policy      plan.Policy
	onConflict  onConflict
	hashFiles   hashFileOptions
	// mkpath creates the missing parents of a destination too.
	mkpath bool
	// wait waits for another run to release a destination.
	wait bool
	// dryRun prints what would be done and writes nothing.
	dryRun bool
	// report is the HTML report to write (--report), "" for none;
	// noReport turns off the default one beside the manifests.
	report   string
	noReport bool
	// excludes are left out of the walk and recorded in ASC MHL ignore
	// lists.
	excludes *plan.Excludes
	// shard is this process's part of a sharded job (--shard), the zero
	// Shard when the run is not sharded.
	shard plan.Shard
	// cascade are the destinations filled from verified copies once the
	// source is released (--cascade).
	cascade []string
}

// parseCopyOptions reads and checks the flags; every error wraps
// usage.ErrUsage.
func parseCopyOptions(c *cli.Context) (copyOptions, error) {
	var o copyOptions
	var err error
	if o.engine, err = parseEngine(c); err != nil {
		return o, err
	}
	if o.write, err = parseWritePath(c.String("write")); err != nil {
		return o, usage.Errorf("unknown --write %q (want auto, direct or buffered)", c.String("write"))
	}
	o.verbose = c.Bool("verbose")
	if o.engineOpts.BlockSize, err = parseBlockSize(c); err != nil {
		return o, err
	}
	o.engineOpts.QueueDepth = c.Int("queue-depth")
	if o.engineOpts.QueueDepth < 1 || o.engineOpts.QueueDepth > 4096 {
		return o, usage.Errorf("bad queue depth %d (want 1 to 4096)", o.engineOpts.QueueDepth)
	}
	if o.jobs, err = parseJobs(c); err != nil {
		return o, err
	}
	o.bigJobs = o.jobs
	if !c.IsSet("jobs") {
		o.bigJobs = min(o.jobs, defaultBigJobs)
	}
	if o.mode, err = ParseVerifyMode(c.String("mode")); err != nil {
		return o, err
	}
	if o.alg, err = parseHash(c.String("hash")); err != nil {
		return o, err
	}
	o.noFsync = c.Bool("no-fsync")
	o.noPreserve = c.Bool("no-preserve")
	o.noXattrs = c.Bool("no-xattrs")
	o.verifyAfter = c.Bool("verify-after")
	o.ask = c.Bool("ask")
	if o.ask && !o.verifyAfter {
		return o, usage.Errorf("--ask needs --verify-after")
	}
	if (o.ask || o.verifyAfter) && o.mode == VerifyTransfer {
		return o, usage.Errorf("--verify-after and --ask need --mode source or full")
	}
	o.mkpath = c.Bool("mkpath")
	o.wait = c.Bool("wait")
	o.dryRun = c.Bool("dry-run")
	if o.dryRun && c.Bool("json") {
		return o, usage.Errorf("--dry-run prints text only, not --json")
	}
	o.quiet = c.Bool("quiet")
	o.json = c.Bool("json")
	o.policy = plan.Policy{Overwrite: c.Bool("overwrite"), VerifyExisting: c.Bool("verify-existing"), Level: o.mode, Alg: o.alg.String()}
	if o.policy.Overwrite && o.policy.VerifyExisting {
		return o, usage.Errorf("--overwrite and --verify-existing exclude each other")
	}
	if o.onConflict, err = parseOnConflict(c.String("on-conflict")); err != nil {
		return o, err
	}
	if o.policy.Overwrite {
		if c.IsSet("on-conflict") && o.onConflict != conflictOverwrite {
			return o, usage.Errorf("--overwrite replaces what differs: it cannot go with --on-conflict %s", o.onConflict)
		}
		o.onConflict = conflictOverwrite
	}
	if o.hashFiles, err = parseHashFileOptions(c, o.alg); err != nil {
		return o, err
	}
	o.report = c.String("report")
	o.noReport = c.Bool("no-report")
	if o.excludes, err = parseExcludes(c); err != nil {
		return o, err
	}
	if o.shard, err = parseShard(c, &o); err != nil {
		return o, err
	}
	if err := parseCascade(c, &o); err != nil {
		return o, err
	}
	return o, nil
}
