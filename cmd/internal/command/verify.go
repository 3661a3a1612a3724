package command

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/hashing"
	"github.com/cvv-project/cvv/hashing/manifest"
)

const verifyDescription = `Re-hashes the files under PATH, reading them from the media (O_DIRECT where
the filesystem allows it), several at a time, and checks them against

   - the newest ASC MHL generation in PATH/ascmhl (every file any generation
     recorded, against its original hash), or
   - a sums or xxh list given with --against FILE (md5sum/sha*sum/xxhsum
     output, cvv's own lists, TeraCopy lists). The algorithm comes from
     --hash, the file name (footage.md5, footage.xxh3.xxh, SHA256SUMS) or the
     digest length. PATH may also be the list itself: its directory is then
     the root.

Each recorded file is reported ok, changed or missing; a file under PATH that
no record lists is reported new (the ascmhl folder and cvv's own lists are
not files of the record). With ASC MHL, a new generation (process in-place)
records every checked file as verified or failed, and the chain file is
updated; --no-record skips that (read-only media).

Exit status: 0 every recorded file is present and matches; 1 a file changed,
is missing or could not be read; 2 bad usage or a corrupt manifest (nothing
written).

Examples:
   cvv verify /mnt/raid/day1
   cvv verify --against /mnt/raid/day1/day1.md5 /mnt/raid/day1
   cvv verify --json -j 8 /mnt/shuttle/day1.xxh3`

// verifyCommand is "cvv verify".
func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:        "verify",
		Usage:       "re-hash a tree against its ASC MHL history or a sums/xxh list",
		UsageText:   "cvv verify [flags] PATH",
		Description: verifyDescription,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "against", Usage: "check against the sums or xxh list `FILE` instead of PATH/ascmhl"},
			&cli.StringFlag{Name: "hash", Usage: "hash `ALG` of the --against list, when its name does not say"},
			&cli.BoolFlag{Name: "no-record", Usage: "do not append an ASC MHL generation"},
			&cli.StringFlag{Name: "engine", Value: "auto", Usage: "read engine: `auto`, uring or fallback"},
			&cli.IntFlag{Name: "jobs", Aliases: []string{"j"}, Value: 4, Usage: "files read at once"},
			&cli.BoolFlag{Name: "json", Usage: "print newline-delimited JSON events on stdout"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only problems and the summary"},
		},
		Action: verifyAction,
	}
}

// Verification statuses of one file.
const (
	statusOK      = "ok"
	statusChanged = "changed"
	statusMissing = "missing"
	statusNew     = "new"
	statusError   = "error"
)

type verifyFileEvent struct {
	Event    string `json:"event"`
	Time     string `json:"time"`
	Path     string `json:"path"`
	Status   string `json:"status"`
	Size     int64  `json:"size,omitempty"`
	Expected string `json:"expected,omitempty"`
	Actual   string `json:"actual,omitempty"`
	Error    string `json:"error,omitempty"`
}

type verifySummaryEvent struct {
	Event     string   `json:"event"`
	Version   int      `json:"version"`
	Time      string   `json:"time"`
	Root      string   `json:"root"`
	Against   string   `json:"against"`
	Hash      string   `json:"hash"`
	Engine    string   `json:"engine"`
	OK        int      `json:"ok"`
	Changed   int      `json:"changed"`
	Missing   int      `json:"missing"`
	New       int      `json:"new"`
	Errors    int      `json:"errors"`
	Recorded  []string `json:"recorded,omitempty"`
	Verified  bool     `json:"verified"`
	ElapsedMS int64    `json:"elapsed_ms"`
}

// verifyOutput prints verify's per-file lines, as text or JSON events.
type verifyOutput struct {
	out   *output
	quiet bool
}

func (v *verifyOutput) file(ev verifyFileEvent) {
	ev.Event = "verify_file"
	if v.out.json {
		ev.Time = now()
		v.out.emit(ev)
		return
	}
	if v.quiet && ev.Status == statusOK {
		return
	}
	line := fmt.Sprintf("%-7s  %s", ev.Status, displayName(ev.Path))
	switch ev.Status {
	case statusChanged:
		line += fmt.Sprintf("  (recorded %s, now %s)", ev.Expected, ev.Actual)
	case statusError:
		line += "  (" + ev.Error + ")"
	}
	v.out.println(line)
}

