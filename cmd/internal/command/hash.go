package command

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/urfave/cli/v2"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/cmd/internal/usage"
	"github.com/cvv-project/cvv/hashing"
	"github.com/cvv-project/cvv/hashing/manifest"
)

const hashDescription = `Prints one "HASH  path" line per file, as md5sum, sha256sum and xxhsum do,
reading each file once from the media (O_DIRECT where the filesystem allows
it), several at a time; the lines come out in argument order, a directory's
files sorted by path. Symlinks and special files inside a directory are
skipped. Names with a backslash or a newline are escaped as coreutils does.

--tag prints BSD-style lines ("XXH3 (path) = HASH"): xxhsum -c needs them for
xxh3. cvv verify --against reads either form.

Examples:
   cvv hash --hash md5 clip.mov
   cvv hash --hash sha256 /mnt/raid/day1 > day1.sha256
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
	out := newOutput(c.App.Writer, c.App.ErrWriter, false)

	// The file list, in output order. An argument that cannot be read is
	// reported and the others are still hashed, as sha256sum does.
	var paths []string
	failed := 0
	for _, arg := range c.Args().Slice() {
		st, err := os.Stat(arg)
		if err != nil {
			out.warn(errString(err))
			failed++
			continue
		}
		if !st.IsDir() {
			paths = append(paths, arg)
			continue
		}
		files, _, err := walkTreeExcluding(arg, nil, ex)
		if err != nil {
			out.warn(errString(err))
			failed++
			continue
		}
		rels := make([]string, 0, len(files))
		for rel := range files {
			rels = append(rels, rel)
		}
		slices.Sort(rels)
		for _, rel := range rels {
			paths = append(paths, filepath.Join(arg, filepath.FromSlash(rel)))
		}
	}

	eng, note, err := openEngine(kind, cvv.Options{})
	if err != nil {
		return err
	}
	defer eng.Close()
	if note != "" {
		out.warn(note)
	}
	tag := c.Bool("tag")
	hashOrdered(c.Context, eng, func(int) hashing.Algorithm { return alg }, paths, jobs, func(i int, res cvv.HashResult, err error) {
		if err != nil {
			if c.Context.Err() == nil {
				out.warn(errString(err))
				failed++
			}
			return
		}
		out.write(manifest.SumLine(alg, res.Hash, paths[i], tag))
	})
	if err := c.Context.Err(); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%w: %d of %d files could not be hashed", errFailures, failed, len(paths)+failed)
	}
	return nil
}
