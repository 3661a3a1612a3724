package command

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
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
	"github.com/cvv-project/cvv/cmd/internal/report"
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
	in, err := loadVerifyInput(a.root, a.against, a.forced, a.excludes)
	if err != nil {
		return err
	}
	eng, note, err := openEngine(a.kind, cvv.Options{})
	if err != nil {
		return err
	}
	defer eng.Close()

	vo := newPrinter(c.App.Reader, c.App.Writer, c.App.ErrWriter, c.Bool("json"), c.Bool("quiet"))
	defer vo.Close()
	if note != "" && !c.Bool("json") {
		vo.Notice("", note)
	}
	records := in.recordPaths()
	sum := ui.VerifySummary{Root: a.root, Against: records[0], Records: records,
		Hash: strings.Join(in.algorithms(), ","), Engine: eng.Name(), Files: len(in.recordedPaths())}
	gens := checkExpected(c.Context, eng, a, in, vo, &sum)
	if err := c.Context.Err(); err != nil {
		return err
	}
	reportNew(a.root, in, vo, &sum)

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
func finishVerify(a *verifyArgs, in *verifyInput, gens map[*verifyRecord][]manifest.File, start time.Time, vo ui.VerifyPrinter, sum *ui.VerifySummary, json bool) error {
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

// hashTask is one (file, algorithm) to read, and the expectations it
// answers.
type hashTask struct {
	path string
	alg  hashing.Algorithm
	exp  []int
}

// checkExpected checks every expectation: missing files and size-only
// entries first, then the files read jobs at a time, each file read once
// per algorithm. It returns, per ASC MHL record, the files of its next
// generation.
func checkExpected(ctx context.Context, eng cvv.Engine, a *verifyArgs, in *verifyInput, vo ui.VerifyPrinter, sum *ui.VerifySummary) map[*verifyRecord][]manifest.File {
	gens := map[*verifyRecord][]manifest.File{}
	tasks := planChecks(in, vo, sum)
	paths := make([]string, len(tasks))
	var bytes int64
	for i, t := range tasks {
		paths[i] = filepath.Join(a.root, filepath.FromSlash(t.path))
		bytes += in.present[t.path].Size
	}
	vp := &verifyProgress{files: len(tasks), bytes: bytes}
	if !a.quiet {
		feed := ui.StartFeed(vo, vp.snapshot)
		defer feed.Stop()
	}
	hashOrdered(ctx, eng, func(i int) hashing.Algorithm { return tasks[i].alg }, paths, a.jobs, vp.read, func(i int, res cvv.HashResult, err error) {
		if err != nil && ctx.Err() != nil {
			return
		}
		vp.checked.Add(1)
		for _, j := range tasks[i].exp {
			e := in.expected[j]
			ev := verifyFileEvent{Path: e.path, Hash: e.alg.String(), Expected: e.hash}
			switch {
			case err != nil:
				ev.Status, ev.Error = statusError, errString(err)
				sum.Errors++
			case e.hash != "" && strings.EqualFold(res.Hash, e.hash) && (e.size < 0 || e.size == res.Size):
				ev.Status, ev.Actual, ev.Size = statusOK, res.Hash, res.Size
				sum.OK++
			default:
				ev.Status, ev.Actual, ev.Size = statusChanged, res.Hash, res.Size
				sum.Changed++
			}
			vo.VerifyFile(ev)
			if err == nil && e.rec.kind == recordASC {
				action := map[bool]string{true: "verified", false: "failed"}[ev.Status == statusOK]
				gens[e.rec] = append(gens[e.rec], manifest.File{Path: relTo(e.rec.prefix, e.path), Size: res.Size,
					ModTime: in.present[e.path].ModTime, Hash: res.Hash, Action: action, HashDate: time.Now()})
			}
		}
	})
	return gens
}

// planChecks reports the missing files and checks the size-only entries,
// and returns the files to read, each once per algorithm, with the
// expectations each answers.
func planChecks(in *verifyInput, vo ui.VerifyPrinter, sum *ui.VerifySummary) []*hashTask {
	var tasks []*hashTask
	byKey := map[string]*hashTask{}
	for i, e := range in.expected {
		info, ok := in.present[e.path]
		ev := verifyFileEvent{Path: e.path, Expected: e.hash, SizeOnly: e.sizeOnly}
		if !e.sizeOnly {
			ev.Hash = e.alg.String()
		}
		switch {
		case !ok:
			ev.Status = statusMissing
			sum.Missing++
			vo.VerifyFile(ev)
		case e.sizeOnly:
			ev.Size, ev.Status = info.Size, statusOK
			if info.Size != e.size {
				ev.Status = statusChanged
				sum.Changed++
			} else {
				sum.OK++
			}
			vo.VerifyFile(ev)
		default:
			key := e.alg.String() + "\x00" + e.path
			if byKey[key] == nil {
				byKey[key] = &hashTask{path: e.path, alg: e.alg}
				tasks = append(tasks, byKey[key])
			}
			byKey[key].exp = append(byKey[key].exp, i)
		}
	}
	return tasks
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

// reportNew reports the files in the tree that no record lists. cvv's own
// files are not new: the manifests, and the transfer reports a copy wrote
// beside them after them (at any depth: a copy's root may be a folder of
// the tree verified).
func reportNew(root string, in *verifyInput, vo ui.VerifyPrinter, sum *ui.VerifySummary) {
	recorded := in.recordedPaths()
	var newFiles []string
	for rel := range in.present {
		if !recorded[rel] && !manifest.IsManifest(root, rel) && !report.IsReportName(path.Base(rel)) && !in.ignored.MatchPath(rel) {
			newFiles = append(newFiles, rel)
		}
	}
	slices.Sort(newFiles)
	for _, rel := range newFiles {
		vo.VerifyFile(verifyFileEvent{Path: rel, Status: statusNew, Size: in.present[rel].Size})
		sum.New++
	}
}

// writeGenerations appends an in-place generation to every ASC MHL
// history checked. A history below another one is written through its
// top-most ancestor's manifest.Write, which adds the child's generation and
// references it from the parent, as the ASC reference tool does.
func writeGenerations(root string, in *verifyInput, gens map[*verifyRecord][]manifest.File, start time.Time, ignore []string) ([]string, error) {
	var written []string
	for _, top := range in.records {
		if top.kind != recordASC || in.nestedIn(top) {
			continue
		}
		alg := top.hist.ExpectedAlg()
		rec := manifest.Record{Root: filepath.Join(root, filepath.FromSlash(top.prefix)), Alg: alg, Start: start, Process: "in-place", Ignore: ignore}
		for _, r := range in.records {
			if r.kind != recordASC || !under(r.prefix, top.prefix) {
				continue
			}
			if a := r.hist.ExpectedAlg(); a != alg {
				return written, fmt.Errorf("%s records %s and %s records %s: one generation cannot record both (use --no-record)", top.path, alg, r.path, a)
			}
			for _, f := range gens[r] {
				f.Path = relTo(top.prefix, path.Join(r.prefix, f.Path))
				rec.Files = append(rec.Files, f)
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

// readList opens and parses a sums or xxh list.
func readList(name string, forced *hashing.Algorithm) (*manifest.List, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, usageFromStat(err)
	}
	defer f.Close()
	alg := forced
	if alg == nil {
		if a, ok := manifest.AlgorithmFromName(name); ok {
			alg = &a
		}
	}
	list, err := manifest.ParseSums(f, alg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return list, nil
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

// walkTree lists the regular files (relative path with '/' separators ->
// entry) and the directories below root through plan's walker: symlinks
// are not followed, skip(rel) drops an entry silently and ex what it
// matches, a directory with everything below it. An entry that cannot be
// walked is an error.
func walkTree(root string, skip func(rel string) bool, ex *plan.Excludes) (map[string]plan.Entry, []string, error) {
	t, err := plan.WalkWith(context.Background(), root, plan.WalkOptions{Excludes: ex, Skip: skip})
	if err != nil {
		return nil, nil, err
	}
	if len(t.Problems) > 0 {
		return nil, nil, t.Problems[0].Err
	}
	files := make(map[string]plan.Entry, len(t.Files)+len(t.HardLinks))
	for _, e := range t.Files {
		files[filepath.ToSlash(e.Rel)] = e
	}
	// A further name of a hard-linked file is a file of the tree too.
	for _, l := range t.HardLinks {
		files[filepath.ToSlash(l.Rel)] = l.Entry
	}
	dirs := make([]string, 0, len(t.Dirs))
	for _, d := range t.Dirs {
		if d.Rel != "" {
			dirs = append(dirs, filepath.ToSlash(d.Rel))
		}
	}
	return files, dirs, nil
}

// hashOrdered hashes paths with eng, path i in algOf(i), jobs at a time,
// and calls done for each in index order, from the calling goroutine.
// Once ctx is done, the paths not started are not handed to done.
// The bytes hashed are reported to progress (if not nil).
func hashOrdered(ctx context.Context, eng cvv.Engine, algOf func(int) hashing.Algorithm, paths []string, jobs int, progress func(int64), done func(i int, res cvv.HashResult, err error)) {
	workers.Ordered(ctx, jobs, len(paths), func(i int) (cvv.HashResult, error) {
		return copier.HashWithProgress(ctx, eng, paths[i], algOf(i), progress)
	}, func(i int, res cvv.HashResult, err error) error {
		done(i, res, err)
		return nil
	})
}
