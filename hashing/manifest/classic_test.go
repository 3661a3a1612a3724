package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"

	"github.com/cvv-project/cvv/hashing"
)

// ClassicHash is one <hash> of a hand-made classic MHL fixture: Digest is
// the element as written ("<md5>...</md5>", "<null/>").
type classicHash struct {
	Path, Digest string
	Size         int64
}

// classicMHL renders a classic MHL document the way offload tools write
// them. version "1.0" gets no creatorinfo details, as early tools wrote.
func classicMHL(version, decl string, hashes ...classicHash) string {
	var b strings.Builder
	if decl == "" {
		decl = `<?xml version="1.0" encoding="UTF-8"?>`
	}
	fmt.Fprintf(&b, "%s\n<hashlist version=%q>\n", decl, version)
	b.WriteString("  <creatorinfo>\n    <username>dit</username>\n    <hostname>cart</hostname>\n    <tool>Offloader 3.1</tool>\n")
	b.WriteString("    <startdate>2024-03-01T09:00:00Z</startdate>\n    <finishdate>2024-03-01T09:10:00Z</finishdate>\n  </creatorinfo>\n")
	for _, h := range hashes {
		fmt.Fprintf(&b, "  <hash>\n    <file>%s</file>\n    <size>%d</size>\n", xmlText(h.Path), h.Size)
		fmt.Fprintf(&b, "    <lastmodificationdate>2024-03-01T08:00:00Z</lastmodificationdate>\n    %s\n", h.Digest)
		b.WriteString("    <hashdate>2024-03-01T09:05:00Z</hashdate>\n  </hash>\n")
	}
	b.WriteString("</hashlist>\n")
	return b.String()
}

func TestParseClassicDigests(t *testing.T) {
	// Known answers for "abc": XXH64 44bc2cf5ad770999 (its little-endian
	// bytes 990977adf52cbc44), XXH32 0x32d153ff = 852579327.
	for _, tc := range []struct {
		digest string
		alg    hashing.Algorithm
		want   string
	}{
		{"<md5>900150983CD24FB0D6963F7D28E17F72</md5>", hashing.MD5, "900150983cd24fb0d6963f7d28e17f72"},
		{"<sha1>a9993e364706816aba3e25717850c26c9cd0d89d</sha1>", hashing.SHA1, "a9993e364706816aba3e25717850c26c9cd0d89d"},
		{"<xxhash64be>44bc2cf5ad770999</xxhash64be>", hashing.XXH64, "44bc2cf5ad770999"},
		{"<xxhash64>990977adf52cbc44</xxhash64>", hashing.XXH64, "44bc2cf5ad770999"},
		{"<xxhash>0852579327</xxhash>", hashing.XXH32, "32d153ff"},
	} {
		doc := classicMHL("1.1", "", classicHash{"Clip/A001.mov", tc.digest, 3})
		l, err := ParseClassic(strings.NewReader(doc))
		if err != nil {
			t.Fatalf("%s: %v", tc.digest, err)
		}
		e := l.Entries[0]
		if e.Path != "Clip/A001.mov" || e.Size != 3 || len(e.Hashes) != 1 || e.SizeOnly {
			t.Fatalf("%s: entry %+v", tc.digest, e)
		}
		if h := e.Hashes[0]; h.Alg != tc.alg || h.Value != tc.want || tc.alg.Sum([]byte("abc")) != tc.want {
			t.Errorf("%s: got %v %s, want %v %s", tc.digest, h.Alg, h.Value, tc.alg, tc.want)
		}
		if l.Version != "1.1" || l.Tool != "Offloader 3.1" {
			t.Errorf("version %q tool %q", l.Version, l.Tool)
		}
	}
	l, err := ParseClassic(strings.NewReader(classicMHL("1.1", "", classicHash{"a", "<null/>", 7})))
	if err != nil || !l.Entries[0].SizeOnly || len(l.Entries[0].Hashes) != 0 || l.Entries[0].Size != 7 {
		t.Fatalf("null entry: %+v, %v", l, err)
	}
}

