package manifest

import (
	"bytes"
	"slices"
	"testing"
)

// FuzzParseSums checks that ParseSums never panics, that everything it
// accepts is a safe relative path with a digest of the right length, and
// that what it accepts survives a write and a second parse unchanged.
// Seeds: testdata/fuzz/FuzzParseSums.
func FuzzParseSums(f *testing.F) {
	f.Add([]byte("d41d8cd98f00b204e9800998ecf8427e  a\n"))
	f.Add([]byte("XXH3 (a b) = 2d06800538d394c2\n\\XXH3 (n\\nl) = 2d06800538d394c2\n"))
	f.Add([]byte("ef46db3751d8e999 *dir/file\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		list, err := ParseSums(bytes.NewReader(data), nil)
		if err != nil {
			return
		}
		rec := Record{Alg: list.Alg}
		for _, s := range list.Sums {
			if err := checkPath(s.Path); err != nil {
				t.Fatalf("accepted unsafe path: %v", err)
			}
			if err := checkHex(s.Hash, list.Alg); err != nil {
				t.Fatalf("accepted bad digest: %v", err)
			}
			rec.Files = append(rec.Files, File{Path: s.Path, Hash: s.Hash})
		}
		for _, f := range []Format{Sums, XXH} {
			alg := list.Alg
			again, err := ParseSums(bytes.NewReader(renderSums(rec, f)), &alg)
			if err != nil {
				t.Fatalf("re-parse of rendered %v list: %v", f, err)
			}
			if !slices.Equal(again.Sums, list.Sums) {
				t.Fatalf("%v round trip changed the list:\n%q\n%q", f, list.Sums, again.Sums)
			}
		}
	})
}

// FuzzParseGeneration checks that ParseGeneration never panics and only
// accepts safe paths and well-formed digests. Seeds:
// testdata/fuzz/FuzzParseGeneration.
func FuzzParseGeneration(f *testing.F) {
	f.Add([]byte(`<hashlist version="2.0" xmlns="urn:ASC:MHL:v2.0"><creatorinfo><creationdate>2020-01-01T00:00:00Z</creationdate><hostname>h</hostname><tool version="1">t</tool></creatorinfo><processinfo><process>in-place</process></processinfo><hashes><hash><path size="1">a</path><md5 action="original">d41d8cd98f00b204e9800998ecf8427e</md5></hash></hashes></hashlist>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := ParseGeneration(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, e := range g.Files {
			if err := checkPath(e.Path); err != nil {
				t.Fatalf("accepted unsafe path: %v", err)
			}
			for _, h := range e.Hashes {
				if err := checkHex(h.Value, h.Alg); err != nil {
					t.Fatalf("accepted bad digest: %v", err)
				}
			}
		}
		for _, d := range g.Dirs {
			if err := checkPath(d); err != nil {
				t.Fatalf("accepted unsafe directory: %v", err)
			}
		}
	})
}

// FuzzParseChain checks the chain parser the same way. Seeds:
// testdata/fuzz/FuzzParseChain.
func FuzzParseChain(f *testing.F) {
	f.Add([]byte(`<ascmhldirectory xmlns="urn:ASC:MHL:DIRECTORY:v2.0"><hashlist sequencenr="1"><path>0001_a.mhl</path><c4>c459dsjfscH38cYeXXYogktxf4Cd9ibshE3BHUo6a58hBXmRQdZrAkZzsWcbWtDg5oQstpDuni4Hirj75GEmTc1sFT</c4></hashlist></ascmhldirectory>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := parseChain(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, e := range entries {
			if e.Path == "" || bytes.ContainsAny([]byte(e.Path), `/\`) {
				t.Fatalf("accepted unsafe generation path %q", e.Path)
			}
		}
	})
}
