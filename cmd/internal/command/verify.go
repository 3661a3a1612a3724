package command

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/cmd/internal/copier"
	"github.com/cvv-project/cvv/cmd/internal/plan"
	"github.com/cvv-project/cvv/cmd/internal/ui"
	"github.com/cvv-project/cvv/cmd/internal/usage"
	"github.com/cvv-project/cvv/cmd/internal/workers"
	"github.com/cvv-project/cvv/hashing"
	"github.com/cvv-project/cvv/hashing/manifest"
)

const verifyDescription = `Re-hashes the files under PATH, reading them from the media (O_DIRECT where
the filesystem allows it), several at a time, and checks them against

   - the ASC MHL history in PATH/ascmhl (every file any generation
     recorded, against its original hash), the child histories of folders
     below PATH (cards sealed inside a Reels folder), and every classic MHL file (MHL
     1.x, a .mhl file outside ascmhl/) in the tree, each with paths relative
     to its own folder, or
   - a list given with --against FILE: a classic MHL file (it may sit in any
     folder above the files it lists), or a sums or xxh list (md5sum/sha*sum/
     xxhsum output, cvv's own lists, TeraCopy lists) whose algorithm comes
     from --hash, the file name (footage.md5, footage.xxh3.xxh, SHA256SUMS)
     or the digest length. PATH may also be the list itself: its directory
     is then the root.

Each recorded file is reported ok, changed or missing; a file under PATH that
no record lists is reported new (the ascmhl folder and cvv's own lists are
not files of the record). With ASC MHL, a new generation (process in-place)
records every checked file as verified or failed, and the chain file is
updated; each child history gets its own, referenced from the parent's;
--no-record skips that (read-only media; on a read-only filesystem the
files are still checked and the status is 0 when all match, with a warning
that nothing was recorded).

Exit status: 0 every recorded file is present and matches; 1 a file changed,
is missing or could not be read; 2 bad usage or a corrupt manifest (nothing
written).

Examples:
   cvv verify /mnt/raid/day1
   cvv verify --against /mnt/raid/day1/day1.md5 /mnt/raid/day1
   cvv verify /mnt/raid/Reels/Reels_2024-03-01_090000.mhl
   cvv verify --json -j 8 /mnt/shuttle/day1.xxh3`