func verifyAction(c *cli.Context) error {
	start := time.Now()
	if c.NArg() != 1 {
		return usagef("verify takes one PATH (usage: cvv verify [flags] PATH)")
	}
	root, against := c.Args().First(), c.String("against")
	st, err := os.Stat(root)
	if err != nil {
		return usageFromStat(err)
	}
	if !st.IsDir() {
		if against != "" {
			return usagef("%s is not a directory", root)
		}
		// cvv verify footage.md5: the list's directory is the root.
		against, root = root, filepath.Dir(root)
	}
	jobs := c.Int("jobs")
	if jobs < 1 || jobs > 1024 {
		return usagef("bad --jobs %d (want 1 to 1024)", jobs)
	}
	kind, err := cvv.ParseEngineKind(c.String("engine"))
	if err != nil {
		return usagef("unknown engine %q (want auto, uring or fallback)", c.String("engine"))
	}
	var forced *hashing.Algorithm
	if s := c.String("hash"); s != "" {
		a, err := hashing.Parse(s)
		if err != nil {
			return usagef("unknown hash %q (want xxh3, xxh64, xxh128, md5, sha1, sha256 or xxh32)", s)
		}
		forced = &a
	}

	// What the record says.
	var (
		alg      hashing.Algorithm
		expected []manifest.File
		mhl      = against == ""
		skip     string // the --against list, when it lies under root
	)
	if mhl {
		hist, err := manifest.ReadHistory(root)
		if errors.Is(err, manifest.ErrNoHistory) {
			return usagef("%s has no ASC MHL history (%s/): give the list to check with --against FILE", root, manifest.HistoryDir)
		}
		if err != nil {
			return err
		}
		alg, expected = hist.Expected()
		if forced != nil && *forced != alg {
			return usagef("the ASC MHL history of %s records %s, not %s", root, alg, *forced)
		}
	} else {
		list, err := readList(against, forced)
		if err != nil {
			return err
		}
		alg = list.Alg
		for _, s := range list.Sums {
			expected = append(expected, manifest.File{Path: s.Path, Hash: s.Hash, Size: -1})
		}
		if rel, err := relUnder(root, against); err == nil {
			skip = rel
		}
	}

	// What is there.
	present, dirs, err := walkTree(root, func(rel string) bool {
		return rel == skip || rel == manifest.HistoryDir
	})
	if err != nil {
		return err
	}

	eng, note, err := openEngine(kind, cvv.Options{})
	if err != nil {
		return err
	}
	defer eng.Close()

	out := newOutput(c.App.Writer, c.App.ErrWriter, c.Bool("json"))
	vo := &verifyOutput{out: out, quiet: c.Bool("quiet")}
	if note != "" && !out.json {
		out.warn(note)
	}

	sum := verifySummaryEvent{Event: "verify_summary", Version: jsonVersion, Root: root, Hash: alg.String(), Engine: eng.Name()}
	if mhl {
		sum.Against = filepath.Join(root, manifest.HistoryDir)
	} else {
		sum.Against = against
	}

	// Missing files are known before any read.
	recorded := make(map[string]bool, len(expected))
	var toHash []manifest.File
	for _, f := range expected {
		recorded[f.Path] = true
		if _, ok := present[f.Path]; !ok {
			vo.file(verifyFileEvent{Path: f.Path, Status: statusMissing, Expected: f.Hash})
			sum.Missing++
			continue
		}
		toHash = append(toHash, f)
	}

	var (
		gen   []manifest.File
		paths = make([]string, len(toHash))
	)
	for i, f := range toHash {
		paths[i] = filepath.Join(root, filepath.FromSlash(f.Path))
	}
	hashOrdered(c.Context, eng, alg, paths, jobs, func(i int, res cvv.HashResult, err error) {
		f := toHash[i]
		ev := verifyFileEvent{Path: f.Path, Expected: f.Hash}
		info := present[f.Path]
		switch {
		case err != nil:
			if c.Context.Err() != nil {
				return
			}
			ev.Status, ev.Error = statusError, errString(err)
			sum.Errors++
		case f.Hash != "" && strings.EqualFold(res.Hash, f.Hash) && (f.Size < 0 || f.Size == res.Size):
			ev.Status, ev.Actual, ev.Size = statusOK, res.Hash, res.Size
			sum.OK++
		default:
			ev.Status, ev.Actual, ev.Size = statusChanged, res.Hash, res.Size
			sum.Changed++
		}
		vo.file(ev)
		if err == nil {
			action := "verified"
			if ev.Status != statusOK {
				action = "failed"
			}
			gen = append(gen, manifest.File{Path: f.Path, Size: res.Size, ModTime: info.ModTime(), Hash: res.Hash, Action: action, HashDate: time.Now()})
		}
	})
	if err := c.Context.Err(); err != nil {
		return err
	}

	var newFiles []string
	for rel := range present {
		if !recorded[rel] && !manifest.IsManifest(root, rel) {
			newFiles = append(newFiles, rel)
		}
	}
	slices.Sort(newFiles)
	for _, rel := range newFiles {
		vo.file(verifyFileEvent{Path: rel, Status: statusNew, Size: present[rel].Size()})
		sum.New++
	}

	var recordErr error
	if mhl && !c.Bool("no-record") {
		rec := manifest.Record{Root: root, Alg: alg, Files: gen, Dirs: dirs, Start: start, Process: "in-place"}
		written, err := manifest.Write(rec, []manifest.Format{manifest.MHL})
		sum.Recorded = written
		recordErr = err
	}

	sum.Verified = sum.Changed == 0 && sum.Missing == 0 && sum.Errors == 0 && recordErr == nil
	sum.Time = now()
	sum.ElapsedMS = time.Since(start).Milliseconds()
	if out.json {
		out.emit(sum)
	} else {
		for _, w := range sum.Recorded {
			if strings.HasSuffix(w, ".mhl") {
				out.println("cvv verify: recorded " + displayName(w))
			}
		}
		out.println(fmt.Sprintf("cvv verify: %d files against %s (%s): %d ok, %d changed, %d missing, %d new, %d unreadable",
			len(expected), displayName(sum.Against), alg, sum.OK, sum.Changed, sum.Missing, sum.New, sum.Errors))
	}
	if recordErr != nil {
		return fmt.Errorf("writing the ASC MHL generation: %w", recordErr)
	}
	if !sum.Verified {
		return fmt.Errorf("%w: %w: %d changed, %d missing, %d unreadable", errFailures, cvv.ErrVerifyMismatch, sum.Changed, sum.Missing, sum.Errors)
	}
	return nil
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
		return usagef("%s: no such file or directory", pe.Path)
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

// walkTree lists the regular files (relative path -> info) and the
// directories below root, '/' separators, without following symlinks.
// skip(rel) drops an entry (and everything below a directory).
func walkTree(root string, skip func(rel string) bool) (map[string]fs.FileInfo, []string, error) {
	files := map[string]fs.FileInfo{}
	var dirs []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if skip != nil && skip(rel) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		switch {
		case d.IsDir():
			dirs = append(dirs, rel)
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			files[rel] = info
		}
		return nil
	})
	return files, dirs, err
}

