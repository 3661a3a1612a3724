package manifest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	// the whole job's Record. ReadPartials leaves them out (MergePartials
	// reads them again, as a stream).
	Files []PartialFile `json:"files"`
	// file is where ReadPartials read the part.
	file string
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

// ReadPartials reads and checks the partial records in dir (the other
// files there are left alone), without keeping their files: Files stays
// nil, and MergePartials reads them again as a stream. Every part lists
// the job's directories; only the first one returned keeps them (Dirs).
// A partial that cannot be read or parsed is an error wrapping ErrCorrupt.
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
		name := filepath.Join(dir, e.Name())
		p, err := readPartial(name, len(out) == 0, nil)
		if err == nil && e.Name() != PartialName(p.Shard, p.Count) {
			err = fmt.Errorf("%w: %s: shard %d of %d", ErrCorrupt, name, p.Shard, p.Count)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// readPartial reads the partial record in the file name, handing each
// of its files to file (unless nil) as it is decoded, and keeping its
// directories if dirs is set. A part that is not one is an error
// wrapping ErrCorrupt; an error from file is returned as it is.
func readPartial(name string, dirs bool, file func(PartialFile) error) (*Partial, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	corrupt := func(err error) error {
		return fmt.Errorf("%w: %s: not a partial record of version %d (%v)", ErrCorrupt, name, PartialVersion, err)
	}
	dec := json.NewDecoder(bufio.NewReaderSize(f, 64<<10))
	dec.DisallowUnknownFields()
	head := map[string]json.RawMessage{}
	var fileErr error
	err = eachJSONField(dec, func(key string) error {
		switch key {
		case "files":
			return eachJSONElement(dec, func() error {
				var pf PartialFile
				if err := dec.Decode(&pf); err != nil || file == nil {
					return err
				}
				if fileErr = file(pf); fileErr != nil {
					return fileErr
				}
				return nil
			})
		case "dirs":
			if dirs {
				break
			}
			return eachJSONElement(dec, func() error { return dec.Decode(new(string)) })
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		head[key] = raw
		return nil
	})
	if fileErr != nil {
		return nil, fileErr
	}
	var p Partial
	if err == nil {
		err = decodeHead(head, &p)
	}
	if err == nil && p.Version != PartialVersion {
		err = fmt.Errorf("version %d", p.Version)
	}
	if err != nil {
		return nil, corrupt(err)
	}
	p.file = name
	return &p, nil
}

// decodeHead decodes the fields of a partial record but its files into p,
// refusing unknown ones.
func decodeHead(head map[string]json.RawMessage, p *Partial) error {
	data, err := json.Marshal(head)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(p)
}

// eachJSONField reads the JSON object dec is at, calling field with each
// key, which must decode the value.
func eachJSONField(dec *json.Decoder, field func(key string) error) error {
	if err := expectDelim(dec, '{'); err != nil {
		return err
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, ok := tok.(string)
		if !ok {
			return fmt.Errorf("key %v", tok)
		}
		if err := field(key); err != nil {
			return err
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("data after the record (%v)", err)
	}
	return nil
}

// eachJSONElement reads the JSON array dec is at, calling elem for each
// element, which must decode it.
func eachJSONElement(dec *json.Decoder, elem func() error) error {
	if err := expectDelim(dec, '['); err != nil {
		return err
	}
	for dec.More() {
		if err := elem(); err != nil {
			return err
		}
	}
	return expectDelim(dec, ']')
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != want {
		return fmt.Errorf("want %v, have %v", want, tok)
	}
	return nil
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
// Record of root as one run over the whole tree would have made it: its
// files in a Spool (read from each part's file as a stream for parts
// ReadPartials read, sorted by path through temporary files: nothing per
// file is held), the earliest start. It returns the formats to write and
// whether every shard changed nothing; the caller must Close rec.Spool.
// Parts of different jobs, counts, algorithms or formats, a missing or
// repeated shard, and a file listed twice are errors wrapping ErrInvalid.
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
	for _, p := range parts {
		if p.Start.Before(rec.Start) {
			rec.Start = p.Start
		}
		unchanged = unchanged && p.Unchanged
	}
	if rec.Spool, err = spoolParts(root, parts); err != nil {
		return Record{}, nil, false, err
	}
	return rec, formats, unchanged, nil
}

// spoolParts adds the files of every part to a new FileSpool and sorts
// it: a path in two parts is an error wrapping ErrInvalid.
func spoolParts(root string, parts []*Partial) (*FileSpool, error) {
	s := NewFileSpool()
	add := func(f PartialFile) error { return s.Add(f.File) }
	for _, p := range parts {
		var err error
		if p.file != "" {
			_, err = readPartial(p.file, false, add)
		}
		for _, f := range p.Files {
			if err = add(f); err != nil {
				break
			}
		}
		if err != nil {
			return nil, errors.Join(err, s.Close())
		}
	}
	if err := s.finish(); err != nil {
		return nil, errors.Join(invalidf("%s: %w (in two shards)", root, err), s.Close())
	}
	return s, nil
}
