package hashing

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// knownAnswers are digests produced by the reference tools (xxhsum 0.8.1
// -H3/-H64/-H0, xxh128sum, md5sum, sha1sum, sha256sum) for fixed inputs. They
// are written out here so the test fails without the tools too.
var knownAnswers = []struct {
	in   string
	want map[Algorithm]string
}{
	{"", map[Algorithm]string{
		XXH3:   "2d06800538d394c2",
		XXH64:  "ef46db3751d8e999",
		XXH128: "99aa06d3014798d86001c324468d497f",
		MD5:    "d41d8cd98f00b204e9800998ecf8427e",
		SHA1:   "da39a3ee5e6b4b0d3255bfef95601890afd80709",
		SHA256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		XXH32:  "02cc5d05",
	}},
	{"a", map[Algorithm]string{
		XXH3:   "e6c632b61e964e1f",
		XXH64:  "d24ec4f1a98c6e5b",
		XXH128: "a96faf705af16834e6c632b61e964e1f",
		MD5:    "0cc175b9c0f1b6a831c399e269772661",
		SHA1:   "86f7e437faa5a7fce15d1ddcb9eaeaea377667b8",
		SHA256: "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb",
		XXH32:  "550d7456",
	}},
	{"abc", map[Algorithm]string{
		XXH3:   "78af5f94892f3950",
		XXH64:  "44bc2cf5ad770999",
		XXH128: "06b05ab6733a618578af5f94892f3950",
		MD5:    "900150983cd24fb0d6963f7d28e17f72",
		SHA1:   "a9993e364706816aba3e25717850c26c9cd0d89d",
		SHA256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		XXH32:  "32d153ff",
	}},
	{"The quick brown fox jumps over the lazy dog", map[Algorithm]string{
		XXH3:   "ce7d19a5418fb365",
		XXH64:  "0b242d361fda71bc",
		XXH128: "ddd650205ca3e7fa24a1cc2e3a8a7651",
		MD5:    "9e107d9d372bb6826bd81d3542a419d6",
		SHA1:   "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12",
		SHA256: "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592",
		XXH32:  "e85ea4de",
	}},
}

func TestKnownAnswers(t *testing.T) {
	for _, ka := range knownAnswers {
		for _, alg := range Algorithms {
			want, ok := ka.want[alg]
			if !ok {
				t.Fatalf("no known answer for %v", alg)
			}
			if got := alg.Sum([]byte(ka.in)); got != want {
				t.Errorf("%v(%q) = %s, want %s", alg, ka.in, got, want)
			}
			if len(want) != alg.HexLen() {
				t.Errorf("%v.HexLen() = %d, digest has %d", alg, alg.HexLen(), len(want))
			}
		}
	}
}

// testInputs returns inputs that cross the internal block boundaries of
// every algorithm (xxh3 switches code paths at 16, 128, 240 bytes and
// stripes of 1 KiB; md5/sha at 64 bytes).
func testInputs() map[string][]byte {
	in := map[string][]byte{}
	for _, n := range []int{0, 1, 3, 4, 8, 9, 16, 17, 63, 64, 65, 128, 129, 239, 240, 241, 1023, 1024, 1025, 4096, 100003} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*7 + i>>8 + 3)
		}
		in[fmt.Sprintf("%06d", n)] = b
	}
	return in
}

// toolDigest runs a reference tool on path and returns its hex digest.
func toolDigest(t *testing.T, alg Algorithm, path string) (string, bool) {
	t.Helper()
	var name string
	var args []string
	switch alg {
	case XXH3:
		name, args = "xxhsum", []string{"-H3"}
	case XXH64:
		name, args = "xxhsum", []string{"-H64"}
	case XXH32:
		name, args = "xxhsum", []string{"-H0"}
	case XXH128:
		name = "xxh128sum"
	case MD5:
		name = "md5sum"
	case SHA1:
		name = "sha1sum"
	case SHA256:
		name = "sha256sum"
	}
	if _, err := exec.LookPath(name); err != nil {
		return "", false
	}
	out, err := exec.Command(name, append(args, path)...).Output()
	if err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	line := strings.TrimSpace(string(out))
	// xxhsum 0.8.1 prints XXH3 as "XXH3 (path) = hex"; 0.8.2 and later as
	// "XXH3_hex  path". Both reduce to the hex digest.
	if i := strings.LastIndex(line, " = "); strings.HasPrefix(line, "XXH3 (") && i > 0 {
		return line[i+3:], true
	}
	field := strings.Fields(line)[0]
	return strings.TrimPrefix(field, "XXH3_"), true
}

func TestAgainstReferenceTools(t *testing.T) {
	dir := t.TempDir()
	for name, data := range testInputs() {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, alg := range Algorithms {
			want, ok := toolDigest(t, alg, p)
			if !ok {
				t.Skipf("reference tool for %v not installed (apt-get install xxhash coreutils)", alg)
			}
			// Stream in uneven pieces to exercise the streaming path.
			h := alg.New()
			for rest := data; len(rest) > 0; {
				n := min(len(rest), 1+len(rest)%97)
				h.Write(rest[:n])
				rest = rest[n:]
			}
			if got := h.Hex(); got != want {
				t.Errorf("%v of %d bytes = %s, reference tool says %s", alg, len(data), got, want)
			}
			if got := alg.Sum(data); got != want {
				t.Errorf("%v.Sum of %d bytes = %s, reference tool says %s", alg, len(data), got, want)
			}
		}
	}
}

func TestHexDoesNotChangeStateAndResetWorks(t *testing.T) {
	for _, alg := range Algorithms {
		h := alg.New()
		h.Write([]byte("ab"))
		first := h.Hex()
		if again := h.Hex(); again != first {
			t.Errorf("%v: Hex twice gave %s then %s", alg, first, again)
		}
		h.Write([]byte("c"))
		if got, want := h.Hex(), alg.Sum([]byte("abc")); got != want {
			t.Errorf("%v: after Hex, continued digest %s, want %s", alg, got, want)
		}
		h.Reset()
		if got, want := h.Hex(), alg.Sum(nil); got != want {
			t.Errorf("%v: after Reset %s, want empty digest %s", alg, got, want)
		}
	}
}

func TestParse(t *testing.T) {
	for _, alg := range Algorithms {
		got, err := Parse(strings.ToUpper(alg.String()))
		if err != nil || got != alg {
			t.Errorf("Parse(%q) = %v, %v", strings.ToUpper(alg.String()), got, err)
		}
	}
	for in, want := range map[string]Algorithm{"xxh3_64": XXH3, "xxh3-64": XXH3, "xxh3_128": XXH128, "sha-256": SHA256, " md5 ": MD5} {
		if got, err := Parse(in); err != nil || got != want {
			t.Errorf("Parse(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "crc32", "sha512", "xxh16"} {
		if _, err := Parse(bad); !errors.Is(err, ErrUnknownAlgorithm) {
			t.Errorf("Parse(%q) error %v, want ErrUnknownAlgorithm", bad, err)
		}
	}
}

func TestSumMatchesHasher(t *testing.T) {
	data := bytes.Repeat([]byte("cvv"), 5000)
	for _, alg := range Algorithms {
		h := alg.New()
		h.Write(data)
		if h.Hex() != alg.Sum(data) {
			t.Errorf("%v: Sum and Hasher disagree", alg)
		}
	}
}
