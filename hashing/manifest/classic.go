package manifest

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"iter"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/ianaindex"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"

	"github.com/cvv-project/cvv/hashing"
)

// Classic MHL (Media Hash List 1.0 and 1.1, mediahashlist.org) is the
// single-file format that offload tools wrote before ASC MHL and many
// still write: <folder>_<YYYY-MM-DD>_<HHMMSS>.mhl beside or above the
// files, one <hash> per file with a path relative to the .mhl file's
// directory.

// ClassicEntry is one <hash> of a classic MHL file.
type ClassicEntry struct {
	// Path is relative to the .mhl file's directory, '/' separators.
	Path string
	// Size is the recorded size in bytes.
	Size int64
	// ModTime is the recorded lastmodificationdate (zero if none).
	ModTime time.Time
	// Hashes are the recorded digests as canonical hex of their
	// algorithm: xxhash64 (little-endian) and xxhash (decimal) are
	// converted. Empty for a <null/> entry.
	Hashes []Hash
	// SizeOnly is true for a <null/> entry: only the size can be checked.
	SizeOnly bool
}

// ClassicList is a parsed classic MHL file.
type ClassicList struct {
	// Version is the hashlist version attribute ("1.0", "1.1").
	Version string
	// Tool is the creatorinfo tool, if any.
	Tool string
	// Entries are the files, in file order.
	Entries []ClassicEntry
}

type xmlClassic struct {
	XMLName xml.Name `xml:"hashlist"`
	Version string   `xml:"version,attr"`
	Creator *struct {
		Tool string `xml:"tool"`
	} `xml:"creatorinfo"`
	Hashes []xmlClassicHash `xml:"hash"`
}

type xmlClassicHash struct {
	File       *string   `xml:"file"`
	Size       *string   `xml:"size"`
	LastMod    string    `xml:"lastmodificationdate"`
	MD5        *string   `xml:"md5"`
	SHA1       *string   `xml:"sha1"`
	XXHash     *string   `xml:"xxhash"`
	XXHash64   *string   `xml:"xxhash64"`
	XXHash64BE *string   `xml:"xxhash64be"`
	Null       *struct{} `xml:"null"`
}

// IsClassicMHLName reports whether name, a path relative to a tree with
// '/' separators, may be a classic MHL file: a .mhl file that is not part
// of an ASC MHL history.
func IsClassicMHLName(rel string) bool {
	if !strings.EqualFold(filepath.Ext(rel), ".mhl") {
		return false
	}
	for _, el := range strings.Split(rel, "/") {
		if el == HistoryDir {
			return false
		}
	}
	return true
}

