package command

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/cvv-project/cvv/cmd/internal/copier"
	"github.com/cvv-project/cvv/cmd/internal/plan"
	"github.com/cvv-project/cvv/cmd/internal/usage"
	"github.com/cvv-project/cvv/hashing"
	"github.com/cvv-project/cvv/hashing/manifest"
)

// parseOnConflict parses --on-conflict.
func parseOnConflict(s string) (copier.OnConflict, error) {
	switch strings.ToLower(s) {
	case "fail":
		return copier.ConflictFail, nil
	case "overwrite":
		return copier.ConflictOverwrite, nil
	case "rename":
		return copier.ConflictRename, nil
	}
	return 0, usage.Errorf("unknown --on-conflict %q (want fail, overwrite or rename)", s)
}

// pathList collects the values of a repeatable path flag as given.
type pathList struct{ paths []string }

// parseHashFileOptions parses --hash-file and --hash-file-dest.
func parseHashFileOptions(c *cli.Context, alg hashing.Algorithm) (copier.HashFiles, error) {
	var o copier.HashFiles
	switch strings.ToLower(c.String("hash-file-dest")) {
	case "dest":
		o.Dest = true
	case "source":
		o.Source = true
	case "both":
		o.Source, o.Dest = true, true
	default:
		return o, usage.Errorf("bad --hash-file-dest %q (want source, dest or both)", c.String("hash-file-dest"))
	}
	s := c.String("hash-file")
	if s == "" {
		return o, nil
	}
	fs, err := manifest.ParseFormats(s)
	if err != nil {
		return o, usage.Errorf("%v", err)
	}
	if err := manifest.CheckAlgorithm(fs, alg); err != nil {
		return o, usage.Errorf("%v", err)
	}
	o.Formats = fs
	return o, nil
}

// cascadeFlag is --cascade DEST (repeatable; a path may hold commas).
func cascadeFlag() cli.Flag {
	return &cli.GenericFlag{Name: "cascade", Value: &pathList{}, Usage: "also copy to `DEST`, after the other destinations, from their verified copies: the source is released first (repeatable)"}
}

// Set appends a value.
func (l *pathList) Set(s string) error {
	l.paths = append(l.paths, s)
	return nil
}

// String joins the values for the help text.
func (l *pathList) String() string {
	if l == nil {
		return ""
	}
	return fmt.Sprint(l.paths)
}

// parseCascade reads --cascade into o.Cascade.
func parseCascade(c *cli.Context, o *copier.Options) error {
	l, _ := c.Generic("cascade").(*pathList)
	if l == nil || len(l.paths) == 0 {
		return nil
	}
	o.Cascade = slices.Clone(l.paths)
	if o.Shard.Sharded() {
		return usage.Errorf("--cascade cannot go with --shard: each shard would release its part of the source at another time")
	}
	if o.HashFiles.Source {
		return usage.Errorf("--cascade releases the source before the end of the run: it cannot go with --hash-file-dest %s", map[bool]string{true: "both", false: "source"}[o.HashFiles.Dest])
	}
	return nil
}

// withCascade returns the destinations of a run: the operands, then the
// --cascade destinations.
func withCascade(o copier.Options, dests []string) ([]string, error) {
	if len(o.Cascade) > 0 && len(dests) == 0 {
		return nil, usage.Errorf("--cascade needs at least one other destination to fill it from")
	}
	return slices.Concat(dests, o.Cascade), nil
}

// shardEnv reads the environment for --shard auto; a seam for tests.
var shardEnv = os.Getenv

// shardFlags are --shard and --shard-count.
func shardFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "shard", Usage: "copy part `I/N` of the tree (0 <= I < N), one of N processes started together into the same destinations; auto reads I and N from Slurm, Kubernetes or MPI (see docs/USAGE.md)"},
		&cli.IntFlag{Name: "shard-count", Usage: "the number `N` of shards, for --shard auto under a scheduler that gives only the index (Kubernetes JOB_COMPLETION_INDEX); implies --shard auto"},
	}
}

// parseShard reads --shard and --shard-count; the zero Shard when the
// run is not sharded.
func parseShard(c *cli.Context, o *copier.Options) (plan.Shard, error) {
	spec, count := strings.TrimSpace(c.String("shard")), c.Int("shard-count")
	if spec == "" && !c.IsSet("shard-count") {
		return plan.Shard{}, nil
	}
	if c.IsSet("shard-count") && (count < 1 || count > plan.MaxShards) {
		return plan.Shard{}, usage.Errorf("bad --shard-count %d (want 1 to %d)", count, plan.MaxShards)
	}
	var s plan.Shard
	var err error
	if spec == "" || spec == "auto" {
		s, err = plan.ShardFromEnv(shardEnv, count)
	} else if s, err = plan.ParseShard(spec); err == nil && count != 0 && count != s.Count {
		err = usage.Errorf("--shard %s and --shard-count %d differ", spec, count)
	}
	if err != nil {
		return plan.Shard{}, err
	}
	switch {
	case o.HashFiles.Source:
		return s, usage.Errorf("--shard writes hash lists in the destinations only, not with --hash-file-dest %s", c.String("hash-file-dest"))
	case o.Ask:
		return s, usage.Errorf("--shard does not go with --ask (no shard can answer for the others)")
	}
	return s, nil
}
