package manifest

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cvv-project/cvv/hashing"
)

// needTool returns the path of name; without it the test is skipped, or
// fails when CI is set (CI installs every tool the tests use).
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not installed, and CI is set (.ci/run installs it)", name)
		}
		t.Skipf("%s not installed (apt-get install libxml2-utils)", name)
	}
	return p
}

// xmllintClassic validates a classic MHL file against the MHL 1.1 schema.
func xmllintClassic(t *testing.T, file string) error {
	t.Helper()
	xmllint := needTool(t, "xmllint")
	xsd, _ := filepath.Abs("testdata/mhl1/MediaHashList_v1_1.xsd")
	out, err := exec.Command(xmllint, "--noout", "--schema", xsd, file).CombinedOutput()
	if err != nil {
		data, _ := os.ReadFile(file)
		return errors.New(string(out) + "\n" + string(data))
	}
	return nil
}

func TestClassicWriteValidAndReadBack(t *testing.T) {
	files := maps(interopFiles, map[string]string{"with\nnewline": "nl", "amp & <lt>.txt": "xml", "trailing space ": "ts"})
	for _, alg := range []hashing.Algorithm{hashing.MD5, hashing.SHA1, hashing.XXH64, hashing.XXH32} {
		t.Run(alg.String(), func(t *testing.T) {
			root, rec := tree(t, "Reels", alg, files, "empty dir")
			written, err := Write(rec, []Format{MHL1, Sums})
			if err != nil {
				t.Fatal(err)
			}
			p := ClassicFileName(root, rec.Start)
			if written[0] != p || len(written) != 2 || filepath.Base(p) != "Reels_2026-11-26_010203.mhl" {
				t.Fatalf("wrote %v, want %s and the sums file", written, p)
			}
			if err := xmllintClassic(t, p); err != nil {
				t.Fatalf("xmllint rejected %s: %v", p, err)
			}
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			list, err := ParseClassic(f)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]ClassicEntry{}
			for _, e := range list.Entries {
				got[e.Path] = e
			}
			for _, want := range rec.Files {
				e, ok := got[want.Path]
				if want.Size == 0 {
					// The schema's size is a positive integer.
					if ok {
						t.Errorf("empty file %q listed", want.Path)
					}
					continue
				}
				if !ok || e.Size != want.Size || len(e.Hashes) != 1 || e.Hashes[0].Alg != alg || e.Hashes[0].Value != want.Hash || !e.ModTime.Equal(want.ModTime) {
					t.Errorf("%q: read back %+v, want %+v", want.Path, e, want)
				}
			}
			if len(list.Entries) != len(rec.Files)-1 {
				t.Errorf("%d entries for %d files (one empty)", len(list.Entries), len(rec.Files))
			}
			// The same second again: never overwritten.
			if _, err := Write(rec, []Format{MHL1}); !errors.Is(err, os.ErrExist) {
				t.Errorf("second Write in the same second: %v", err)
			}
		})
	}
}

func TestClassicWriteRefusesAlgorithms(t *testing.T) {
	for _, alg := range []hashing.Algorithm{hashing.XXH3, hashing.XXH128, hashing.SHA256} {
		if err := CheckAlgorithm([]Format{MHL1}, alg); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "classic MHL has no "+alg.String()) {
			t.Errorf("CheckAlgorithm(mhl1, %v) = %v", alg, err)
		}
	}
	if f, err := ParseFormats("mhl1,classic-mhl"); err != nil || len(f) != 1 || f[0] != MHL1 || f[0].String() != "mhl1" {
		t.Errorf("ParseFormats(mhl1) = %v, %v", f, err)
	}
}

// TestClassicFixturesAreSchemaValid: the hand-made fixtures the reader is
// tested with are valid MHL 1.1, and the schema check can fail.
func TestClassicFixturesAreSchemaValid(t *testing.T) {
	dir := t.TempDir()
	for i, d := range []string{
		"<md5>900150983cd24fb0d6963f7d28e17f72</md5>", "<sha1>a9993e364706816aba3e25717850c26c9cd0d89d</sha1>",
		"<xxhash64be>44bc2cf5ad770999</xxhash64be>", "<xxhash64>990977adf52cbc44</xxhash64>",
		"<xxhash>0852579327</xxhash>", "<null/>",
	} {
		p := filepath.Join(dir, "f.mhl")
		if err := os.WriteFile(p, []byte(classicMHL("1.1", "", classicHash{"a b/c.mov", d, 3})), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := xmllintClassic(t, p); err != nil {
			t.Errorf("fixture %d: %v", i, err)
		}
	}
	p := filepath.Join(dir, "bad.mhl")
	os.WriteFile(p, []byte(classicMHL("1.1", "", classicHash{"a", "<md5>9001</md5>", 3})), 0o644)
	if err := xmllintClassic(t, p); err == nil {
		t.Error("xmllint accepted a 2-byte md5")
	}
}
