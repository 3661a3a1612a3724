package manifest

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// xmlSeeds are documents the differential tests start from: hash lists
// (the ASC sample, the fuzz seeds, one with directory hashes) and
// snippets of what XML allows and forbids.
func xmlSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	for _, dir := range []string{"testdata/sample", "testdata/fuzz/FuzzParseGeneration"} {
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if rest, ok := bytes.CutPrefix(b, []byte("go test fuzz v1\n[]byte(")); ok {
				s, err := strconv.Unquote(string(bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(rest), []byte(")")))))
				if err != nil {
					t.Fatalf("%s: %v", e.Name(), err)
				}
				b = []byte(s)
			}
			seeds = append(seeds, b)
		}
	}
	const head = `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<hashlist version="2.0" xmlns="urn:ASC:MHL:v2.0"><creatorinfo><creationdate>2020-01-01T00:00:00Z</creationdate><hostname>h</hostname><tool version="1">cvv</tool></creatorinfo><processinfo><process>in-place</process><roothash><content><xxh64>0123456789abcdef</xxh64></content></roothash></processinfo>`
	for _, body := range []string{
		`<hashes><hash><path size="1" lastmodificationdate="2020-01-01T00:00:00Z">a/b</path><xxh64 action="original" hashdate="2020-01-01T00:00:00Z">0123456789ABCDEF</xxh64></hash><directoryhash><path>a</path><content><xxh64>0123456789abcdef</xxh64></content><structure><xxh64>0123456789abcdef</xxh64></structure></directoryhash></hashes>`,
		"<hashes>\r\n<hash>\r<path size='2'>a&amp;b&#x41;&#66;<![CDATA[<c>]]d]]><!-- x --><x>skipped</x>e\r\nf</path><!-- c --><md5 action=\"verified\">d41d8cd98f00b204e9800998ecf8427e</md5><md5>d41d8cd98f00b204e9800998ecf8427f</md5><unknown a='1'><b/></unknown></hash><hash><path>c</path><c4/></hash></hashes>",
		`<hashes><hash><path size="1" size="2" xmlns:size="3">p</path><path>q</path><sha1 action="failed">da39a3ee5e6b4b0d3255bfef95601890afd80709</sha1></hash></hashes>`,
		`<hashes><m:hash xmlns:m="urn:x"><m:path>a</m:path><m:xxh3>0123456789abcdef</m:xxh3></m:hash></hashes>`,
		`<hashes><hash><path>a</path><xxh128>0123456789abcdef0123456789abcdef</xxh128></hash></hashes><references><hashlistreference><path>x/ascmhl/0001_x.mhl</path><c4>c4abc</c4></hashlistreference></references>`,
		`<hashes><hash><path>a</path><xxh3>]]></xxh3></hash></hashes>`,
		`<hashes><hash><path>a&bogus;</path></hash></hashes>`,
		`<hashes><hash><path>a&#0;</path></hash></hashes>`,
		`<hashes><hash><path>a&#xD800;</path><xxh3>0123456789abcdef</xxh3></hash></hashes>`,
		"<hashes><hash><path>a\x01</path></hash></hashes>",
		"<hashes><hash><path>a\xff</path></hash></hashes>",
		`<hashes><hash><path a=1>a</path></hash></hashes>`,
		`<hashes><hash><path a>a</path></hash></hashes>`,
		`<hashes><hash><path a="<">a</path></hash></hashes>`,
		`<hashes><hash><path>a</pat></hash></hashes>`,
		`<hashes><hash><a:b:c/></hash></hashes>`,
		`<hashes><hash><é/><path>a</path><xxh3>0123456789abcdef</xxh3></hash></hashes>`,
		`<hashes><hash><path>a</path><xxh3>0123456789abcdef</xxh3></hash><!-- a -- b --></hashes>`,
		`<hashes><hash><path>a</path><xxh3>0123456789abcdef</xxh3></hash><?pi data?></hashes>`,
		`<hashes><hash><path>a</path><xxh3>0123456789abcdef</xxh3></hash></hashes><![CDATA[x]]>`,
		`<hashes><hash><path>a</path><xxh3 action="bogus">0123456789abcdef</xxh3></hash></hashes>`,
	} {
		for _, tail := range []string{"</hashlist>\n", "</hashlist><!-- end --><?pi?>\n", "</hashlist>x", "</hashlist><a/>", "</hashlist><!DOCTYPE x>", ""} {
			seeds = append(seeds, []byte(head+body+tail))
		}
	}
	for _, s := range []string{
		`<!DOCTYPE hashlist [<!ENTITY a "b"> <!-- c --> ]><hashlist/>`,
		"\ufeff<hashlist/>",
		`<?xml version="1.1"?><hashlist/>`,
		`<?xml version="1.0" encoding="latin1"?><hashlist/>`,
		`<?xml version='1.0' encoding='utf-8'?><hashlist/>`,
		`text<hashlist xmlns:a="urn:ASC:MHL:v2.0" a:version="2.0"/>`,
		`<a:hashlist xmlns:a="urn:ASC:MHL:v2.0" version="2.0"/>`,
		`<hashlist xmlns="urn:ASC:MHL:v2.0" xmlns:a="" a:version="2.0" version="1"/>`,
		`<xmlns version="2.0"/>`,
		`<hashlist version="2.0" xmlns="urn:ASC:MHL:v2.0"></hashlist></x>`,
		`<hashlist version="2.0" xmlns="urn:ASC:MHL:v2.0"><a></b></hashlist>`,
		`< hashlist/>`, `<1a/>`, `<:a/>`, `<a:/>`, `<-a/>`, `<?1?>`, `<!- x>`, `<![CDAT[x]]>`, `<a/ >`, `<a x="1"y='2'/>`,
		"<a>\r\r\n\r</a>", "<a b='\r\n\t&#13;'/>", `<a>&#x110000;</a>`, `<a>&#99999999999999999999;</a>`, `<a>&amp</a>`, `<a>&#x;</a>`, `<a>&;</a>`, `<a>&é;</a>`,
	} {
		seeds = append(seeds, []byte(s))
	}
	return seeds
}

