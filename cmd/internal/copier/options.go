package copier

import (
	"context"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/cmd/internal/plan"
	"github.com/cvv-project/cvv/cmd/internal/ui"
	"github.com/cvv-project/cvv/hashing"
	"github.com/cvv-project/cvv/internal/atomicfile"
)

// OpenedEngine is the engine a run copies with.
type OpenedEngine struct {
	cvv.Engine
	// Opts are the options it was opened with; they replace
	// Options.EngineOpts for the run.
	Opts cvv.Options
	// Why says why --engine auto took it, for the report of how each
	// destination is written ("" when it took the default).
	Why string
	// Warning says why the engine asked for could not be had ("" when it
	// could).
	Warning string
}

// Options are what a copy is asked to do: the parsed flags of cvv SOURCE
// DEST..., and the few things the command line wires in.
type Options struct {
	// OpenEngine opens the engine the command line chose for a run whose
	// source and destinations are all held in memory (tmpfs) or not. The
	// run opens it once the plan is checked, and closes it.
	OpenEngine func(inMemory bool) (OpenedEngine, error)
	// Printer returns the printer the run reports through; the run calls
	// it once, after the plan is checked, and closes it.
	Printer func() ui.Output
	// Version is the version of cvv, for the transfer report.
	Version    string
	EngineOpts cvv.Options
	// Write forces a write path on every destination; cvv.WriteAuto
	// chooses per destination (plan.Plan.WritePaths).
	Write cvv.WritePath
	// Verbose prints how each destination is written.
	Verbose bool
	Jobs    int
	// BigJobs bounds the files larger than one block among the jobs in
	// flight (their blocks, not their latency, are what costs).
	BigJobs int
	// SyncWaiters is how many more jobs may be in flight, waiting for a
	// syncfs of their data without a place among Jobs (slots.go).
	SyncWaiters int
	NoFsync     bool
	NoPreserve  bool
	NoXattrs    bool // --no-xattrs
	Mode        plan.Level
	Alg         hashing.Algorithm
	VerifyAfter bool
	Ask         bool
	Quiet       bool
	JSON        bool
	Policy      plan.Policy
	OnConflict  OnConflict
	HashFiles   HashFiles
	// MkPath creates the missing parents of a destination too.
	MkPath bool
	// Wait waits for another run to release a destination.
	Wait bool
	// DryRun prints what would be done and writes nothing.
	DryRun bool
	// Report is the HTML report to write (--report), "" for none;
	// NoReport turns off the default one beside the manifests.
	Report   string
	NoReport bool
	// Excludes are left out of the walk and recorded in ASC MHL ignore
	// lists.
	Excludes *plan.Excludes
	// Shard is this process's part of a sharded job (--shard), the zero
	// Shard when the run is not sharded.
	Shard plan.Shard
	// Cascade are the destinations filled from verified copies once the
	// source is released (--cascade).
	Cascade []string
	// Seams are for tests; nil fields take the real operation.
	Seams Seams
}

// Seams let a test see or change one step of a run.
type Seams struct {
	// Copy runs one copy through the engine (eng.Copy).
	Copy func(ctx context.Context, eng cvv.Engine, job cvv.Job) (*cvv.Result, error)
	// SyncDir fsyncs a destination directory ((*atomicfile.Dir).Sync).
	SyncDir func(d *atomicfile.Dir) error
	// SyncFS syncs a destination's filesystem through its root, where a
	// tree copy makes names durable that way ((*atomicfile.Dir).SyncFS,
	// namesync.go).
	SyncFS func(root *atomicfile.Dir) error
	// DetectFS classifies a destination's filesystem (plan.DetectFS).
	DetectFS func(path string) (plan.DestFS, error)
}
