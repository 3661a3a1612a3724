package command

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cvv-project/cvv/cmd/internal/plan"
	"github.com/cvv-project/cvv/cmd/internal/report"
	"github.com/cvv-project/cvv/cmd/internal/usage"
	"github.com/cvv-project/cvv/hashing"
	"github.com/cvv-project/cvv/hashing/manifest"
)

// Kinds of record a verification checks against.
const (
	recordASC     = "ascmhl"
	recordClassic = "mhl"
	recordSums    = "sums"
)

// verifyRecord is one hash list a verification checks against.
type verifyRecord struct {
	kind string
	// path is the list, or the history's ascmhl directory.
	path string
	// prefix is the history's root relative to the verified root ("" for
	// the root itself); ASC MHL only.
	prefix string
	hist   *manifest.History
	// expected yields what the record expects, in path order (of the
	// paths relative to the verified root).
	expected iter.Seq2[expectation, error]
	// close releases what reading the record holds.
	close func() error
	// algs are the algorithms its expectations used, in order of first
	// use (filled while verifying).
	algs []string
}

// expectation is what one record says about one file.
type expectation struct {
	path     string // relative to the verified root, '/' separators
	alg      hashing.Algorithm
	hash     string // "" for a size-only entry or one with only failed hashes
	size     int64  // -1 when not recorded
	sizeOnly bool
	rec      *verifyRecord
}

// verifyInput is what a verification checks: the records and what the
// tree holds besides its files.
type verifyInput struct {
	root string
	// skip leaves out of the walk what is not a file of the tree: the
	// --against list, the ascmhl folders.
	skip func(rel string) bool
	ex   *plan.Excludes
	// ignored are the patterns the root's ASC MHL history says its run
	// left out: such files are not reported new.
	ignored *plan.Excludes
	records []*verifyRecord
	// classics are the classic MHL files of the tree (records, not files
	// of the record).
	classics map[string]bool
	// dirs are the directories below the root; files and bytes count
	// the regular files the walk finds (the progress totals).
	dirs  []string
	files int
	bytes int64
}

// openVerifyInput opens the records for root: the --against list if
// against is set, else root's ASC MHL history, every child history below
// it and every classic MHL file in the tree. A first walk of the tree
// finds them (and counts the files); every record is read and checked
// before anything is hashed or written, and a corrupt record is an error
// wrapping manifest.ErrCorrupt. Nothing per file is held: each record
// hands its expectations out again, in path order, as they are merged
// with the walk. Close releases the records.
func openVerifyInput(ctx context.Context, root, against string, forced *hashing.Algorithm, ex *plan.Excludes) (*verifyInput, error) {
	in := &verifyInput{root: root, ex: ex}
	if against == "" {
		in.classics = map[string]bool{}
	}
	skipAgainst := ""
	if against != "" {
		if rel, err := relUnder(root, against); err == nil {
			skipAgainst = rel
		}
	}
	in.skip = func(rel string) bool { return rel == skipAgainst || path.Base(rel) == manifest.HistoryDir }
	var histories []string
	err := in.survey(ctx, func(f *plan.Found, rel string) {
		if against == "" && f.Kind == plan.Dir && isDir(filepath.Join(root, f.Rel, manifest.HistoryDir)) {
			histories = append(histories, rel)
		}
	})
	if err != nil {
		return nil, err
	}
	if err := in.open(against, forced, histories); err != nil {
		in.Close()
		return nil, err
	}
	return in, nil
}

// survey walks the tree once: it counts the regular files and their
// bytes, lists the directories, and hands every entry to see. An entry
// that cannot be walked is an error.
func (in *verifyInput) survey(ctx context.Context, see func(f *plan.Found, rel string)) error {
	_, err := plan.Scan(ctx, in.root, plan.WalkOptions{Excludes: in.ex, Skip: in.skip}, func(f *plan.Found) error {
		if f.Err != nil {
			return f.Err
		}
		rel := filepath.ToSlash(f.Rel)
		if in.classics != nil && f.Kind == plan.File && manifest.IsClassicMHLName(rel) {
			in.classics[rel] = true
		}
		switch f.Kind {
		case plan.File:
			if !in.ownFile(rel) {
				in.files++
				in.bytes += f.Size
			}
		case plan.Dir:
			if rel != "" {
				in.dirs = append(in.dirs, rel)
			}
		}
		see(f, rel)
		return nil
	})
	return err
}

// open opens the records: the --against list, or the histories (root
// relative, in path order) and the classic MHL files.
func (in *verifyInput) open(against string, forced *hashing.Algorithm, histories []string) error {
	if against != "" {
		if manifest.IsClassicMHLName(filepath.Base(against)) {
			return in.addClassic(against, forced)
		}
		return in.addSums(against, forced)
	}
	// The root's history and every child history below it (cards sealed
	// before their folder was): each checks the files it records.
	for _, d := range histories {
		if err := in.addASC(d, forced); err != nil && !errors.Is(err, manifest.ErrNoHistory) {
			return err
		}
	}
	classics := slices.Sorted(func(yield func(string) bool) {
		for rel := range in.classics {
			if !yield(rel) {
				return
			}
		}
	})
	for _, rel := range classics {
		if err := in.addClassic(filepath.Join(in.root, filepath.FromSlash(rel)), forced); err != nil {
			return err
		}
	}
	if len(in.records) == 0 {
		return usage.Errorf("%s has no ASC MHL history (%s/) and no classic MHL file: give the list to check with --against FILE", in.root, manifest.HistoryDir)
	}
	return nil
}

// Close releases the records.
func (in *verifyInput) Close() error {
	var errs []error
	for _, r := range in.records {
		if r.close != nil {
			errs = append(errs, r.close())
		}
	}
	return errors.Join(errs...)
}

