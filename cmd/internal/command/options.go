package command

import (
	"math"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/cvv-project/cvv/cmd/internal/copier"
	"github.com/cvv-project/cvv/cmd/internal/plan"
	"github.com/cvv-project/cvv/cmd/internal/usage"
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
// copied at once unless --jobs is given. Nor more than defaultJobs
// files copy at once, but up to defaultSyncWaiters more may wait for the
// syncfs that makes their data durable, where one syncfs commits every
// file waiting (copier slots.go): 2,000 files of 4 KiB with 16 files in
// flight made 1,082 syncfs calls. An explicit --jobs is the number of
// files in flight, all told.
const (
	defaultJobs        = 16
	defaultBigJobs     = 4
	defaultSyncWaiters = 7 * defaultJobs
)

// parseCopyOptions reads and checks the flags; every error wraps
// usage.ErrUsage.
func parseCopyOptions(c *cli.Context) (copier.Options, error) {
	var o copier.Options
	kind, err := parseEngine(c)
	if err != nil {
		return o, err
	}
	if o.Write, err = parseWritePath(c.String("write")); err != nil {
		return o, usage.Errorf("unknown --write %q (want auto, direct or buffered)", c.String("write"))
	}
	o.Verbose = c.Bool("verbose")
	if o.EngineOpts.BlockSize, err = parseBlockSize(c); err != nil {
		return o, err
	}
	o.EngineOpts.QueueDepth = c.Int("queue-depth")
	if o.EngineOpts.QueueDepth < 1 || o.EngineOpts.QueueDepth > 4096 {
		return o, usage.Errorf("bad queue depth %d (want 1 to 4096)", o.EngineOpts.QueueDepth)
	}
	if o.Jobs, err = parseJobs(c); err != nil {
		return o, err
	}
	o.BigJobs = o.Jobs
	if !c.IsSet("jobs") {
		o.BigJobs = min(o.Jobs, defaultBigJobs)
		o.SyncWaiters = defaultSyncWaiters
	}
	if o.Mode, err = ParseVerifyMode(c.String("mode")); err != nil {
		return o, err
	}
	if o.Alg, err = parseHash(c.String("hash")); err != nil {
		return o, err
	}
	o.NoFsync = c.Bool("no-fsync")
	o.NoPreserve = c.Bool("no-preserve")
	o.NoXattrs = c.Bool("no-xattrs")
	o.VerifyAfter = c.Bool("verify-after")
	o.Ask = c.Bool("ask")
	if o.Ask && !o.VerifyAfter {
		return o, usage.Errorf("--ask needs --verify-after")
	}
	if (o.Ask || o.VerifyAfter) && o.Mode == VerifyTransfer {
		return o, usage.Errorf("--verify-after and --ask need --mode source or full")
	}
	o.MkPath = c.Bool("mkpath")
	o.Wait = c.Bool("wait")
	o.DryRun = c.Bool("dry-run")
	if o.DryRun && c.Bool("json") {
		return o, usage.Errorf("--dry-run prints text only, not --json")
	}
	o.Quiet = c.Bool("quiet")
	o.JSON = c.Bool("json")
	o.Policy = plan.Policy{Overwrite: c.Bool("overwrite"), VerifyExisting: c.Bool("verify-existing"), Level: o.Mode, Alg: o.Alg.String()}
	if o.Policy.Overwrite && o.Policy.VerifyExisting {
		return o, usage.Errorf("--overwrite and --verify-existing exclude each other")
	}
	if o.OnConflict, err = parseOnConflict(c.String("on-conflict")); err != nil {
		return o, err
	}
	if o.Policy.Overwrite {
		if c.IsSet("on-conflict") && o.OnConflict != copier.ConflictOverwrite {
			return o, usage.Errorf("--overwrite replaces what differs: it cannot go with --on-conflict %s", o.OnConflict)
		}
		o.OnConflict = copier.ConflictOverwrite
	}
	if o.HashFiles, err = parseHashFileOptions(c, o.Alg); err != nil {
		return o, err
	}
	o.Report = c.String("report")
	o.NoReport = c.Bool("no-report")
	if o.Excludes, err = parseExcludes(c); err != nil {
		return o, err
	}
	if o.Shard, err = parseShard(c, &o); err != nil {
		return o, err
	}
	if err := parseCascade(c, &o); err != nil {
		return o, err
	}
	o.Version, _ = buildVersion()
	blockSet := c.IsSet("block-size")
	o.OpenEngine = func(inMemory bool) (copier.OpenedEngine, error) {
		return openAutoEngine(kind, o.EngineOpts, blockSet, inMemory)
	}
	return o, nil
}
