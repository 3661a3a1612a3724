package manifest

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cvv-project/cvv/hashing"
	"github.com/cvv-project/cvv/internal/atomicfile"
)

// PartialVersion is the version of the partial record format.
const PartialVersion = 1

// Partial is one shard's part of the Record of a root, written by each
// shard of a sharded copy (cvv --shard I/N) when its part is done, and
// merged (MergePartials) into the one Record the job's manifests are
// written from once every shard's part is there.
type Partial struct {
	Version int `json:"version"`
	// Job identifies the job: the shards of one job have the same Job.
	Job string `json:"job"`
	// Shard and Count: this is part Shard of Count (0 <= Shard < Count).
	Shard int `json:"shard"`
	Count int `json:"count"`
	// Formats are the manifest formats the job writes (Format.String).
	Formats []string `json:"formats"`
	// Alg is the algorithm of every hash (hashing.Algorithm.String).
	Alg string `json:"alg"`
	// Start is when this shard started; the merged Record starts at the
	// earliest.
	Start   time.Time `json:"start"`
	Process string    `json:"process"`
	Ignore  []string  `json:"ignore,omitempty"`
	// Dirs are the Record's directories (every shard lists them all).
	Dirs []string `json:"dirs,omitempty"`
	// Unchanged: the shard changed nothing in the root (every file
	// skipped with the hash of its verification record).
	Unchanged bool `json:"unchanged"`
	// Host is the host the shard ran on.
	Host string `json:"host"`
	// Files are the shard's files, each with its place in the order of
	// the whole job's Record.
	Files []PartialFile `json:"files"`
}

// PartialFile is one file of a Partial: Seq orders the files of all the
// shards as one run over the whole tree would list them.
type PartialFile struct {
	Seq int `json:"seq"`
	File
}

// PartialName is the file name of part shard of count.
func PartialName(shard, count int) string {
	return fmt.Sprintf("shard-%05d-of-%05d.json", shard, count)
}

// WritePartial writes p to root/rel/PartialName atomically (a synced temp
// file renamed into place), reaching nothing below root through a symlink.
func WritePartial(root, rel string, p *Partial) error {
	p.Version = PartialVersion
	data, err := json.Marshal(p)
	if err != nil {
		return err
	}
	dir, err := atomicfile.OpenRoot(root)
	if err != nil {
		return err
	}
	defer dir.Close()
	return writeAtomic(dir, filepath.Join(root, rel, PartialName(p.Shard, p.Count)), append(data, '\n'))
}

// ReadPartials reads the partial records in dir (the other files there
// are left alone). A partial that cannot be read or parsed is an error
// wrapping ErrCorrupt.
func ReadPartials(dir string) ([]*Partial, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []*Partial
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "shard-") || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		var p Partial
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil || p.Version != PartialVersion || e.Name() != PartialName(p.Shard, p.Count) {
			return nil, fmt.Errorf("%w: %s: not a partial record of version %d (%v)", ErrCorrupt, filepath.Join(dir, e.Name()), PartialVersion, err)
		}
		out = append(out, &p)
	}
	return out, nil
}

// Missing returns the shards of a job of count parts that parts lacks.
func Missing(parts []*Partial, count int) []int {
	var missing []int
	for k := range count {
		if !slices.ContainsFunc(parts, func(p *Partial) bool { return p.Shard == k && p.Count == count }) {
			missing = append(missing, k)
		}
	}
	return missing
}

// MergePartials combines the parts of one job, one per shard, into the
// Record of root as one run over the whole tree would have made it: the
// files in Seq order, the earliest start. It returns the formats to write
// and whether every shard changed nothing. Parts of different jobs,
// counts, algorithms or formats, a missing or repeated shard, and a file
// listed twice are errors wrapping ErrInvalid.
func MergePartials(root string, parts []*Partial) (rec Record, formats []Format, unchanged bool, err error) {
	if len(parts) == 0 {
		return rec, nil, false, invalidf("no partial records to merge in %s", root)
	}
	first := parts[0]
	for _, p := range parts[1:] {
		if p.Job != first.Job || p.Count != first.Count || p.Alg != first.Alg || !slices.Equal(p.Formats, first.Formats) {
			return rec, nil, false, invalidf("%s: shard %d/%d and shard %d/%d are not parts of one job (job %s, %s, %v; job %s, %s, %v)",
				root, first.Shard, first.Count, p.Shard, p.Count, first.Job, first.Alg, first.Formats, p.Job, p.Alg, p.Formats)
		}
	}
	if m := Missing(parts, first.Count); len(m) > 0 || len(parts) != first.Count {
		return rec, nil, false, invalidf("%s: %d partial records for %d shards (missing: %v)", root, len(parts), first.Count, m)
	}
	alg, err := hashing.Parse(first.Alg)
	if err != nil {
		return rec, nil, false, invalidf("%s: %v", root, err)
	}
	if len(first.Formats) > 0 {
		if formats, err = ParseFormats(strings.Join(first.Formats, ",")); err != nil {
			return rec, nil, false, err
		}
	}
	rec = Record{Root: root, Alg: alg, Start: first.Start, Process: first.Process, Ignore: first.Ignore, Dirs: first.Dirs}
	unchanged = true
	var files []PartialFile
	for _, p := range parts {
		if p.Start.Before(rec.Start) {
			rec.Start = p.Start
		}
		unchanged = unchanged && p.Unchanged
		files = append(files, p.Files...)
	}
	slices.SortFunc(files, func(a, b PartialFile) int { return cmp.Compare(a.Seq, b.Seq) })
	for k, f := range files {
		if k > 0 && files[k-1].Seq == f.Seq {
			return rec, nil, false, invalidf("%s: entry %d (%s) is in two shards", root, f.Seq, f.Path)
		}
		rec.Files = append(rec.Files, f.File)
	}
	return rec, formats, unchanged, nil
}