// ParseClassic reads a classic MHL file (hashlist version 1.x, with or
// without a namespace) in UTF-8, UTF-16 (with a byte order mark or
// recognizable without one) or any encoding its XML declaration names.
// Errors wrap ErrCorrupt. It holds every entry: OpenClassic reads one as
// a stream.
func ParseClassic(r io.Reader) (*ClassicList, error) {
	seen := map[string]bool{}
	var entries []ClassicEntry
	list, err := scanClassic(r, func(e ClassicEntry) error {
		if seen[e.Path] {
			return fmt.Errorf("%w: %q recorded twice", ErrCorrupt, e.Path)
		}
		seen[e.Path] = true
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	list.Entries = entries
	return list, nil
}

// scanClassic reads a classic MHL file token by token (see ParseClassic)
// and hands each entry to entry, in file order, as it is read: nothing
// per entry is held. It returns the list without its Entries. Errors
// wrap ErrCorrupt, except an error from entry, returned as it is.
func scanClassic(r io.Reader, entry func(ClassicEntry) error) (*ClassicList, error) {
	r, err := utf8Reader(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	d := xml.NewDecoder(r)
	d.Strict = true
	d.CharsetReader = classicCharset
	root, err := rootElement(d)
	if err != nil {
		return nil, err
	}
	if root.Name.Space == mhlNamespace {
		return nil, fmt.Errorf("%w: an ASC MHL generation outside an %s folder, not a classic MHL file", ErrCorrupt, HistoryDir)
	}
	if root.Name.Local != "hashlist" {
		return nil, fmt.Errorf("%w: expected element <hashlist> but have <%s>", ErrCorrupt, root.Name.Local)
	}
	list := &ClassicList{}
	for _, a := range root.Attr {
		if a.Name.Local == "version" && a.Name.Space == "" {
			list.Version = a.Value
		}
	}
	if !strings.HasPrefix(list.Version, "1.") {
		return nil, fmt.Errorf("%w: hashlist version %q, want 1.x", ErrCorrupt, list.Version)
	}
	n := 0
	err = eachChild(d, func(t xml.StartElement) error {
		switch t.Name.Local {
		case "creatorinfo":
			var c struct {
				Tool string `xml:"tool"`
			}
			if err := d.DecodeElement(&c, &t); err != nil {
				return err
			}
			list.Tool = strings.TrimSpace(c.Tool)
			return nil
		case "hash":
			var xh xmlClassicHash
			if err := d.DecodeElement(&xh, &t); err != nil {
				return err
			}
			n++
			e, err := xh.entry()
			if err != nil {
				return fmt.Errorf("%w: hash %d: %w", ErrCorrupt, n, err)
			}
			if err := entry(e); err != nil {
				return errFromFile{err}
			}
			return nil
		}
		return d.Skip()
	})
	if err == nil {
		err = checkTrailer(d)
	}
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: classic MHL file lists no file", ErrCorrupt)
	}
	return list, nil
}

// ClassicFile is a classic MHL file opened by OpenClassic: its entries
// sorted by path in bounded memory (a temporary file past about 2 MiB).
type ClassicFile struct {
	// Version and Tool are the list's (see ClassicList).
	Version, Tool string
	sorted        *sortedEntries
}

// OpenClassic reads a classic MHL file from r as a stream (see
// ParseClassic), hands each entry to keep, which may change it (its Path
// to one relative to another root) or leave it out (false), and sorts
// what it keeps by that Path, in bounded memory. A path kept twice is an
// error wrapping ErrCorrupt; an error from keep is returned as it is.
// Close releases the temporary file.
func OpenClassic(r io.Reader, keep func(ClassicEntry) (ClassicEntry, bool, error)) (*ClassicFile, error) {
	s := newEntrySorter(func(p string) error { return fmt.Errorf("%w: %q recorded twice", ErrCorrupt, p) })
	list, err := scanClassic(r, func(e ClassicEntry) error {
		e, ok, err := keep(e)
		if err != nil || !ok {
			return err
		}
		return s.add(Entry{Path: e.Path, Size: e.Size, ModTime: e.ModTime, Hashes: e.Hashes})
	})
	if err != nil {
		s.close()
		return nil, err
	}
	sorted, err := s.finish()
	if err != nil {
		return nil, err
	}
	return &ClassicFile{Version: list.Version, Tool: list.Tool, sorted: sorted}, nil
}

// Entries yields the entries kept, in path order; it may be called again.
func (c *ClassicFile) Entries() iter.Seq2[ClassicEntry, error] {
	return func(yield func(ClassicEntry, error) bool) {
		for e, err := range c.sorted.all() {
			ce := ClassicEntry{Path: e.Path, Size: e.Size, ModTime: e.ModTime, Hashes: e.Hashes, SizeOnly: len(e.Hashes) == 0}
			if !yield(ce, err) || err != nil {
				return
			}
		}
	}
}

// Close releases the temporary file.
func (c *ClassicFile) Close() error { return c.sorted.close() }

// entry checks and converts one <hash>.
func (xh *xmlClassicHash) entry() (ClassicEntry, error) {
	var e ClassicEntry
	if xh.File == nil {
		return e, errors.New("no <file>")
	}
	e.Path = strings.TrimPrefix(trimLayout(*xh.File), "./")
	if err := checkPath(e.Path); err != nil {
		return e, err
	}
	if xh.Size == nil {
		return e, fmt.Errorf("%q: no <size>", e.Path)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(*xh.Size), 10, 64)
	if err != nil || n < 0 {
		return e, fmt.Errorf("%q: bad size %q", e.Path, *xh.Size)
	}
	e.Size = n
	if xh.LastMod != "" {
		if e.ModTime, err = parseXMLTime(xh.LastMod); err != nil {
			return e, fmt.Errorf("%q: lastmodificationdate: %w", e.Path, err)
		}
	}
	for _, d := range []struct {
		v    *string
		conv func(string) (hashing.Algorithm, string, error)
	}{
		{xh.MD5, hexOf(hashing.MD5)},
		{xh.SHA1, hexOf(hashing.SHA1)},
		{xh.XXHash64BE, hexOf(hashing.XXH64)},
		{xh.XXHash64, xxhash64LE},
		{xh.XXHash, xxhashDecimal},
	} {
		if d.v == nil {
			continue
		}
		alg, h, err := d.conv(strings.TrimSpace(*d.v))
		if err != nil {
			return e, fmt.Errorf("%q: %w", e.Path, err)
		}
		e.Hashes = append(e.Hashes, Hash{Alg: alg, Value: h})
	}
	e.SizeOnly = xh.Null != nil && len(e.Hashes) == 0
	if len(e.Hashes) == 0 && !e.SizeOnly {
		return e, fmt.Errorf("%q: no digest (md5, sha1, xxhash, xxhash64, xxhash64be or null)", e.Path)
	}
	return e, nil
}

// trimLayout drops the indentation of a pretty-printed element
// ("<file>\n      a.mov\n    </file>") and nothing else: a file name may
// begin or end with a space.
func trimLayout(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 && strings.TrimLeft(s[:i], " \t") == "" {
		s = strings.TrimLeft(s, " \t\r\n")
	}
	if i := strings.LastIndexAny(s, "\r\n"); i >= 0 && strings.TrimRight(s[i+1:], " \t") == "" {
		s = strings.TrimRight(s, " \t\r\n")
	}
	return s
}

// hexOf converts a digest element that holds the canonical hex of alg.
func hexOf(alg hashing.Algorithm) func(string) (hashing.Algorithm, string, error) {
	return func(s string) (hashing.Algorithm, string, error) {
		s = strings.ToLower(s)
		return alg, s, checkHex(s, alg)
	}
}

// xxhash64LE converts the deprecated <xxhash64>: the XXH64 value's bytes
// in little-endian order, as hex.
func xxhash64LE(s string) (hashing.Algorithm, string, error) {
	s = strings.ToLower(s)
	if err := checkHex(s, hashing.XXH64); err != nil {
		return 0, "", err
	}
	raw, _ := hex.DecodeString(s)
	var be [8]byte
	binary.BigEndian.PutUint64(be[:], binary.LittleEndian.Uint64(raw))
	return hashing.XXH64, hex.EncodeToString(be[:]), nil
}

// xxhashDecimal converts <xxhash>: the XXH32 value as a decimal number.
func xxhashDecimal(s string) (hashing.Algorithm, string, error) {
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, "", fmt.Errorf("xxhash %q is not a 32-bit decimal number", s)
	}
	return hashing.XXH32, fmt.Sprintf("%08x", v), nil
}

// utf8Reader reads a UTF-16 document (byte order mark, or "<?" in
// UTF-16 without one) as UTF-8 and drops a UTF-8 byte order mark, as it
// is read. Anything else is left to the XML declaration and
// classicCharset.
func utf8Reader(r io.Reader) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(4)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	var enc *unicode.Endianness
	be, le := unicode.BigEndian, unicode.LittleEndian
	switch {
	case bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}):
		_, err := br.Discard(3)
		return br, err
	case bytes.HasPrefix(head, []byte{0xFE, 0xFF}), bytes.HasPrefix(head, []byte{0, '<', 0, '?'}):
		enc = &be
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}), bytes.HasPrefix(head, []byte{'<', 0, '?', 0}):
		enc = &le
	default:
		return br, nil
	}
	return &validUTF8{r: transform.NewReader(br, unicode.UTF16(*enc, unicode.UseBOM).NewDecoder())}, nil
}

