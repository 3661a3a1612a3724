package command

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cvv-project/cvv/cmd/internal/plan"
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

// verifyInput is what a verification checks: the records, their
// expectations and what is in the tree.
type verifyInput struct {
	// ignored are the patterns the root's ASC MHL history says its run
	// left out: such files are not reported new.
	ignored  *plan.Excludes
	records  []*verifyRecord
	expected []expectation
	present  map[string]plan.Entry
	dirs     []string
}

// loadVerifyInput reads the records for root: the --against list if
// against is set, else root's ASC MHL history and every classic MHL file in
// the tree. Everything is read and checked before anything is hashed or
// written; a corrupt record is an error wrapping manifest.ErrCorrupt.
//
// What ex matches is left out of the walk, but a file a record lists is
// still checked.
func loadVerifyInput(root, against string, forced *hashing.Algorithm, ex *plan.Excludes) (*verifyInput, error) {
	in, err := loadRecords(root, against, forced, ex)
	if err != nil {
		return nil, err
	}
	for _, e := range in.expected {
		if _, ok := in.present[e.path]; ok {
			continue
		}
		if st, err := os.Lstat(filepath.Join(root, filepath.FromSlash(e.path))); err == nil && st.Mode().IsRegular() {
			in.present[e.path] = plan.EntryOf(filepath.FromSlash(e.path), st)
		}
	}
	return in, nil
}

func loadRecords(root, against string, forced *hashing.Algorithm, ex *plan.Excludes) (*verifyInput, error) {
	in := &verifyInput{}
	skip := map[string]bool{}
	if against != "" {
		if rel, err := relUnder(root, against); err == nil {
			skip[rel] = true
		}
	}
	var err error
	in.present, in.dirs, err = walkTree(root, func(rel string) bool {
		return skip[rel] || path.Base(rel) == manifest.HistoryDir
	}, ex)
	if err != nil {
		return nil, err
	}
	if against != "" {
		if manifest.IsClassicMHLName(filepath.Base(against)) {
			return in, in.addClassic(root, against, forced)
		}
		return in, in.addSums(against, forced)
	}
	// The root's history and every child history below it (cards sealed
	// before their folder was): each checks the files it records.
	slices.Sort(in.dirs)
	for _, d := range append([]string{""}, in.dirs...) {
		if d != "" && !isDir(filepath.Join(root, filepath.FromSlash(d), manifest.HistoryDir)) {
			continue
		}
		if err := in.addASC(root, d, forced); err != nil && !errors.Is(err, manifest.ErrNoHistory) {
			return nil, err
		}
	}
	var classics []string
	for rel := range in.present {
		if manifest.IsClassicMHLName(rel) {
			classics = append(classics, rel)
		}
	}
	slices.Sort(classics)
	for _, rel := range classics {
		if err := in.addClassic(root, filepath.Join(root, filepath.FromSlash(rel)), forced); err != nil {
			return nil, err
		}
		delete(in.present, rel) // a record is not a file of the record
	}
	if len(in.records) == 0 {
		return nil, usage.Errorf("%s has no ASC MHL history (%s/) and no classic MHL file: give the list to check with --against FILE", root, manifest.HistoryDir)
	}
	return in, nil
}

// addASC adds the ASC MHL history of root/prefix.
func (in *verifyInput) addASC(root, prefix string, forced *hashing.Algorithm) error {
	dir := filepath.Join(root, filepath.FromSlash(prefix))
	hist, err := manifest.ReadHistory(dir)
	if err != nil {
		return err
	}
	alg, files, err := hist.Expected()
	if err != nil {
		return err
	}
	if forced != nil && *forced != alg {
		return usage.Errorf("the ASC MHL history of %s records %s, not %s", dir, alg, *forced)
	}
	if prefix == "" {
		in.ignored = recordedIgnore(hist)
	}
	r := &verifyRecord{kind: recordASC, path: filepath.Join(dir, manifest.HistoryDir), prefix: prefix, hist: hist}
	in.records = append(in.records, r)
	for _, f := range files {
		in.expected = append(in.expected, expectation{path: path.Join(prefix, f.Path), alg: alg, hash: f.Hash, size: f.Size, rec: r})
	}
	return nil
}

// addSums adds a sums or xxh list; its paths are relative to the root.
func (in *verifyInput) addSums(name string, forced *hashing.Algorithm) error {
	list, err := readList(name, forced)
	if err != nil {
		return err
	}
	r := &verifyRecord{kind: recordSums, path: name}
	in.records = append(in.records, r)
	for _, s := range list.Sums {
		in.expected = append(in.expected, expectation{path: s.Path, alg: list.Alg, hash: s.Hash, size: -1, rec: r})
	}
	return nil
}

// addClassic adds a classic MHL file. Its paths are relative to its own
// directory, which may be the root, below it or above it: entries that
// fall outside the root are not part of this verification.
func (in *verifyInput) addClassic(root, name string, forced *hashing.Algorithm) error {
	f, err := os.Open(name)
	if err != nil {
		return usageFromStat(err)
	}
	defer f.Close()
	list, err := manifest.ParseClassic(f)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	r := &verifyRecord{kind: recordClassic, path: name}
	in.records = append(in.records, r)
	base := filepath.Dir(name)
	for _, e := range list.Entries {
		rel, err := relUnder(root, filepath.Join(base, filepath.FromSlash(e.Path)))
		if err != nil {
			continue
		}
		if e.SizeOnly {
			in.expected = append(in.expected, expectation{path: rel, size: e.Size, sizeOnly: true, rec: r})
			continue
		}
		for _, h := range e.Hashes {
			if forced != nil && *forced != h.Alg {
				return usage.Errorf("%s records %s for %s, not %s", name, h.Alg, e.Path, *forced)
			}
			in.expected = append(in.expected, expectation{path: rel, alg: h.Alg, hash: h.Value, size: e.Size, rec: r})
		}
	}
	return nil
}

// algorithms lists the algorithms the expectations use, in order of
// first use.
func (in *verifyInput) algorithms() []string {
	var out []string
	for _, e := range in.expected {
		if !e.sizeOnly && !slices.Contains(out, e.alg.String()) {
			out = append(out, e.alg.String())
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

// recordedPaths is the set of paths some record lists.
func (in *verifyInput) recordedPaths() map[string]bool {
	m := make(map[string]bool, len(in.expected))
	for _, e := range in.expected {
		m[e.path] = true
	}
	return m
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
