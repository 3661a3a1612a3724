package command

import (
	"errors"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/cvv-project/cvv/cmd/internal/copier"
	"github.com/cvv-project/cvv/cmd/internal/usage"
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
		l, err := copier.LockDest(c.Context, root, c.Bool("wait"), func(msg string) { fmt.Fprintf(c.App.ErrWriter, "cvv: %s\n", msg) })
		if err != nil {
			return err
		}
		err = copier.MergeRoot(root, c.Bool("no-fsync"), syncDir, out)
		l.Unlock()
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// lineOutput prints what writeHashRecord says as lines: notices on
// standard error, files written on standard output.
type lineOutput struct{ stdout, stderr io.Writer }

func (o *lineOutput) Notice(_, msg string) { fmt.Fprintf(o.stderr, "cvv: %s\n", msg) }

func (o *lineOutput) Wrote(_, path string) { fmt.Fprintf(o.stdout, "wrote %s\n", path) }
