package manifest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/cvv-project/cvv/hashing"
)

// The line formats of a sums file, chosen so that the reference tool of
// each algorithm checks the file as it is, run from Root:
//
//	md5, sha1, sha256, xxh64, xxh128:  HASH  path        (md5sum -c, xxhsum -c, ...)
//	xxh3:                              XXH3 (path) = HASH (xxhsum -c; xxhsum 0.8.1
//	                                   reads no other xxh3 line, later versions
//	                                   read this one too)
//
// and of an xxh list (TeraCopy): "HASH *path" for every algorithm.
//
// A path with a backslash, a newline or a carriage return is written as
// coreutils does: the line starts with a backslash and the path has "\\",
// "\n", "\r" escapes. (xxhsum 0.8.1 does not understand these escapes;
// coreutils does.)

// renderSums renders rec as a sums (f == Sums) or xxh (f == XXH) list.
func renderSums(rec Record, f Format) []byte {
	var b bytes.Buffer
	_ = writeSums(&b, rec, f) // a bytes.Buffer does not fail
	return b.Bytes()
}

// writeSums writes rec to w as a sums (f == Sums) or xxh (f == XXH) list,
// some 32 KiB of lines at a time, rendered into one buffer.
func writeSums(w io.Writer, rec Record, f Format) error {
	tag := ""
	if f == Sums && rec.Alg == hashing.XXH3 {
		tag = bsdTag(rec.Alg)
	}
	var b []byte
	for file, err := range rec.files() {
		if err != nil {
			return err
		}
		if f == XXH {
			b = appendXXHLine(b, file.Hash, file.Path)
		} else {
			b = appendSumLine(b, tag, file.Hash, file.Path)
		}
		if len(b) >= 32<<10 {
			if _, err := w.Write(b); err != nil {
				return err
			}
			b = b[:0]
		}
	}
	if len(b) > 0 {
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// SumLine formats one line of a sums list, newline included: GNU
// "HASH  path", or with tag the BSD "TAG (path) = HASH" that md5sum --tag
// and xxhsum --tag print (TAG is XXH3, XXH64, XXH128, MD5, SHA1 or
// SHA256). A path with a backslash, newline or carriage return is escaped
// as coreutils does. ParseSums reads both forms.
func SumLine(alg hashing.Algorithm, hash, path string, tag bool) string {
	name := ""
	if tag {
		name = bsdTag(alg)
	}
	return string(appendSumLine(nil, name, hash, path))
}

// bsdTag is the tag of alg's BSD-style lines, "" for none.
func bsdTag(alg hashing.Algorithm) string {
	for name, a := range bsdTags {
		if a == alg {
			return name
		}
	}
	return ""
}

// appendSumLine appends SumLine's line, tagged with tag unless it is
// empty.
func appendSumLine(b []byte, tag, hash, path string) []byte {
	p, escaped := escapePath(path)
	if escaped {
		b = append(b, '\\')
	}
	if tag != "" {
		b = append(b, tag...)
		b = append(b, " ("...)
		b = append(b, p...)
		b = append(b, ") = "...)
		b = appendLower(b, hash)
		return append(b, '\n')
	}
	b = appendLower(b, hash)
	b = append(b, "  "...)
	b = append(b, p...)
	return append(b, '\n')
}

// appendXXHLine appends a line of an xxh list: "hash *path", escaped as
// SumLine's.
func appendXXHLine(b []byte, hash, path string) []byte {
	p, escaped := escapePath(path)
	if escaped {
		b = append(b, '\\')
	}
	b = appendLower(b, hash)
	b = append(b, " *"...)
	b = append(b, p...)
	return append(b, '\n')
}

// appendLower appends s in lower case (strings.ToLower's), without a
// new string where it is lower case already.
func appendLower(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || 'A' <= c && c <= 'Z' {
			return append(b, strings.ToLower(s)...)
		}
	}
	return append(b, s...)
}

func escapePath(p string) (string, bool) {
	if !strings.ContainsAny(p, "\\\n\r") {
		return p, false
	}
	r := strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\r", `\r`)
	return r.Replace(p), true
}

// unescapePath undoes escapePath; ok is false for an unknown escape.
func unescapePath(p string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] != '\\' {
			b.WriteByte(p[i])
			continue
		}
		i++
		if i == len(p) {
			return "", false
		}
		switch p[i] {
		case '\\':
			b.WriteByte('\\')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		default:
			return "", false
		}
	}
	return b.String(), true
}

// Sum is one entry of a sums or xxh list.
type Sum struct {
	// Path is relative to the list's directory, '/' separators.
	Path string
	// Hash is the lower-case hex digest.
	Hash string
}

// List is a parsed sums or xxh list.
type List struct {
	// Alg is the algorithm of every Hash.
	Alg hashing.Algorithm
	// Sums are the entries in file order.
	Sums []Sum
}

// bsdTags maps the tags of BSD-style lines ("MD5 (path) = HASH") to their
// algorithm.
var bsdTags = map[string]hashing.Algorithm{
	"XXH3": hashing.XXH3, "XXH64": hashing.XXH64, "XXH128": hashing.XXH128,
	"MD5": hashing.MD5, "SHA1": hashing.SHA1, "SHA256": hashing.SHA256,
	"XXH32": hashing.XXH32,
}

// AlgorithmFromName returns the algorithm a list's file name announces
// (footage.md5, footage.xxh3.xxh, x.sha256sum), if any.
func AlgorithmFromName(name string) (hashing.Algorithm, bool) {
	base := strings.ToLower(filepath.Base(name))
	base = strings.TrimSuffix(base, ".xxh")
	ext := strings.TrimSuffix(filepath.Ext(base), "sum")
	if ext == "" {
		if strings.HasSuffix(base, "sums") || strings.HasSuffix(base, "sum") {
			// MD5SUMS, SHA256SUMS
			ext = strings.TrimSuffix(strings.TrimSuffix(base, "s"), "sum")
		} else {
			return 0, false
		}
	}
	alg, err := hashing.Parse(strings.TrimPrefix(ext, "."))
	if err != nil {
		return 0, false
	}
	return alg, true
}

