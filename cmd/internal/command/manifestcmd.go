package command

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/cvv-project/cvv/cmd/internal/plan"
	"github.com/cvv-project/cvv/cmd/internal/usage"
	"github.com/cvv-project/cvv/hashing/manifest"
)

const manifestMergeDescription = `The shards of a sharded copy (cvv --shard I/N) each leave their part of the
manifest record in DEST/.cvv-shard-<job>/, and the last shard to finish
merges them into one sums list and one ASC MHL generation. When every
shard's part is there but none merged them (the last shard was killed
while merging), cvv manifest merge DEST does it: it writes the manifests
the job asked for and removes the state directory. It refuses while a
shard of the job still runs, and when a shard's part is missing (run that
shard again: what it copied is skipped, and it merges). It writes the
manifests only; the directories get their modes and times from a run of
the job (or any run) that finishes.`

// manifestCommand is cvv manifest, with its subcommand merge.
func manifestCommand() *cli.Command {
	return &cli.Command{
		Name:      "manifest",
		Usage:     "work on the hash lists of a copy",
		UsageText: "cvv manifest merge [--wait] DEST...",
		Subcommands: []*cli.Command{{
			Name:        "merge",
			Usage:       "merge the partial records of a sharded copy (--shard) into one set of hash lists",
			UsageText:   "cvv manifest merge [--wait] DEST...",
			Description: manifestMergeDescription,
			Flags: []cli.Flag{
				&cli.BoolFlag{Name: "wait", Usage: "when another cvv run holds DEST, wait for it (without it, exit at once with status 2)"},
				&cli.BoolFlag{Name: "no-fsync", Usage: "do not fsync the destination root after removing the state directory"},
			},
			Action: manifestMergeAction,
		}},
	}
}

func manifestMergeAction(c *cli.Context) error {
	if c.NArg() == 0 {
		return usage.Errorf("no DEST given (usage: cvv manifest merge DEST...)")
	}
	out := &lineOutput{stdout: c.App.Writer, stderr: c.App.ErrWriter}
	var errs []error
	for _, root := range c.Args().Slice() {
		l, err := lockDest(c.Context, root, c.Bool("wait"), func(msg string) { fmt.Fprintf(c.App.ErrWriter, "cvv: %s\n", msg) })
		if err != nil {
			return err
		}
		err = mergeRoot(root, c.Bool("no-fsync"), out)
		l.unlock()
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// mergeRoot merges the records of every sharded job in root whose shards
// are all done. A job with a shard still running, or one whose parts are
// not all there, is an error.
func mergeRoot(root string, noFsync bool, out hashRecordOutput) error {
	states, err := filepath.Glob(filepath.Join(root, shardDirPrefix+"*"))
	if err != nil {
		return err
	}
	if len(states) == 0 {
		return usage.Errorf("%s holds no partial records of a sharded copy (%s*)", root, shardDirPrefix)
	}
	var errs []error
	for _, dir := range states {
		l, err := tryFlock(dir, false)
		if errors.Is(err, errLocked) {
			errs = append(errs, usage.Errorf("%s: a shard of this job still runs%s", dir, lockHolder(dir)))
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		errs = append(errs, mergeState(dir, root, noFsync, out))
		l.unlock()
	}
	return errors.Join(errs...)
}

// mergeState merges the parts in the state directory dir of root, which
// must all be there.
func mergeState(dir, root string, noFsync bool, out hashRecordOutput) error {
	parts, err := manifest.ReadPartials(dir)
	if err != nil {
		return err
	}
	if len(parts) == 0 {
		return usage.Errorf("%s holds no partial record", dir)
	}
	if missing := manifest.Missing(parts, parts[0].Count); len(missing) > 0 {
		return usage.Errorf("%s: %d of %d shards are done; run %s again (what is copied is skipped) and it merges the records", dir, parts[0].Count-len(missing), parts[0].Count, shardList(missing))
	}
	merged, err := mergeShards(dir, root, plan.Shard{}, noFsync, out)
	if err == nil && !merged {
		err = fmt.Errorf("%s: nothing merged", dir)
	}
	return err
}

// lineOutput prints what writeHashRecord says as lines: notices on
// standard error, files written on standard output.
type lineOutput struct{ stdout, stderr io.Writer }

func (o *lineOutput) Notice(_, msg string) { fmt.Fprintf(o.stderr, "cvv: %s\n", msg) }

func (o *lineOutput) Wrote(_, path string) { fmt.Fprintf(o.stdout, "wrote %s\n", path) }
