package command

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/text/encoding/unicode"

	"github.com/cvv-project/cvv/hashing"
)

// classicDigest renders the digest element of a classic MHL entry for data,
// as the offload tools write it.
func classicDigest(t *testing.T, elem string, data []byte) string {
	t.Helper()
	switch elem {
	case "md5":
		return "<md5>" + hashing.MD5.Sum(data) + "</md5>"
	case "sha1":
		return "<sha1>" + strings.ToUpper(hashing.SHA1.Sum(data)) + "</sha1>"
	case "xxhash64be":
		return "<xxhash64be>" + hashing.XXH64.Sum(data) + "</xxhash64be>"
	case "xxhash64": // the deprecated form: the value's bytes little-endian
		be, _ := hex.DecodeString(hashing.XXH64.Sum(data))
		slices.Reverse(be)
		return "<xxhash64>" + hex.EncodeToString(be) + "</xxhash64>"
	case "xxhash": // XXH32 as a decimal number, zero-padded to 10 digits
		v, err := strconv.ParseUint(hashing.XXH32.Sum(data), 16, 32)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("<xxhash>%010d</xxhash>", v)
	case "null":
		return "<null/>"
	}
	t.Fatalf("unknown digest element %q", elem)
	return ""
}

// writeClassicMHL writes dir/<dirname>_2024-03-01_090000.mhl listing the
// files below dir (paths relative to dir) with digest element elem, in
// version ("1.0" without creatorinfo details), and returns its path.
// utf16 writes it in UTF-16LE with a byte order mark.
func writeClassicMHL(t *testing.T, dir, version, elem string, utf16 bool) string {
	t.Helper()
	files, _, err := walkTree(dir, func(rel string) bool { return strings.HasSuffix(rel, ".mhl") }, nil)
	if err != nil {
		t.Fatal(err)
	}
	rels := make([]string, 0, len(files))
	for rel := range files {
		rels = append(rels, rel)
	}
	slices.Sort(rels)
	enc := "UTF-8"
	if utf16 {
		enc = "UTF-16"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "<?xml version=\"1.0\" encoding=%q?>\n<hashlist version=%q>\n", enc, version)
	if version != "1.0" {
		b.WriteString("  <creatorinfo>\n    <username>dit</username>\n    <hostname>cart</hostname>\n    <tool>Offloader</tool>\n")
		b.WriteString("    <startdate>2024-03-01T09:00:00Z</startdate>\n    <finishdate>2024-03-01T09:10:00Z</finishdate>\n  </creatorinfo>\n")
	}
	for _, rel := range rels {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "  <hash>\n    <file>%s</file>\n    <size>%d</size>\n", xmlEscape(rel), len(data))
		fmt.Fprintf(&b, "    <lastmodificationdate>%s</lastmodificationdate>\n", files[rel].ModTime.UTC().Format("2006-01-02T15:04:05Z"))
		fmt.Fprintf(&b, "    %s\n    <hashdate>2024-03-01T09:05:00Z</hashdate>\n  </hash>\n", classicDigest(t, elem, data))
	}
	b.WriteString("</hashlist>\n")
	out := []byte(b.String())
	if utf16 {
		if out, err = unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().Bytes(out); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, filepath.Base(dir)+"_2024-03-01_090000.mhl")
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\n", "&#xA;", "\r", "&#xD;").Replace(s)
}

var classicVariants = []struct {
	name, version, elem string
	utf16               bool
}{
	{"md5", "1.1", "md5", false},
	{"sha1", "1.1", "sha1", false},
	{"xxhash64be", "1.1", "xxhash64be", false},
	{"xxhash64 little-endian", "1.1", "xxhash64", false},
	{"xxhash decimal", "1.1", "xxhash", false},
	{"null", "1.1", "null", false},
	{"version 1.0", "1.0", "md5", false},
	{"UTF-16", "1.1", "xxhash64be", true},
}

func TestVerifyClassicMHLEveryVariant(t *testing.T) {
	for _, v := range classicVariants {
		t.Run(v.name, func(t *testing.T) {
			root := footage(t, verifyFiles)
			mhl := writeClassicMHL(t, root, v.version, v.elem, v.utf16)
			for _, args := range [][]string{{root}, {mhl}, {"--against", mhl, root}} {
				code, out, errOut := runCLI(t, append([]string{"verify"}, args...)...)
				if code != ExitOK {
					t.Fatalf("verify %v: exit %d\n%s%s", args, code, out, errOut)
				}
				for p := range verifyFiles {
					if !lineFor("ok", p).MatchString(out) {
						t.Errorf("verify %v: no ok line for %q:\n%s", args, p, out)
					}
				}
				if sizeOnly := strings.Count(out, "(size only: "); (v.elem == "null") != (sizeOnly == len(verifyFiles)) {
					t.Errorf("verify %v: %d size-only lines:\n%s", args, sizeOnly, out)
				}
				if strings.Contains(out, "new ") {
					t.Errorf("verify %v: the MHL file itself is reported new:\n%s", args, out)
				}
			}
			if _, err := os.Stat(filepath.Join(root, "ascmhl")); !os.IsNotExist(err) {
				t.Errorf("verifying a classic MHL wrote an ASC MHL history: %v", err)
			}
		})
	}
}

