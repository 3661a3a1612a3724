package command

import (
	"slices"

	"github.com/urfave/cli/v2"

	"github.com/cvv-project/cvv/cmd/internal/usage"
	"github.com/cvv-project/cvv/hashing"
)

// The flags copy, verify and hash share are parsed here, once, with one set
// of messages: a command reads them through these functions, never with
// its own check.

// readEngineFlag is --engine of the commands that only read (verify, hash).
func readEngineFlag() cli.Flag {
	return &cli.StringFlag{Name: "engine", Value: "auto", Usage: "read engine: `auto` (io_uring when available, the portable engine on tmpfs), uring or fallback"}
}

// readJobsFlag is --jobs of the commands that only read (verify, hash).
func readJobsFlag() cli.Flag {
	return &cli.IntFlag{Name: "jobs", Aliases: []string{"j"}, Value: 4, Usage: "files read at once"}
}

// parseEngine reads --engine.
func parseEngine(c *cli.Context) (EngineKind, error) {
	kind, err := ParseEngineKind(c.String("engine"))
	if err != nil {
		return kind, usage.Errorf("unknown engine %q (want auto, uring or fallback)", c.String("engine"))
	}
	return kind, nil
}

// parseJobs reads --jobs: 1 to 1024 files in flight.
func parseJobs(c *cli.Context) (int, error) {
	jobs := c.Int("jobs")
	if jobs < 1 || jobs > 1024 {
		return 0, usage.Errorf("bad --jobs %d (want 1 to 1024)", jobs)
	}
	return jobs, nil
}

// parseHash parses the value of --hash.
func parseHash(s string) (hashing.Algorithm, error) {
	alg, err := hashing.Parse(s)
	if err != nil {
		return alg, usage.Errorf("unknown hash %q (want xxh3, xxh64, xxh128, md5, sha1, sha256 or xxh32)", s)
	}
	return alg, nil
}

// parseBlockSize reads --block-size: a size (see ParseSize) of at most 1G.
func parseBlockSize(c *cli.Context) (int, error) {
	bs, err := ParseSize(c.String("block-size"))
	if err != nil {
		return 0, err
	}
	if bs > 1<<30 {
		return 0, usage.Errorf("block size %s is too large (at most 1G)", c.String("block-size"))
	}
	return int(bs), nil
}

// readFlags are the flags of a command that reads files (cvv verify, cvv
// hash): its own flags first, then --engine and --jobs, then after, then
// the exclude flags, in the order the help shows them.
func readFlags(own []cli.Flag, after ...cli.Flag) []cli.Flag {
	return slices.Concat(own, []cli.Flag{readEngineFlag(), readJobsFlag()}, after, excludeFlags())
}

// readCommand is a command that reads files (cvv verify, cvv hash).
func readCommand(name, usage, usageText, description string, action cli.ActionFunc, flags []cli.Flag) *cli.Command {
	return &cli.Command{Name: name, Usage: usage, UsageText: usageText, Description: description, Flags: flags, Action: action}
}
