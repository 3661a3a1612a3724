package command

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/cmd/internal/plan"
	"github.com/cvv-project/cvv/cmd/internal/usage"
	"github.com/cvv-project/cvv/cmd/internal/workers"
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
	return readCommand("hash", "print the hash of files and trees", "cvv hash [flags] FILE|DIR...", hashDescription, hashAction, readFlags([]cli.Flag{
		&cli.StringFlag{Name: "hash", Value: "xxh3", Usage: "hash `ALG`: xxh3, xxh64, xxh128, md5, sha1, sha256, xxh32"},
		&cli.BoolFlag{Name: "tag", Usage: "print BSD-style lines: ALG (path) = HASH"},
	}))
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

	opened, err := openAutoEngine(kind, cvv.Options{}, false, plan.InMemory(c.Args().Slice()...))
	if err != nil {
		return err
	}
	eng, note := opened.Engine, opened.Warning
	defer eng.Close()
	if note != "" {
		out.Notice("", note)
	}
	tag := c.Bool("tag")
	var hashed, failed int
	// The walk feeds the hashes as they go: nothing is held per file.
	workers.OrderedOf(c.Context, jobs, hashList(c.Context, c.Args().Slice(), ex), func(it hashItem) (cvv.HashResult, error) {
		if it.err != nil {
			return cvv.HashResult{}, it.err
		}
		return eng.Hash(c.Context, it.path, alg)
	}, func(it hashItem, res cvv.HashResult, err error) error {
		if err != nil {
			if c.Context.Err() == nil {
				out.Notice("", errString(err))
				failed++
			}
			return nil
		}
		hashed++
		out.Sum(manifest.SumLine(alg, res.Hash, it.name, tag))
		return nil
	})
	if err := c.Context.Err(); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%w: %d of %d files could not be hashed", errFailures, failed, hashed+failed)
	}
	return nil
}

// hashItem is one line of cvv hash: the file at path, listed as name, or
// err when it (an argument, or an entry below one) cannot be read.
type hashItem struct {
	path, name string
	err        error
}

// hashList yields the files to hash for args, in output order, with the
// name of each in the list: the path as given, or for a directory given
// alone, the path relative to it (as cvv's own lists are), so that cvv
// verify --against checks the list against that directory. A directory's
// files come as its walk finds them, in path order (plan.Scan). What cannot
// be read is an item with its error, reported in its place, and the others
// are still hashed, as sha256sum does.
func hashList(ctx context.Context, args []string, ex *plan.Excludes) iter.Seq[hashItem] {
	return func(yield func(hashItem) bool) {
		for _, arg := range args {
			st, err := os.Stat(arg)
			switch {
			case err != nil:
				if !yield(hashItem{err: err}) {
					return
				}
			case !st.IsDir():
				if !yield(hashItem{path: arg, name: arg}) {
					return
				}
			default:
				if !hashTree(ctx, arg, len(args) == 1, ex, yield) {
					return
				}
			}
		}
	}
}

// hashTree yields the regular files below the directory root; it returns
// false when yield asked to stop.
func hashTree(ctx context.Context, root string, relative bool, ex *plan.Excludes, yield func(hashItem) bool) bool {
	errStop := errors.New("stop")
	_, err := plan.Scan(ctx, root, plan.WalkOptions{Excludes: ex}, func(f *plan.Found) error {
		if f.Err == nil && f.Kind != plan.File {
			return nil
		}
		p := filepath.Join(root, f.Rel)
		it := hashItem{path: p, name: p, err: f.Err}
		if relative {
			it.name = filepath.ToSlash(f.Rel)
		}
		if !yield(it) {
			return errStop
		}
		return nil
	})
	if errors.Is(err, errStop) {
		return false
	}
	return err == nil || yield(hashItem{err: err})
}
