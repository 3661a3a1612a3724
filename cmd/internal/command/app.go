package command

import (
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/cvv-project/cvv/cmd/internal/copier"
	"github.com/cvv-project/cvv/cmd/internal/ui"
	"github.com/cvv-project/cvv/cmd/internal/usage"
)

const appUsageText = `cvv [flags] SOURCE DEST [DEST...]
cvv verify [flags] ...
cvv hash [flags] ...
cvv manifest merge DEST...

Flags may come before or after the operands ("cvv SRC DST -m transfer");
"--" ends the flags. A SOURCE named like a command (verify, hash, manifest,
help) is written ./verify.`

const appDescription = `cvv reads SOURCE once and writes it to every DEST at the same time, hashing
the bytes in flight, then verifies the copies. SOURCE is a file or a directory.

A file SOURCE goes to DEST/<name> when DEST is an existing directory (or ends
in /), otherwise DEST is the path of the copy. A directory SOURCE is copied
into each DEST, which becomes the root of the copy (created if missing; its
parent must exist unless --mkpath is given):
regular files, directories (empty ones too) and symlinks (recreated, never
followed); FIFOs, sockets and devices are skipped with a warning.

Copies are atomic: data goes to a hidden temp file (.cvv-*.partial) that is
synced and renamed onto the final name only when complete. A destination file
that already exists with the same size and modification time is skipped, so
re-running an interrupted command finishes the job (temp files left behind
are removed). Free space is checked per destination filesystem first (two
destinations on one filesystem add up): the destinations on a filesystem
that lacks space for everything to be written to it are given up before
anything is written to them, with a message naming the filesystem and the
shortfall, and the status is 1; the other destinations are copied. If no
destination has room, nothing is copied.

Verification (--mode):
   transfer  destination sizes are checked; the source hash is still computed
   source    the source is re-read and must hash to what was copied, with the
             same size and modification time (catches a changing source)
   full      (default) the source and every destination are re-read from the
             media, in parallel, and every hash must match

A destination that is the source, lies inside it or holds it, and two
destinations that are the same or nest, are refused (exit status 2), however
the paths are spelled (symlinks, .., bind mounts). One run at a time writes
into a destination (a lock on its root directory): another run exits with
status 2 naming its PID, or waits with --wait.

On FAT, exFAT and NTFS destinations (and ext4 casefold directories), names
that are one name there once case is folded (Take.wav, take.wav), names or
characters the filesystem refuses, symlinks on FAT and exFAT, and files over
FAT32's 4 GiB - 1 fail on that destination only, one line each, before
anything is written. Modification times are compared at the destination
filesystem's granularity (FAT 2 s, exfat-fuse 1 s).

Exit status: 0 all copied and verified; 1 a copy or a verification failed;
2 bad usage or input (nothing written); 130 interrupted (SIGINT); 143
terminated (SIGTERM). An interrupted run leaves no partial file under a final
name; run the same command again to finish it.

Examples:
   cvv /media/card /mnt/raid/day1 /mnt/shuttle/day1
       copy a card to two drives at once, verify everything (full mode)
   cvv -m source --hash sha256 big.mov /mnt/a/ /mnt/b/
       copy one file into two directories, re-read only the source
   cvv --verify-after --ask /media/card /mnt/a /mnt/b
       copy everything first, then ask before the verification pass
   cvv --jobs 8 --block-size 4M --engine uring src dst
       tune the engine: 8 files in flight, 4 MiB reads
   cvv --json -q src dst | jq 'select(.event=="summary")'
       newline-delimited JSON events for scripts (schema: docs/JSON.md)
   cvv --hash-file mhl,sums --hash-file-dest both card dst
       write an ASC MHL generation and a sums file (dst/dst.xxh3, which
       xxhsum -c checks) in the source and in the copy`

// subcommands returns the subcommands of the application.
func subcommands() []*cli.Command {
	return []*cli.Command{verifyCommand(), hashCommand(), manifestCommand()}
}

// newApp returns the cvv application. Its default action is the copy.
func newApp(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:                   "cvv",
		Usage:                  "copy files and trees to several destinations at once, verified",
		UsageText:              appUsageText,
		Description:            appDescription,
		UseShortOptionHandling: true,
		HideVersion:            true, // versionFlag prints more

		Reader:    stdin,
		Writer:    stdout,
		ErrWriter: stderr,
		Flags:     append(copyFlags(), versionFlag),
		Commands:  subcommands(),
		Action:    copyAction,
		// Errors are reported and mapped to exit statuses by run, once.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError:   onUsageError,
	}
	for _, c := range app.Commands {
		if c.OnUsageError == nil {
			c.OnUsageError = onUsageError
		}
	}
	return app
}

func onUsageError(_ *cli.Context, err error, _ bool) error {
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return usage.Errorf("%s (see cvv --help)", msg)
}

func copyFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "mode", Aliases: []string{"m"}, Value: "full", Usage: "verification `MODE`: transfer, source or full"},
		&cli.StringFlag{Name: "hash", Value: "xxh3", Usage: "hash `ALG`: xxh3 (or xxh3_64), xxh64, xxh128, md5, sha1, sha256"},
		&cli.BoolFlag{Name: "verify-after", Usage: "copy everything first, then verify everything (without it, each file is verified right after its copy)"},
		&cli.BoolFlag{Name: "ask", Usage: "with --verify-after, ask before the verification pass"},
		&cli.StringFlag{Name: "on-conflict", Value: "fail", Usage: "what to do with an existing destination file that differs from the source (`ACTION`): fail (that file fails there, the rest copies), overwrite (replace it once the new copy is verified) or rename (copy to NAME (2).EXT)"},
		&cli.BoolFlag{Name: "overwrite", Usage: "copy every file again, even one already copied and verified, and replace what differs (implies --on-conflict overwrite)"},
		&cli.BoolFlag{Name: "verify-existing", Usage: "hash a file that would be skipped on both sides and copy it again if it differs"},
		&cli.BoolFlag{Name: "mkpath", Usage: "create the missing parents of a destination too (without it, only the last directory of a destination is created)"},
		&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "print what would be copied, skipped or refused and the space each destination needs; write nothing"},
		&cli.BoolFlag{Name: "wait", Usage: "when another cvv run is writing to a destination, wait for it to finish (without it, exit at once with status 2)"},
		&cli.BoolFlag{Name: "no-preserve", Usage: "do not copy permissions, modification times, owners, extended attributes or ACLs (then nothing is ever skipped)"},
		&cli.BoolFlag{Name: "no-xattrs", Usage: "do not copy extended attributes and ACLs"},
		&cli.StringFlag{Name: "hash-file", Usage: "after the copy, write hash manifests in `FORMAT[,FORMAT]`: sums (md5sum/sha1sum/sha256sum/xxhsum -c lists), xxh (TeraCopy-style), mhl (ASC MHL v2), mhl1 (classic MHL 1.1); files kept from an earlier run are then hashed too"},
		&cli.StringFlag{Name: "hash-file-dest", Value: "dest", Usage: "where --hash-file writes (`WHERE`): source, dest or both"},
		&cli.StringFlag{Name: "report", Usage: "write an HTML transfer report to `FILE`.html and its per-file rows to FILE.csv (with --hash-file, one is also written beside the manifests in each destination root)"},
		&cli.BoolFlag{Name: "no-report", Usage: "with --hash-file, do not write the report beside the manifests"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only warnings and errors"},
		&cli.BoolFlag{Name: "json", Usage: "print newline-delimited JSON events on stdout (schema in docs/JSON.md)"},
		&cli.StringFlag{Name: "engine", Value: "auto", Usage: "copy `ENGINE`: auto (io_uring when available, the portable engine when source and destinations are on tmpfs; $CVV_ENGINE overrides auto), uring or fallback"},
		&cli.StringFlag{Name: "block-size", Value: "1M", Usage: "read `SIZE` (K, M, G suffixes: 256K, 1M, 4M)"},
		&cli.IntFlag{Name: "queue-depth", Value: 8, Usage: "`N` blocks in flight per file"},
		&cli.StringFlag{Name: "write", Value: "auto", Usage: "how destinations are written (`PATH`): auto (through the page cache on a device shared with the source or another destination, O_DIRECT on a device of its own for files of 1 MiB and more), direct or buffered"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "also print how each destination is written and why"},
		&cli.IntFlag{Name: "jobs", Aliases: []string{"j"}, Value: defaultJobs, Usage: "`N` files in flight at once (by default at most 4 of them larger than one block)"},
		&cli.BoolFlag{Name: "no-fsync", Usage: "do not fdatasync files and fsync directories (faster, not durable)"},
		cascadeFlag(),
	}, append(excludeFlags(), shardFlags()...)...)
}

// versionFlag is cvv --version (urfave's own would print one line and take
// -v).
var versionFlag = &cli.BoolFlag{Name: "version", Aliases: []string{"V"}, Usage: "print the version, the commit, the Go version and whether io_uring is available"}

func copyAction(c *cli.Context) error {
	if c.Bool("version") {
		printVersion(c.App.Writer)
		return nil
	}
	args := c.Args().Slice()
	if len(args) == 0 {
		return usage.Errorf("no source given (usage: cvv [flags] SOURCE DEST...)")
	}
	opts, err := parseCopyOptions(c)
	if err != nil {
		return err
	}
	dests, err := withCascade(opts, args[1:])
	if err != nil {
		return err
	}
	opts.Printer = func() ui.Output {
		return newPrinter(c.App.Reader, c.App.Writer, c.App.ErrWriter, opts.JSON, opts.Quiet)
	}
	opts.Seams = copier.Seams{Copy: engineCopy, SyncDir: syncDir, SyncFS: syncFS, DetectFS: detectFS}
	return copier.Run(c.Context, opts, c.App.Writer, c.App.ErrWriter, args[0], dests)
}