// lexTokens reads data with an xmlLexer: its tokens, written out, and
// whether it failed.
func lexTokens(data []byte) ([]string, error) {
	l := newXMLLexer(bytes.NewReader(data))
	l.buf = make([]byte, 7) // refills inside tokens
	var toks []string
	for {
		k, err := l.next()
		if err == io.EOF {
			return toks, nil
		}
		if err != nil {
			return toks, err
		}
		switch k {
		case lexStart:
			s := "start " + string(l.local)
			for _, a := range l.attrs {
				s += fmt.Sprintf(" %s=%q", a.local, a.value)
			}
			toks = append(toks, s)
		case lexEnd:
			toks = append(toks, "end "+string(l.local))
		case lexText:
			toks = append(toks, fmt.Sprintf("text %q", l.text))
		case lexComment:
			toks = append(toks, "comment")
		case lexProcInst:
			toks = append(toks, "procinst")
		case lexDirective:
			toks = append(toks, "directive")
		}
	}
}

// stdTokens is lexTokens with encoding/xml's Decoder, Strict.
func stdTokens(data []byte) ([]string, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	var toks []string
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return toks, nil
		}
		if err != nil {
			return toks, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			s := "start " + t.Name.Local
			for _, a := range t.Attr {
				s += fmt.Sprintf(" %s=%q", a.Name.Local, a.Value)
			}
			toks = append(toks, s)
		case xml.EndElement:
			toks = append(toks, "end "+t.Name.Local)
		case xml.CharData:
			toks = append(toks, fmt.Sprintf("text %q", []byte(t)))
		case xml.Comment:
			toks = append(toks, "comment")
		case xml.ProcInst:
			toks = append(toks, "procinst")
		case xml.Directive:
			toks = append(toks, "directive")
		}
	}
}

// checkLexer fails if the lexer and the Decoder read data differently:
// other tokens, or one fails where the other does not.
func checkLexer(t *testing.T, data []byte) {
	t.Helper()
	got, gerr := lexTokens(data)
	want, werr := stdTokens(data)
	if (gerr == nil) != (werr == nil) || !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\nlexer:   %q, %v\nDecoder: %q, %v", data, got, gerr, want, werr)
	}
}

// scanned is what a scan of a hash list returned.
type scanned struct {
	g     *Generation
	root  *xmlDirSum
	files []Entry
	dirs  []string
	sums  []xmlDirSum
	err   error
}

