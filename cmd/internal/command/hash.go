package command

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/urfave/cli/v2"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/cmd/internal/plan"
	"github.com/cvv-project/cvv/cmd/internal/ui"
	"github.com/cvv-project/cvv/cmd/internal/usage"
	"github.com/cvv-project/cvv/hashing"
	"github.com/cvv-project/cvv/hashing/manifest"
)

const hashDescription = `Prints one "HASH  path" line per file, as md5sum, sha256sum and xxhsum do,
reading each file once from the media (O_DIRECT where the filesystem allows
it), several at a time; the lines come out in argument order, a directory's
files sorted by path. Symlinks and special files inside a directory are
skipped. Names with a backslash or a newline are escaped as coreutils does.

A directory given alone is listed with paths relative to it, as cvv's own
lists are, so that cvv verify --against LIST DIR checks the list (from any
directory, with DIR relative or absolute); with several arguments the paths
are as given.

--tag prints BSD-style lines ("XXH3 (path) = HASH"): xxhsum -c needs them for
xxh3. cvv verify --against reads either form.

Examples:
   cvv hash --hash md5 clip.mov
   cvv hash --hash sha256 /mnt/raid/day1 > day1.sha256
   cvv verify --against day1.sha256 /mnt/raid/day1
   cvv hash --tag /mnt/raid/day1 > day1.xxh3 && xxhsum -c day1.xxh3`

// hashCommand is "cvv hash".
func hashCommand() *cli.Command {
	return &cli.Command{
		Name:        "hash",
		Usage:       "print the hash of files and trees",
		UsageText:   "cvv hash [flags] FILE|DIR...",
		Description: hashDescription,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "hash", Value: "xxh3", Usage: "hash `ALG`: xxh3, xxh64, xxh128, md5, sha1, sha256, xxh32"},
			&cli.BoolFlag{Name: "tag", Usage: "print BSD-style lines: ALG (path) = HASH"},
			readEngineFlag(),
			readJobsFlag(),
		}, excludeFlags()...),
		Action: hashAction,
	}
}

func hashAction(c *cli.Context) error {
	if c.NArg() == 0 {
		return usage.Errorf("no FILE or DIR given (usage: cvv hash [flags] FILE|DIR...)")
	}
	alg, err := parseHash(c.String("hash"))
	if err != nil {
		return err
	}
	jobs, err := parseJobs(c)
	if err != nil {
		return err
	}
	kind, err := parseEngine(c)
	if err != nil {
		return err
	}
	ex, err := parseExcludes(c)
	if err != nil {
		return err
	}
	out := newPrinter(c.App.Reader, c.App.Writer, c.App.ErrWriter, false, false)
	defer out.Close()

	paths, names, failed := hashList(c.Args().Slice(), ex, out)

	eng, note, err := openEngine(kind, cvv.Options{})
	if err != nil {
		return err
	}
	defer eng.Close()
	if note != "" {
		out.Notice("", note)
	}
	tag := c.Bool("tag")
	hashOrdered(c.Context, eng, func(int) hashing.Algorithm { return alg }, paths, jobs, nil, func(i int, res cvv.HashResult, err error) {
		if err != nil {
			if c.Context.Err() == nil {
				out.Notice("", errString(err))
				failed++
			}
			return
		}
		out.Sum(manifest.SumLine(alg, res.Hash, names[i], tag))
	})
	if err := c.Context.Err(); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%w: %d of %d files could not be hashed", errFailures, failed, len(paths)+failed)
	}
	return nil
}

// hashList returns the files to hash for args, in output order, and the
// name of each in the list: the path as given, or for a directory given
// alone, the path relative to it (as cvv's own lists are), so that cvv
// verify --against checks the list against that directory. An argument
// that cannot be read is reported and counted in failed, and the others
// are still hashed, as sha256sum does.
func hashList(args []string, ex *plan.Excludes, out ui.Printer) (paths, names []string, failed int) {
	for _, arg := range args {
		st, err := os.Stat(arg)
		if err != nil {
			out.Notice("", errString(err))
			failed++
			continue
		}
		if !st.IsDir() {
			paths = append(paths, arg)
			names = append(names, arg)
			continue
		}
		files, _, err := walkTree(arg, nil, ex)
		if err != nil {
			out.Notice("", errString(err))
			failed++
			continue
		}
		rels := make([]string, 0, len(files))
		for rel := range files {
			rels = append(rels, rel)
		}
		slices.Sort(rels)
		for _, rel := range rels {
			p := filepath.Join(arg, filepath.FromSlash(rel))
			paths = append(paths, p)
			if len(args) == 1 {
				names = append(names, rel)
			} else {
				names = append(names, p)
			}
		}
	}
	return paths, names, failed
}