// validUTF8 fails a read of bytes that are not valid UTF-8 (what the
// UTF-16 decoder makes of bad UTF-16), a rune cut between reads aside.
type validUTF8 struct {
	r    io.Reader
	tail []byte // the start of a rune the last read cut
}

func (v *validUTF8) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	chunk := append(v.tail, p[:n]...)
	end := len(chunk)
	if !errors.Is(err, io.EOF) {
		// Leave out the last rune if the read cut it.
		i := end - 1
		for i > 0 && end-i < utf8.UTFMax && !utf8.RuneStart(chunk[i]) {
			i--
		}
		if i >= 0 && !utf8.FullRune(chunk[i:]) {
			end = i
		}
	}
	if !utf8.Valid(chunk[:end]) {
		return 0, errors.New("bad UTF-16")
	}
	v.tail = append(v.tail[:0], chunk[end:]...)
	return n, err
}

// classicCharset is the xml.Decoder CharsetReader: the document is UTF-8
// already when it declares UTF-8 or UTF-16 (toUTF8 converted it); any
// other IANA name is converted with golang.org/x/text.
func classicCharset(label string, in io.Reader) (io.Reader, error) {
	switch strings.ToLower(strings.TrimSpace(label)) {
	case "utf-8", "utf8", "utf-16", "utf-16le", "utf-16be", "utf16":
		return in, nil
	}
	enc, err := ianaindex.IANA.Encoding(label)
	if err != nil || enc == nil {
		return nil, fmt.Errorf("unsupported encoding %q", label)
	}
	return enc.NewDecoder().Reader(in), nil
}