// ParseSums reads a sums or xxh list: GNU lines ("HASH  path",
// "HASH *path", with the coreutils backslash escapes), BSD tag lines
// ("XXH3 (path) = HASH"), xxhsum's "XXH3_HASH  path"; blank lines and
// comments ('#' or ';') are skipped, CRLF line ends accepted. alg is the
// algorithm if the caller knows it (from --hash or AlgorithmFromName);
// with nil it comes from the tag lines or the digest length (8 hex digits
// read as xxh32 and 16 as xxh64, as xxhsum -c does; 32 is ambiguous and an error). Every
// problem (malformed line, wrong digest length, absolute path, a path with
// "..", a path listed twice) is an error wrapping ErrCorrupt.
func ParseSums(r io.Reader, alg *hashing.Algorithm) (*List, error) {
	var list List
	seen := map[string]bool{}
	var err error
	list.Alg, err = scanSums(r, alg, func(line int, s Sum) error {
		if seen[s.Path] {
			return corrupt(line, fmt.Sprintf("%q listed twice", s.Path))
		}
		seen[s.Path] = true
		list.Sums = append(list.Sums, s)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &list, nil
}

// scanSums reads a sums or xxh list as ParseSums does, line by line,
// and calls visit with each entry (and its line number) as it is read:
// nothing per line is held. It returns the list's algorithm. An error
// from visit is returned as it is.
func scanSums(r io.Reader, alg *hashing.Algorithm, visit func(line int, s Sum) error) (hashing.Algorithm, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var listAlg hashing.Algorithm
	rows := 0
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		row, err := parseSumLine(n, line)
		if err != nil {
			return 0, err
		}
		if rows++; rows == 1 {
			if listAlg, err = listAlgorithm(row, alg); err != nil {
				return 0, err
			}
		}
		s, err := row.check(listAlg)
		if err != nil {
			return 0, err
		}
		if err := visit(n, s); err != nil {
			return 0, err
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if rows == 0 {
		return 0, fmt.Errorf("%w: no checksum lines", ErrCorrupt)
	}
	return listAlg, nil
}

// check checks the row against the list's algorithm and returns its entry.
func (row sumRow) check(alg hashing.Algorithm) (Sum, error) {
	if row.tag != nil && *row.tag != alg {
		return Sum{}, corrupt(row.line, fmt.Sprintf("%s line in a %s list", *row.tag, alg))
	}
	if err := checkHex(row.hash, alg); err != nil {
		return Sum{}, corrupt(row.line, err.Error())
	}
	p := strings.TrimPrefix(row.path, "./")
	if err := checkPath(p); err != nil {
		return Sum{}, corrupt(row.line, err.Error())
	}
	return Sum{Path: p, Hash: row.hash}, nil
}

// sumRow is one parsed line of a sums list, not yet checked.
type sumRow struct {
	line       int
	path, hash string
	tag        *hashing.Algorithm
}

// parseSumLine parses line n: "HASH  path", "HASH *path", "XXH3_HASH  path"
// or a BSD tag line "TAG (path) = HASH", any of them with a leading
// backslash when the path is escaped.
func parseSumLine(n int, line string) (sumRow, error) {
	escaped := false
	if line[0] == '\\' {
		escaped = true
		line = line[1:]
	}
	row := sumRow{line: n}
	tag, rest, _ := strings.Cut(line, " (")
	if t, isTag := bsdTags[tag]; isTag {
		// BSD: TAG (path) = HASH
		j := strings.LastIndex(rest, ") = ")
		if j < 0 {
			return row, corrupt(n, "malformed tag line")
		}
		row.tag = &t
		row.path, row.hash = rest[:j], rest[j+4:]
	} else {
		i := strings.IndexByte(line, ' ')
		if i <= 0 || i+1 >= len(line) || (line[i+1] != ' ' && line[i+1] != '*') {
			return row, corrupt(n, "malformed line (want \"HASH  path\")")
		}
		row.hash, row.path = line[:i], line[i+2:]
		if h, ok := strings.CutPrefix(row.hash, "XXH3_"); ok {
			t := hashing.XXH3
			row.tag, row.hash = &t, h
		}
	}
	if escaped {
		p, ok := unescapePath(row.path)
		if !ok {
			return row, corrupt(n, "bad backslash escape in path")
		}
		row.path = p
	}
	row.hash = strings.ToLower(row.hash)
	return row, nil
}

// listAlgorithm is the list's algorithm: alg when the caller knows it, else
// the first line's tag, else what its digest length says.
func listAlgorithm(first sumRow, alg *hashing.Algorithm) (hashing.Algorithm, error) {
	switch {
	case alg != nil:
		return *alg, nil
	case first.tag != nil:
		return *first.tag, nil
	}
	switch len(first.hash) {
	case 8:
		return hashing.XXH32, nil
	case 16:
		return hashing.XXH64, nil
	case 40:
		return hashing.SHA1, nil
	case 64:
		return hashing.SHA256, nil
	case 32:
		return 0, fmt.Errorf("%w: 32-digit digests may be md5 or xxh128: name the algorithm (--hash)", ErrCorrupt)
	}
	return 0, corrupt(first.line, fmt.Sprintf("no hash algorithm has %d-digit digests", len(first.hash)))
}

func corrupt(line int, msg string) error {
	return fmt.Errorf("%w: line %d: %s", ErrCorrupt, line, msg)
}