func TestVerifyClassicMHLDetectsTampering(t *testing.T) {
	for _, v := range classicVariants {
		if v.elem == "null" {
			continue // size only: a flipped byte cannot be seen
		}
		for _, tc := range tampers {
			t.Run(v.name+"/"+tc.name, func(t *testing.T) {
				root := footage(t, verifyFiles)
				writeClassicMHL(t, root, v.version, v.elem, v.utf16)
				tc.do(t, root)
				before := listDir(t, root)
				code, out, errOut := runCLI(t, "verify", root)
				if want := map[bool]int{true: ExitFailure, false: ExitOK}[tc.failed]; code != want {
					t.Fatalf("exit %d, want %d\n%s%s", code, want, out, errOut)
				}
				for p, status := range tc.want {
					if !lineFor(status, p).MatchString(out) {
						t.Errorf("no %s line for %q:\n%s", status, p, out)
					}
				}
				if after := listDir(t, root); !slices.Equal(before, after) {
					t.Errorf("verify wrote into the tree: %v -> %v", before, after)
				}
			})
		}
	}
	// Size only still catches a truncation.
	root := footage(t, verifyFiles)
	writeClassicMHL(t, root, "1.1", "null", false)
	if err := os.Truncate(filepath.Join(root, "A001C001.mov"), 10); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := runCLI(t, "verify", root); code != ExitFailure || !lineFor("changed", "A001C001.mov").MatchString(out) {
		t.Errorf("truncated file against a size-only MHL: exit %d\n%s", code, out)
	}
}

// TestVerifyClassicMHLAnywhere: a classic MHL lists paths relative to its
// own directory, which may be any ancestor of the files: each card folder
// of a Reels folder carries its own, and one above the Reels folder lists
// Reels/... too.
func TestVerifyClassicMHLAnywhere(t *testing.T) {
	top := t.TempDir()
	reels := filepath.Join(top, "Reels")
	for _, card := range []string{"A001", "B001"} {
		for name, data := range map[string]string{"Clip/" + card + "C001.mov": card + " one", "Clip/" + card + "C002.mov": card + " two"} {
			p := filepath.Join(reels, card, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		writeClassicMHL(t, filepath.Join(reels, card), "1.1", "xxhash64be", false)
	}
	code, out, errOut := runCLI(t, "verify", reels)
	if code != ExitOK || strings.Count(out, "\nok ") != 3 || !lineFor("ok", "A001/Clip/A001C001.mov").MatchString(out) {
		t.Fatalf("Reels with an MHL per card: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "A001_2024-03-01_090000.mhl") || !strings.Contains(out, "B001_2024-03-01_090000.mhl") {
		t.Errorf("summary does not name both MHL files:\n%s", out)
	}
	// One MHL above the Reels folder, checked for one card only.
	above := writeClassicMHL(t, top, "1.1", "md5", false)
	card := filepath.Join(reels, "B001")
	writeKeepTime(t, filepath.Join(card, "Clip", "B001C002.mov"), []byte("B001 tw0"))
	code, out, _ = runCLI(t, "verify", "--against", above, card)
	if code != ExitFailure || !lineFor("changed", "Clip/B001C002.mov").MatchString(out) || !lineFor("ok", "Clip/B001C001.mov").MatchString(out) ||
		strings.Contains(out, "A001") {
		t.Errorf("MHL above the card: exit %d\n%s", code, out)
	}
}

func TestVerifyClassicMHLMalformed(t *testing.T) {
	for name, mutate := range map[string]func(string) string{
		"truncated":  func(s string) string { return s[:len(s)/2] },
		"version 2":  func(s string) string { return strings.Replace(s, `version="1.1"`, `version="2.0"`, 1) },
		"bad xxhash": func(s string) string { return strings.Replace(s, "<xxhash>", "<xxhash>99", 1) },
		"dot dot":    func(s string) string { return strings.Replace(s, "<file>", "<file>../", 1) },
	} {
		t.Run(name, func(t *testing.T) {
			root := footage(t, map[string]string{"a.mov": "aaa", "b/c.mov": "ccc"})
			p := writeClassicMHL(t, root, "1.1", "xxhash", false)
			data, _ := os.ReadFile(p)
			if err := os.WriteFile(p, []byte(mutate(string(data))), 0o644); err != nil {
				t.Fatal(err)
			}
			before := listDir(t, root)
			for _, args := range [][]string{{root}, {p}} {
				code, out, errOut := runCLI(t, append([]string{"verify"}, args...)...)
				if code != ExitUsage || out != "" {
					t.Fatalf("verify %v: exit %d, want %d\n%s%s", args, code, ExitUsage, out, errOut)
				}
				if n := strings.Count(strings.TrimRight(errOut, "\n"), "\n"); n != 0 || !strings.Contains(errOut, filepath.Base(p)) || !strings.Contains(errOut, "corrupt manifest") {
					t.Errorf("verify %v: want one line naming the MHL file, got %q", args, errOut)
				}
			}
			if after := listDir(t, root); !slices.Equal(before, after) {
				t.Errorf("verify wrote into the tree: %v -> %v", before, after)
			}
		})
	}
}