func TestParseClassicEncodings(t *testing.T) {
	name := "Ünïcødé/Szene 1.mov"
	doc10 := classicMHL("1.0", "", classicHash{name, "<md5>900150983cd24fb0d6963f7d28e17f72</md5>", 3})
	utf16 := func(e unicode.Endianness, bom unicode.BOMPolicy, s string) []byte {
		s = strings.Replace(s, `encoding="UTF-8"`, `encoding="UTF-16"`, 1)
		out, _, err := transform.Bytes(unicode.UTF16(e, bom).NewEncoder(), []byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	latin1 := strings.Replace(doc10, `encoding="UTF-8"`, `encoding="ISO-8859-1"`, 1)
	latin1Bytes, err := charmap.ISO8859_1.NewEncoder().Bytes([]byte(latin1))
	if err != nil {
		t.Fatal(err)
	}
	for label, data := range map[string][]byte{
		"1.0 without namespace":  []byte(doc10),
		"UTF-8 with BOM":         append([]byte{0xEF, 0xBB, 0xBF}, doc10...),
		"UTF-16LE with BOM":      utf16(unicode.LittleEndian, unicode.UseBOM, doc10),
		"UTF-16BE with BOM":      utf16(unicode.BigEndian, unicode.UseBOM, doc10),
		"UTF-16BE without BOM":   utf16(unicode.BigEndian, unicode.IgnoreBOM, doc10),
		"ISO-8859-1 declared":    latin1Bytes,
		"1.1 with a namespace":   []byte(strings.Replace(doc10, `<hashlist version="1.0">`, `<hashlist version="1.1" xmlns="urn:example:mhl">`, 1)),
		"windows-1252 declared":  []byte(strings.Replace(string(latin1Bytes), "ISO-8859-1", "windows-1252", 1)),
		"whitespace around path": []byte(strings.Replace(strings.Replace(doc10, "<file>", "<file>\n      ", 1), "</file>", "\n    </file>", 1)),
	} {
		// Read at once, and a byte at a time (a rune cut between reads).
		for _, r := range []io.Reader{bytes.NewReader(data), iotest.OneByteReader(bytes.NewReader(data))} {
			l, err := ParseClassic(r)
			if err != nil {
				t.Errorf("%s: %v", label, err)
				continue
			}
			if got := l.Entries[0].Path; got != name {
				t.Errorf("%s: path %q, want %q", label, got, name)
			}
		}
	}
}

// OpenClassic reads a classic MHL file as a stream: each entry goes
// through keep (which moves it below another root, or leaves it out),
// and what is kept comes back in path order, from a temporary file when
// it does not fit in memory; a path kept twice is corrupt.
func TestOpenClassic(t *testing.T) {
	defer func(n int) { sortChunkBytes = n }(sortChunkBytes)
	sortChunkBytes = 200
	md5 := "<md5>900150983cd24fb0d6963f7d28e17f72</md5>"
	doc := classicMHL("1.1", "", classicHash{"z.mov", md5, 3}, classicHash{"b/a.mov", "<null/>", 4},
		classicHash{"skip.mov", md5, 5}, classicHash{"a.mov", md5 + "<sha1>a9993e364706816aba3e25717850c26c9cd0d89d</sha1>", 3})
	keep := func(e ClassicEntry) (ClassicEntry, bool, error) {
		e.Path = "card/" + e.Path
		return e, e.Path != "card/skip.mov", nil
	}
	c, err := OpenClassic(strings.NewReader(doc), keep)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var got []string
	for e, err := range c.Entries() {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %d %v %d", e.Path, e.Size, e.SizeOnly, len(e.Hashes)))
	}
	want := []string{"card/a.mov 3 false 2", "card/b/a.mov 4 true 0", "card/z.mov 3 false 1"}
	if !slices.Equal(got, want) || c.Version != "1.1" {
		t.Errorf("entries %q (version %q), want %q", got, c.Version, want)
	}
	if _, err := OpenClassic(strings.NewReader(doc), func(e ClassicEntry) (ClassicEntry, bool, error) { e.Path = "same"; return e, true, nil }); !errors.Is(err, ErrCorrupt) {
		t.Errorf("a path kept twice: %v, want ErrCorrupt", err)
	}
	stop := errors.New("stop")
	if _, err := OpenClassic(strings.NewReader(doc), func(ClassicEntry) (ClassicEntry, bool, error) { return ClassicEntry{}, false, stop }); !errors.Is(err, stop) {
		t.Errorf("keep's error: %v, want it returned", err)
	}
}

func TestParseClassicRefusesMalformed(t *testing.T) {
	ok := classicHash{"a.mov", "<md5>900150983cd24fb0d6963f7d28e17f72</md5>", 3}
	good := classicMHL("1.1", "", ok)
	for label, doc := range map[string]string{
		"truncated":         good[:len(good)-20],
		"version 2":         classicMHL("2.0", "", ok),
		"no version":        strings.Replace(good, ` version="1.1"`, "", 1),
		"ASC namespace":     strings.Replace(good, `version="1.1"`, `version="1.1" xmlns="urn:ASC:MHL:v2.0"`, 1),
		"short md5":         classicMHL("1.1", "", classicHash{"a", "<md5>9001</md5>", 3}),
		"xxhash too big":    classicMHL("1.1", "", classicHash{"a", "<xxhash>4294967296</xxhash>", 3}),
		"xxhash hex":        classicMHL("1.1", "", classicHash{"a", "<xxhash>32d153ff</xxhash>", 3}),
		"xxhash64 not hex":  classicMHL("1.1", "", classicHash{"a", "<xxhash64>990977adf52cbc4g</xxhash64>", 3}),
		"no digest":         classicMHL("1.1", "", classicHash{"a", "", 3}),
		"climbs out":        classicMHL("1.1", "", classicHash{"../a", ok.Digest, 3}),
		"absolute":          classicMHL("1.1", "", classicHash{"/etc/passwd", ok.Digest, 3}),
		"twice":             classicMHL("1.1", "", ok, ok),
		"negative size":     classicMHL("1.1", "", classicHash{"a", ok.Digest, -1}),
		"no file listed":    classicMHL("1.1", ""),
		"unknown encoding":  strings.Replace(good, "UTF-8", "x-klingon", 1),
		"trailing garbage":  good + "<hash/>",
		"not a hashlist":    `<?xml version="1.0"?><playlist version="1.1"/>`,
		"UTF-16 odd length": string(append([]byte{0xFF, 0xFE}, "<\x00?\x00x"...)),
	} {
		if _, err := ParseClassic(strings.NewReader(doc)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: error %v, want ErrCorrupt", label, err)
		}
	}
}

func TestParseClassicKeepsSpacesInNames(t *testing.T) {
	for _, name := range []string{" lead.mov", "trail.mov ", "new\nline.mov", "dir/ both .mov "} {
		l, err := ParseClassic(strings.NewReader(classicMHL("1.1", "", classicHash{name, "<null/>", 1})))
		if err != nil || l.Entries[0].Path != name {
			t.Errorf("%q: %+v, %v", name, l, err)
		}
	}
}

func TestIsClassicMHLName(t *testing.T) {
	for rel, want := range map[string]bool{
		"Reels_2024-03-01_090000.mhl": true, "A001/A001_2024-03-01_090000.MHL": true,
		"ascmhl/0001_x.mhl": false, "A001/ascmhl/0001_x.mhl": false, "a.mov": false, "mhl": false,
	} {
		if got := IsClassicMHLName(rel); got != want {
			t.Errorf("IsClassicMHLName(%q) = %v", rel, got)
		}
	}
}