// verifyCommand is "cvv verify".
func verifyCommand() *cli.Command {
	return readCommand("verify", "re-hash a tree against its ASC MHL history or a sums/xxh list", "cvv verify [flags] PATH", verifyDescription, verifyAction, readFlags([]cli.Flag{
		&cli.StringFlag{Name: "against", Usage: "check against the classic MHL, sums or xxh list `FILE` instead of PATH's records"},
		&cli.StringFlag{Name: "hash", Usage: "hash `ALG` of the --against list, when its name does not say"},
		&cli.BoolFlag{Name: "no-record", Usage: "do not append an ASC MHL generation"},
		&cli.BoolFlag{Name: "wait", Usage: "when a cvv run is writing to PATH, wait for it to finish (without it, exit at once with status 2)"},
	},
		&cli.BoolFlag{Name: "json", Usage: "print newline-delimited JSON events on stdout"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only problems and the summary"},
	))
}

// Verification statuses of one file.
const (
	statusOK      = "ok"
	statusChanged = "changed"
	statusMissing = "missing"
	statusNew     = "new"
	statusError   = "error"
)

// verifyFileEvent is the check of one file (ui.VerifyFile).
type verifyFileEvent = ui.VerifyFile

// verifyArgs are verify's checked arguments.
type verifyArgs struct {
	root, against string
	jobs          int
	kind          EngineKind
	forced        *hashing.Algorithm
	record, quiet bool
	excludes      *plan.Excludes
}

func parseVerifyArgs(c *cli.Context) (*verifyArgs, error) {
	if c.NArg() != 1 {
		return nil, usage.Errorf("verify takes one PATH (usage: cvv verify [flags] PATH)")
	}
	a := &verifyArgs{root: c.Args().First(), against: c.String("against"), record: !c.Bool("no-record"), quiet: c.Bool("quiet")}
	st, err := os.Stat(a.root)
	if err != nil {
		return nil, usageFromStat(err)
	}
	if !st.IsDir() {
		if a.against != "" {
			return nil, usage.Errorf("%s is not a directory", a.root)
		}
		// cvv verify footage.md5: the list's directory is the root.
		a.against, a.root = a.root, filepath.Dir(a.root)
	}
	if a.jobs, err = parseJobs(c); err != nil {
		return nil, err
	}
	if a.kind, err = parseEngine(c); err != nil {
		return nil, err
	}
	if a.excludes, err = parseExcludes(c); err != nil {
		return nil, err
	}
	if s := c.String("hash"); s != "" {
		alg, err := parseHash(s)
		if err != nil {
			return nil, err
		}
		a.forced = &alg
	}
	return a, nil
}

func verifyAction(c *cli.Context) error {
	start := time.Now()
	a, err := parseVerifyArgs(c)
	if err != nil {
		return err
	}
	if a.record {
		// A generation is written into the tree: no copy may be writing
		// there, no other verify recording.
		l, err := copier.LockDest(c.Context, a.root, c.Bool("wait"), func(msg string) { fmt.Fprintf(c.App.ErrWriter, "cvv: %s\n", msg) })
		if err != nil {
			return err
		}
		defer l.Unlock()
	}
	in, err := openVerifyInput(c.Context, a.root, a.against, a.forced, a.excludes)
	if err != nil {
		return err
	}
	defer in.Close()
	opened, err := openAutoEngine(a.kind, cvv.Options{}, false, plan.InMemory(a.root))
	if err != nil {
		return err
	}
	eng, note := opened.Engine, opened.Warning
	defer eng.Close()

	vo := newPrinter(c.App.Reader, c.App.Writer, c.App.ErrWriter, c.Bool("json"), c.Bool("quiet"))
	defer vo.Close()
	if note != "" && !c.Bool("json") {
		vo.Notice("", note)
	}
	records := in.recordPaths()
	sum := ui.VerifySummary{Root: a.root, Against: records[0], Records: records, Engine: eng.Name()}
	gens := newGenerations(in)
	defer gens.Close()
	err = checkTree(c.Context, eng, a, in, gens, vo, &sum)
	if err := c.Context.Err(); err != nil {
		return err
	}
	if err != nil {
		return err
	}
	sum.Hash = strings.Join(in.algorithms(), ",")

	recordErr := finishVerify(a, in, gens, start, vo, &sum, c.Bool("json"))
	if recordErr != nil {
		return fmt.Errorf("writing the ASC MHL generation: %w", recordErr)
	}
	if !sum.Passed {
		return fmt.Errorf("%w: %w: %d changed, %d missing, %d unreadable", errFailures, cvv.ErrVerifyMismatch, sum.Changed, sum.Missing, sum.Errors)
	}
	return nil
}

// finishVerify writes the ASC MHL generations (unless --no-record) and the
// summary. A generation that cannot be written because the media is
// read-only is said on standard error (with --json in the summary's
// record_error) and does not fail the verification; any other error
// writing it is returned.
func finishVerify(a *verifyArgs, in *verifyInput, gens *verifyGenerations, start time.Time, vo ui.VerifyPrinter, sum *ui.VerifySummary, json bool) error {
	matched := sum.Changed == 0 && sum.Missing == 0 && sum.Errors == 0
	var recordErr error
	if a.record {
		sum.Recorded, recordErr = writeGenerations(a.root, in, gens, start, a.excludes.Patterns())
	}
	readOnly := errors.Is(recordErr, syscall.EROFS)
	sum.RecordError = errString(recordErr)
	sum.Passed = matched && (recordErr == nil || readOnly)
	sum.Verified = matched && a.record && recordErr == nil
	el := time.Since(start)
	sum.Seconds, sum.ElapsedMS = el.Seconds(), el.Milliseconds()
	if readOnly && !json {
		vo.Warn("", fmt.Sprintf("the files were checked, but the ASC MHL generation could not be written (%v): nothing was recorded; --no-record checks read-only media without trying", recordErr))
	}
	vo.VerifySummary(*sum)
	if readOnly {
		return nil
	}
	return recordErr
}

// checkTree merges the walk with the records' expectations, path by
// path, and checks each path: a recorded file that is not there is
// missing, a size-only entry is checked by its size, a recorded file is
// read (jobs at a time, once per algorithm) and its hash compared, and a
// file no record lists is new. The events come out in path order as the
// files are checked; only counters are kept. With a.record, the files
// checked against an ASC MHL record go to gens, as they are checked.
func checkTree(ctx context.Context, eng cvv.Engine, a *verifyArgs, in *verifyInput, gens *verifyGenerations, vo ui.VerifyPrinter, sum *ui.VerifySummary) error {
	vp := &verifyProgress{files: in.files, bytes: in.bytes}
	if !a.quiet {
		feed := ui.StartFeed(vo, vp.snapshot)
		defer feed.Stop()
	}
	var itemsErr error
	err := workers.OrderedOf(ctx, a.jobs, in.items(ctx, &itemsErr), func(it verifyItem) ([]hashOutcome, error) {
		return hashVerifyItem(ctx, eng, a.root, it, vp.read), nil
	}, func(it verifyItem, hashed []hashOutcome, _ error) error {
		if it.entry != nil && !in.ownFile(it.path) {
			vp.checked.Add(1)
			if len(hashed) == 0 {
				vp.read(it.entry.Size) // not read: counted as passed
			}
		}
		if len(it.exps) == 0 {
			in.reportNew(it, vo, sum)
			return nil
		}
		sum.Files++
		for _, e := range it.exps {
			ev, ok := checkExpectation(e, it.entry, hashed, sum)
			vo.VerifyFile(ev)
			if ok && a.record && e.rec.kind == recordASC {
				action := map[bool]string{true: "verified", false: "failed"}[ev.Status == statusOK]
				gens.add(e.rec, manifest.File{Path: e.path, Size: ev.Size,
					ModTime: it.entry.ModTime, Hash: ev.Actual, Action: action, HashDate: time.Now()})
			}
		}
		return nil
	})
	if itemsErr != nil {
		return itemsErr
	}
	if err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// hashOutcome is the hash of a file in one algorithm, or why it could
// not be read.
type hashOutcome struct {
	alg hashing.Algorithm
	res cvv.HashResult
	err error
}

// hashVerifyItem reads the file of it once per algorithm its (not size-only)
// expectations name, if the file is there.
func hashVerifyItem(ctx context.Context, eng cvv.Engine, root string, it verifyItem, progress func(int64)) []hashOutcome {
	if it.entry == nil {
		return nil
	}
	var out []hashOutcome
	for _, e := range it.exps {
		if e.sizeOnly || slices.ContainsFunc(out, func(h hashOutcome) bool { return h.alg == e.alg }) {
			continue
		}
		res, err := copier.HashWithProgress(ctx, eng, filepath.Join(root, filepath.FromSlash(it.path)), e.alg, progress)
		out = append(out, hashOutcome{alg: e.alg, res: res, err: err})
	}
	return out
}

// checkExpectation is the event of one expectation of a file (entry, nil
// when it is not there) given its hashes, counted in sum; ok is true
// when the file was read.
func checkExpectation(e expectation, entry *plan.Entry, hashed []hashOutcome, sum *ui.VerifySummary) (ev verifyFileEvent, ok bool) {
	ev = verifyFileEvent{Path: e.path, Expected: e.hash, SizeOnly: e.sizeOnly}
	if !e.sizeOnly {
		ev.Hash = e.alg.String()
		if !slices.Contains(e.rec.algs, ev.Hash) {
			e.rec.algs = append(e.rec.algs, ev.Hash)
		}
	}
	switch {
	case entry == nil:
		ev.Status = statusMissing
		sum.Missing++
		return ev, false
	case e.sizeOnly:
		ev.Size, ev.Status = entry.Size, statusOK
		if entry.Size != e.size {
			ev.Status = statusChanged
			sum.Changed++
		} else {
			sum.OK++
		}
		return ev, false
	}
	h := hashed[slices.IndexFunc(hashed, func(h hashOutcome) bool { return h.alg == e.alg })]
	switch {
	case h.err != nil:
		ev.Status, ev.Error = statusError, errString(h.err)
		sum.Errors++
		return ev, false
	case e.hash != "" && strings.EqualFold(h.res.Hash, e.hash) && (e.size < 0 || e.size == h.res.Size):
		ev.Status, ev.Actual, ev.Size = statusOK, h.res.Hash, h.res.Size
		sum.OK++
	default:
		ev.Status, ev.Actual, ev.Size = statusChanged, h.res.Hash, h.res.Size
		sum.Changed++
	}
	return ev, true
}

// verifyProgress is the progress of cvv verify, for the progress feed.
type verifyProgress struct {
	files         int
	bytes         int64
	done, checked atomic.Int64
	meter         ui.RateMeter // used by the progress feed only
}

// read counts n bytes hashed.
func (v *verifyProgress) read(n int64) { v.done.Add(n) }

// snapshot is the verification's progress now.
func (v *verifyProgress) snapshot() ui.Snapshot {
	s := ui.Snapshot{
		Phase: "verify", VerifyOnly: true, Verifies: true, ETA: -1,
		FilesDone: v.checked.Load(), Verified: v.checked.Load(), FilesTotal: v.files,
		VerifyDone: v.done.Load(), VerifyTotal: v.bytes,
	}
	s.VerifyRate, s.VerifyETA = v.meter.RateAndETA(time.Now(), s.VerifyDone, s.VerifyTotal)
	return s
}

// reportNew reports the file of it, which no record lists, as new,
// unless it is one of cvv's own files: the manifests, the classic MHL
// records, and the transfer reports a copy wrote beside them after them
// (at any depth: a copy's root may be a folder of the tree verified).
func (in *verifyInput) reportNew(it verifyItem, vo ui.VerifyPrinter, sum *ui.VerifySummary) {
	rel := it.path
	if it.entry == nil || in.ownFile(rel) || in.ignored.MatchPath(rel) {
		return
	}
	vo.VerifyFile(verifyFileEvent{Path: rel, Status: statusNew, Size: it.entry.Size})
	sum.New++
}

// verifyGenerations are the files of the ASC MHL generations a verification
// records: one manifest.FileSpool (a temporary file, in path order) per
// top-most history, which records the files of the histories below it
// too, with paths relative to its root.
type verifyGenerations struct {
	top    map[*verifyRecord]*verifyRecord
	spools map[*verifyRecord]*manifest.FileSpool
	// err is the first failure to add a file (the temporary file cannot
	// be written): the files are still checked, and no generation is.
	err error
}

// newGenerations finds the top-most history of every ASC MHL record of in.
func newGenerations(in *verifyInput) *verifyGenerations {
	g := &verifyGenerations{top: map[*verifyRecord]*verifyRecord{}, spools: map[*verifyRecord]*manifest.FileSpool{}}
	for _, top := range in.records {
		if top.kind != recordASC || in.nestedIn(top) {
			continue
		}
		for _, r := range in.records {
			if r.kind == recordASC && under(r.prefix, top.prefix) {
				g.top[r] = top
			}
		}
	}
	return g
}

// add records f (its path relative to the verified root), checked
// against r; after a failure, nothing more is.
func (g *verifyGenerations) add(r *verifyRecord, f manifest.File) {
	if g.err != nil {
		return
	}
	top := g.top[r]
	s := g.spools[top]
	if s == nil {
		s = manifest.NewFileSpool()
		g.spools[top] = s
	}
	rel := relTo(top.prefix, f.Path)
	f.Path = rel
	if err := s.Add(f); err != nil {
		g.err = fmt.Errorf("recording %s: %w", rel, err)
	}
}

// Close releases the spools.
func (g *verifyGenerations) Close() error {
	var errs []error
	for _, s := range g.spools {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

// writeGenerations appends an in-place generation to every ASC MHL
// history checked. A history below another one is written through its
// top-most ancestor's manifest.Write, which adds the child's generation and
// references it from the parent, as the ASC reference tool does.
func writeGenerations(root string, in *verifyInput, gens *verifyGenerations, start time.Time, ignore []string) ([]string, error) {
	if gens.err != nil {
		return nil, gens.err
	}
	var written []string
	for _, top := range in.records {
		if top.kind != recordASC || in.nestedIn(top) {
			continue
		}
		alg := top.hist.ExpectedAlg()
		rec := manifest.Record{Root: filepath.Join(root, filepath.FromSlash(top.prefix)), Alg: alg, Start: start, Process: "in-place", Ignore: ignore,
			Spool: gens.spools[top]}
		for _, r := range in.records {
			if r.kind != recordASC || !under(r.prefix, top.prefix) {
				continue
			}
			if a := r.hist.ExpectedAlg(); a != alg {
				return written, fmt.Errorf("%s records %s and %s records %s: one generation cannot record both (use --no-record)", top.path, alg, r.path, a)
			}
		}
		for _, d := range in.dirs {
			if d != top.prefix && under(d, top.prefix) {
				rec.Dirs = append(rec.Dirs, relTo(top.prefix, d))
			}
		}
		w, err := manifest.Write(rec, []manifest.Format{manifest.MHL})
		written = append(written, w...)
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// nestedIn reports whether r's history lies below another ASC MHL record's.
func (in *verifyInput) nestedIn(r *verifyRecord) bool {
	for _, o := range in.records {
		if o != r && o.kind == recordASC && o.prefix != r.prefix && under(r.prefix, o.prefix) {
			return true
		}
	}
	return false
}

// under reports whether p is prefix or below it ("" is the root).
func under(p, prefix string) bool {
	return prefix == "" || p == prefix || strings.HasPrefix(p, prefix+"/")
}

// usageFromStat turns a failure to find a named input into a usage error.
func usageFromStat(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && errors.Is(err, fs.ErrNotExist) {
		return usage.Errorf("%s: no such file or directory", pe.Path)
	}
	return err
}

// relUnder returns p relative to root with '/' separators, or an error if p
// is not below root.
func relUnder(root, p string) (string, error) {
	ar, err := filepath.Abs(root)
	if err != nil {
		return "", err
	}
	ap, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(ar, ap)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%s is not below %s", p, root)
	}
	return filepath.ToSlash(rel), nil
}