// addASC adds the ASC MHL history of root/prefix.
func (in *verifyInput) addASC(prefix string, forced *hashing.Algorithm) error {
	dir := filepath.Join(in.root, filepath.FromSlash(prefix))
	hist, err := manifest.OpenHistory(dir)
	if err != nil {
		return err
	}
	alg := hist.ExpectedAlg()
	if forced != nil && *forced != alg {
		hist.Close()
		return usage.Errorf("the ASC MHL history of %s records %s, not %s", dir, alg, *forced)
	}
	if prefix == "" {
		in.ignored = recordedIgnore(hist)
	}
	r := &verifyRecord{kind: recordASC, path: filepath.Join(dir, manifest.HistoryDir), prefix: prefix, hist: hist, close: hist.Close}
	r.expected = func(yield func(expectation, error) bool) {
		for f, err := range hist.ExpectedFiles() {
			e := expectation{path: path.Join(prefix, f.Path), alg: alg, hash: f.Hash, size: f.Size, rec: r}
			if !yield(e, err) || err != nil {
				return
			}
		}
	}
	in.records = append(in.records, r)
	return nil
}

// addSums adds a sums or xxh list; its paths are relative to the root.
func (in *verifyInput) addSums(name string, forced *hashing.Algorithm) error {
	alg := forced
	if alg == nil {
		if a, ok := manifest.AlgorithmFromName(name); ok {
			alg = &a
		}
	}
	list, err := manifest.OpenSums(name, alg)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return usageFromStat(err)
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	r := &verifyRecord{kind: recordSums, path: name, close: list.Close}
	r.expected = func(yield func(expectation, error) bool) {
		for s, err := range list.Sums() {
			if !yield(expectation{path: s.Path, alg: list.Alg, hash: s.Hash, size: -1, rec: r}, err) || err != nil {
				return
			}
		}
	}
	in.records = append(in.records, r)
	return nil
}

// addClassic adds a classic MHL file. Its paths are relative to its own
// directory, which may be the root, below it or above it: entries that
// fall outside the root are not part of this verification. The file is
// read as a stream and its entries sorted by path in bounded memory
// (manifest.OpenClassic): nothing per file is held.
func (in *verifyInput) addClassic(name string, forced *hashing.Algorithm) error {
	f, err := os.Open(name)
	if err != nil {
		return usageFromStat(err)
	}
	defer f.Close()
	base := filepath.Dir(name)
	list, err := manifest.OpenClassic(bufio.NewReaderSize(f, 64<<10), func(e manifest.ClassicEntry) (manifest.ClassicEntry, bool, error) {
		rel, err := relUnder(in.root, filepath.Join(base, filepath.FromSlash(e.Path)))
		if err != nil {
			return e, false, nil
		}
		for _, h := range e.Hashes {
			if forced != nil && *forced != h.Alg {
				return e, false, usage.Errorf("%s records %s for %s, not %s", name, h.Alg, e.Path, *forced)
			}
		}
		e.Path = rel
		return e, true, nil
	})
	if err != nil {
		if errors.Is(err, manifest.ErrCorrupt) {
			return fmt.Errorf("%s: %w", name, err)
		}
		return err
	}
	r := &verifyRecord{kind: recordClassic, path: name, close: list.Close}
	r.expected = func(yield func(expectation, error) bool) {
		for e, err := range list.Entries() {
			if err != nil {
				yield(expectation{}, err)
				return
			}
			if e.SizeOnly {
				if !yield(expectation{path: e.Path, size: e.Size, sizeOnly: true, rec: r}, nil) {
					return
				}
				continue
			}
			for _, h := range e.Hashes {
				if !yield(expectation{path: e.Path, alg: h.Alg, hash: h.Value, size: e.Size, rec: r}, nil) {
					return
				}
			}
		}
	}
	in.records = append(in.records, r)
	return nil
}

// ownFile reports whether the file at rel is one of cvv's records, not
// a file of the record: the manifests, the classic MHL records, and the
// transfer reports a copy wrote beside them after them (at any depth: a
// copy's root may be a folder of the tree verified).
func (in *verifyInput) ownFile(rel string) bool {
	return in.classics[rel] || manifest.IsManifest(in.root, rel) || report.IsReportName(path.Base(rel))
}

// algorithms lists the algorithms the expectations used, record by
// record, in order of first use.
func (in *verifyInput) algorithms() []string {
	var out []string
	for _, r := range in.records {
		for _, a := range r.algs {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	if len(out) == 0 {
		out = []string{"size"}
	}
	return out
}

// recordPaths lists the records' paths.
func (in *verifyInput) recordPaths() []string {
	out := make([]string, len(in.records))
	for i, r := range in.records {
		out[i] = r.path
	}
	return out
}

// recordedIgnore compiles the ignore patterns of hist's newest generation;
// a pattern cvv cannot read is left out (it then only excludes nothing).
func recordedIgnore(hist *manifest.History) *plan.Excludes {
	var ok []string
	for _, p := range hist.Generations[len(hist.Generations)-1].Ignore {
		if _, err := plan.NewExcludes([]string{p}); err == nil {
			ok = append(ok, p)
		}
	}
	ex, _ := plan.NewExcludes(ok)
	return ex
}

// isDir reports whether p is a directory (not following a final symlink).
func isDir(p string) bool {
	st, err := os.Lstat(p)
	return err == nil && st.IsDir()
}

// relTo returns p relative to prefix; p is below prefix.
func relTo(prefix, p string) string {
	if prefix == "" {
		return p
	}
	return strings.TrimPrefix(p, prefix+"/")
}