func scanWith(scan func(io.Reader, scanVisitor) (*Generation, *xmlDirSum, error), data []byte) scanned {
	var s scanned
	s.g, s.root, s.err = scan(bytes.NewReader(data), scanVisitor{
		file: func(e Entry) error { s.files = append(s.files, e); return nil },
		dir: func(p string, sum *xmlDirSum) error {
			s.dirs, s.sums = append(s.dirs, p), append(s.sums, *sum)
			return nil
		},
	})
	return s
}

// checkScan fails if scanGeneration and the encoding/xml scan it replaced
// read data differently.
func checkScan(t *testing.T, data []byte) {
	t.Helper()
	got, want := scanWith(scanGeneration, data), scanWith(stdScanGeneration, data)
	if (got.err == nil) != (want.err == nil) {
		t.Fatalf("%q:\nscanGeneration: %v\nencoding/xml:   %v", data, got.err, want.err)
	}
	if got.err != nil {
		if !errors.Is(got.err, ErrCorrupt) {
			t.Fatalf("%q: error not ErrCorrupt: %v", data, got.err)
		}
		return
	}
	got.err, want.err = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\nscanGeneration: %+v\nencoding/xml:   %+v", data, got, want)
	}
}

// TestXMLLexer checks the lexer and scanGeneration against encoding/xml
// on the seeds and on thousands of random edits of them (a byte changed,
// inserted or removed, a span cut or doubled).
func TestXMLLexer(t *testing.T) {
	seeds := xmlSeeds(t)
	rng := rand.New(rand.NewPCG(1, 2))
	special := []byte("<>&;/!?-[]'\"=: \r\n\tax#\xc3\xa9\x00")
	n := 4000
	if testing.Short() {
		n = 500
	}
	check := func(data []byte) {
		checkLexer(t, data)
		checkScan(t, data)
	}
	for _, s := range seeds {
		check(s)
	}
	for range n {
		d := bytes.Clone(seeds[rng.IntN(len(seeds))])
		for range 1 + rng.IntN(3) {
			if len(d) == 0 {
				break
			}
			i := rng.IntN(len(d))
			c := special[rng.IntN(len(special))]
			switch rng.IntN(5) {
			case 0:
				d[i] = c
			case 1:
				d = append(d[:i], append([]byte{c}, d[i:]...)...)
			case 2:
				d = append(d[:i], d[i+1:]...)
			case 3:
				d = d[:i]
			case 4:
				j := min(len(d), i+1+rng.IntN(40))
				d = append(d[:j], append(bytes.Clone(d[i:j]), d[j:]...)...)
			}
		}
		check(d)
	}
}

// FuzzXMLLexer compares the lexer and scanGeneration with encoding/xml.
func FuzzXMLLexer(f *testing.F) {
	for _, s := range xmlSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkLexer(t, data)
		checkScan(t, data)
	})
}

// TestScanGenerationWritten checks scanGeneration against encoding/xml on
// a generation cvv writes: paths that need escaping, every algorithm,
// directory hashes.
func TestScanGenerationWritten(t *testing.T) {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<hashlist version="2.0" xmlns="urn:ASC:MHL:v2.0">
  <creatorinfo><creationdate>2020-01-01T00:00:00Z</creationdate><hostname>h</hostname><tool version="1">cvv</tool></creatorinfo>
  <processinfo><process>transfer</process></processinfo>
  <hashes>
`)
	for i := range 300 {
		var p bytes.Buffer
		_ = xml.EscapeText(&p, []byte(fmt.Sprintf("d%d/f <&>\"' é %d\t.dat", i%7, i)))
		fmt.Fprintf(&b, "    <hash>\n      <path size=\"%d\" lastmodificationdate=\"2020-01-01T00:00:%02dZ\">%s</path>\n      <xxh64 action=\"original\" hashdate=\"2020-01-01T00:00:00Z\">%016x</xxh64>\n      <md5 action=\"verified\">%032x</md5>\n    </hash>\n", i, i%60, p.String(), i, i)
	}
	for i := range 7 {
		fmt.Fprintf(&b, "    <directoryhash><path>d%d</path><content><xxh64>%016x</xxh64></content><structure><xxh64>%016x</xxh64></structure></directoryhash>\n", i, i, i)
	}
	b.WriteString("  </hashes>\n</hashlist>\n")
	data := []byte(b.String())
	checkScan(t, data)
	if s := scanWith(scanGeneration, data); s.err != nil || len(s.files) != 300 || len(s.dirs) != 7 {
		t.Fatalf("scan: %d files, %d directories, %v", len(s.files), len(s.dirs), s.err)
	}
}