// hashOrdered hashes paths with eng, jobs at a time, and calls done for
// each in index order, from the calling goroutine. After ctx is done the
// remaining paths get ctx's error.
func hashOrdered(ctx context.Context, eng cvv.Engine, alg hashing.Algorithm, paths []string, jobs int, done func(i int, res cvv.HashResult, err error)) {
	type outcome struct {
		res cvv.HashResult
		err error
	}
	results := make([]chan outcome, len(paths))
	for i := range results {
		results[i] = make(chan outcome, 1)
	}
	sem := make(chan struct{}, jobs)
	go func() {
		for i, p := range paths {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				results[i] <- outcome{err: ctx.Err()}
				continue
			}
			go func() {
				defer func() { <-sem }()
				res, err := eng.Hash(ctx, p, alg)
				results[i] <- outcome{res, err}
			}()
		}
	}()
	for i := range paths {
		o := <-results[i]
		done(i, o.res, o.err)
	}
}

// output writes lines or JSON events to stdout and warnings to stderr; it
// is safe for concurrent use.
type output struct {
	mu     sync.Mutex
	stdout io.Writer
	stderr io.Writer
	json   bool
}

func newOutput(stdout, stderr io.Writer, json bool) *output {
	return &output{stdout: stdout, stderr: stderr, json: json}
}

func (o *output) println(line string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	fmt.Fprintln(o.stdout, line)
}

func (o *output) write(s string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	io.WriteString(o.stdout, s)
}

func (o *output) warn(msg string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	fmt.Fprintln(o.stderr, "cvv: "+msg)
}

func (o *output) emit(v any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	enc := json.NewEncoder(o.stdout)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}
