package manifest

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cvv-project/cvv/hashing"
)

// splitRecord deals rec's files to n partial records, round robin, as the
// shards of a job would write them.
func splitRecord(rec Record, n int, job string) []*Partial {
	parts := make([]*Partial, n)
	for k := range parts {
		parts[k] = &Partial{Job: job, Shard: k, Count: n, Formats: []string{"sums", "mhl"}, Alg: rec.Alg.String(),
			Start: rec.Start.Add(time.Duration(k) * time.Second), Process: "transfer", Dirs: rec.Dirs, Unchanged: k > 0}
	}
	for seq, f := range rec.Files {
		p := parts[(seq*7)%n]
		p.Files = append(p.Files, PartialFile{Seq: seq, File: f})
	}
	return parts
}

// The parts of a record, written by WritePartial and read back in any
// order, merge into the record: the same files (in a Spool, in path
// order), the earliest start; and what it writes is what Write writes
// from the whole record. ReadPartials keeps no part's files, and the
// directories of one part only.
func TestMergePartials(t *testing.T) {
	root, rec := tree(t, "day1", hashing.XXH64, interopFiles, "empty dir")
	slices.SortFunc(rec.Files, func(a, b File) int { return strings.Compare(b.Path, a.Path) }) // some order, not the sorted one
	parts := splitRecord(rec, 3, "job1")
	if err := os.Mkdir(filepath.Join(root, ".state"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, p := range slices.Backward(parts) {
		if err := WritePartial(root, ".state", p); err != nil {
			t.Fatal(err)
		}
	}
	read, err := ReadPartials(filepath.Join(root, ".state"))
	if err != nil || len(read) != 3 {
		t.Fatalf("ReadPartials: %d parts, %v", len(read), err)
	}
	for k, p := range read {
		if p.Files != nil || (k > 0) != (p.Dirs == nil) {
			t.Errorf("part %d read with %d files and %d directories: want none, and the directories of the first only", k, len(p.Files), len(p.Dirs))
		}
	}
	got, formats, unchanged, err := MergePartials(root, read)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Spool.Close()
	if !slices.Equal(formats, []Format{Sums, MHL}) || unchanged {
		t.Errorf("formats %v, unchanged %v; want [sums mhl], false (shard 0 changed something)", formats, unchanged)
	}
	var merged []File
	for f, err := range got.files() {
		if err != nil {
			t.Fatal(err)
		}
		merged = append(merged, f)
	}
	want := slices.SortedFunc(slices.Values(rec.Files), compareFilePath)
	if !got.Start.Equal(rec.Start) || !slices.Equal(got.Dirs, rec.Dirs) || len(got.Files) > 0 || !slices.EqualFunc(merged, want, func(a, b File) bool {
		return a.Path == b.Path && a.Hash == b.Hash && a.Size == b.Size && a.ModTime.Equal(b.ModTime)
	}) {
		t.Errorf("merged record:\n%+v\n%+v\nwant\n%+v", got, merged, rec)
	}
	one, _ := tree(t, "day1", hashing.XXH64, interopFiles, "empty dir")
	rec.Root = one
	if _, err := Write(rec, []Format{Sums}); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(got, []Format{Sums}); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(FileName(one, Sums, rec.Alg))
	b, _ := os.ReadFile(FileName(root, Sums, rec.Alg))
	if !bytes.Equal(a, b) || len(a) == 0 {
		t.Errorf("sums from the merged parts:\n%s\nfrom the whole record:\n%s", b, a)
	}
}

// Parts that cannot make one record are refused before anything is
// written: a missing or repeated shard, another job, another algorithm, a
// file in two parts. A partial record that is not one is corrupt.
func TestMergePartialsRefuses(t *testing.T) {
	_, rec := tree(t, "day1", hashing.XXH64, interopFiles)
	cases := map[string]func([]*Partial) []*Partial{
		"missing shard":  func(p []*Partial) []*Partial { return p[:2] },
		"repeated shard": func(p []*Partial) []*Partial { return append(p[:2], p[0]) },
		"other job":      func(p []*Partial) []*Partial { p[1].Job = "job2"; return p },
		"other alg":      func(p []*Partial) []*Partial { p[2].Alg = "md5"; return p },
		"file twice": func(p []*Partial) []*Partial {
			p[1].Files = append(p[1].Files, p[0].Files[0])
			return p
		},
	}
	for name, spoil := range cases {
		got, _, _, err := MergePartials("/r", spoil(splitRecord(rec, 3, "job1")))
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
		if got.Spool != nil {
			t.Errorf("%s: a record with a spool", name)
			got.Spool.Close()
		}
	}
	if m := Missing(splitRecord(rec, 3, "job1")[1:], 3); !slices.Equal(m, []int{0}) {
		t.Errorf("Missing = %v, want [0]", m)
	}
	for _, bad := range []string{
		`{"version":1,"surprise":true}`,
		`{"version":1,"shard":0,"count":2,"files":[{"seq":1,"Path":"a","surprise":1}]}`,
		`{"version":1,"shard":0,"count":2,"files":[{"seq":1,"Path":"a"}`,
		`{"version":1,"shard":0,"count":2,"dirs":["a",1]}`,
		`{"version":1,"shard":0,"count":2,"files":[]} {}`,
		`{"version":2,"shard":0,"count":2,"files":[]}`,
		`{"version":1,"shard":1,"count":2,"files":[]}`,
		`[]`,
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, PartialName(0, 2)), []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadPartials(dir); !errors.Is(err, ErrCorrupt) {
			t.Errorf("ReadPartials of a bad part %s: %v, want ErrCorrupt", bad, err)
		}
	}
}
