package faults

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cvv-project/cvv/hashing"
	"github.com/cvv-project/cvv/hashing/manifest"
	"github.com/cvv-project/cvv/hashing/manifest/c4"
)

// manifestTree writes a small tree under root and its manifests (an ASC MHL
// generation and an md5 sums list) through the manifest package, and
// returns the generation file and the sums list.
func manifestTree(t *testing.T, root string) (mhlFile, sumsFile string) {
	t.Helper()
	files := map[string]int64{"a.txt": 100, "sub/b.bin": 70000, "sub/deeper/c.bin": 0}
	rec := manifest.Record{Root: root, Alg: hashing.MD5, Start: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	for rel, size := range files {
		p := filepath.Join(root, rel)
		writeRandom(t, p, size, uint64(size))
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		rec.Files = append(rec.Files, manifest.File{Path: rel, Size: size, ModTime: fi.ModTime(), Hash: hashing.MD5.Sum(mustRead(t, p))})
	}
	written, err := manifest.Write(rec, []manifest.Format{manifest.MHL, manifest.Sums})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range written {
		switch {
		case strings.HasSuffix(w, ".mhl"):
			mhlFile = w
		case strings.HasSuffix(w, ".md5"):
			sumsFile = w
		}
	}
	if mhlFile == "" || sumsFile == "" {
		t.Fatalf("manifest.Write wrote %q: no .mhl or .md5", written)
	}
	return mhlFile, sumsFile
}

// flipDigest changes the first hex digit of the first digest in the first
// part (<content> or <structure>) of the first section (<roothash> or
// <directoryhash>) of an ASC MHL generation: still well-formed, now wrong.
func flipDigest(s, section, part string) string {
	i := strings.Index(s, section)
	j := strings.Index(s[i:], part)
	k := strings.Index(s[i+j:], "\">")
	if i < 0 || j < 0 || k < 0 {
		return s
	}
	at := i + j + k + 2
	d := byte('0')
	if s[at] == '0' {
		d = '1'
	}
	return s[:at] + string(d) + s[at+1:]
}

// TestVerifyCorruptManifest: cvv verify on a corrupted ASC MHL generation or
// sums list prints one line of error, exits 2, and writes nothing (no new
// generation).
func TestVerifyCorruptManifest(t *testing.T) {
	// The uncorrupted manifests must verify, or the cases below prove
	// nothing.
	{
		root := t.TempDir()
		manifestTree(t, root)
		r := runCVV(t, runOpts{}, "verify", "--no-record", root)
		if r.Code != 0 {
			t.Fatalf("cvv verify of an intact tree: exit %d, want 0 (is verify wired?)\n%v", r.Code, r)
		}
		_, sums := manifestTree(t, t.TempDir())
		r = runCVV(t, runOpts{}, "verify", "--against", sums, filepath.Dir(sums))
		if r.Code != 0 {
			t.Fatalf("cvv verify --against an intact list: exit %d, want 0\n%v", r.Code, r)
		}
	}
	// A file's hash (not the root or directory hashes, which come first).
	hashRE := regexp.MustCompile(`action="original"[^>]*>[0-9a-f]{32}<`)
	rootHashRE := regexp.MustCompile(`>[0-9a-f]{32}<`)
	cases := []struct {
		name    string
		mhl     bool // corrupt the MHL generation (else the sums list)
		corrupt func(s string) string
		rechain bool // also fix the generation's C4 in the chain file, so the parser itself must object
	}{
		{"mhl truncated", true, func(s string) string { return s[:len(s)/2] }, false},
		{"mhl empty", true, func(string) string { return "" }, false},
		{"mhl not xml", true, func(string) string { return "this is not xml\n" }, false},
		{"mhl wrong namespace", true, func(s string) string {
			return strings.Replace(s, "urn:ASC:MHL:v2.0", "urn:example:not-mhl", 1)
		}, false},
		{"mhl hash too short", true, func(s string) string {
			loc := hashRE.FindStringIndex(s)
			return s[:loc[1]-33] + "0123abcd<" + s[loc[1]:]
		}, false},
		{"mhl hash not hex", true, func(s string) string {
			loc := hashRE.FindStringIndex(s)
			return s[:loc[1]-33] + "zz" + s[loc[1]-31:]
		}, false},
		{"mhl hash too short, chain fixed", true, func(s string) string {
			loc := hashRE.FindStringIndex(s)
			return s[:loc[1]-33] + "0123abcd<" + s[loc[1]:]
		}, true},
		{"mhl hash not hex, chain fixed", true, func(s string) string {
			loc := hashRE.FindStringIndex(s)
			return s[:loc[1]-33] + "zz" + s[loc[1]-31:]
		}, true},
		{"mhl root hash too short, chain fixed", true, func(s string) string {
			loc := rootHashRE.FindStringIndex(s)
			return s[:loc[0]] + ">0123abcd<" + s[loc[1]:]
		}, true},
		{"mhl hash too long, chain fixed", true, func(s string) string {
			loc := hashRE.FindStringIndex(s)
			return s[:loc[1]-1] + "00" + s[loc[1]-1:]
		}, true},
		{"mhl absolute path, chain fixed", true, func(s string) string {
			return strings.Replace(s, ">a.txt<", ">/etc/passwd<", 1)
		}, true},
		{"mhl path escapes root", true, func(s string) string {
			return strings.Replace(s, ">a.txt<", ">../../etc/passwd<", 1)
		}, false},
		{"mhl path escapes root inside", true, func(s string) string {
			return strings.Replace(s, ">sub/b.bin<", ">sub/../../b.bin<", 1)
		}, false},
		{"mhl absolute path", true, func(s string) string {
			return strings.Replace(s, ">a.txt<", ">/etc/passwd<", 1)
		}, false},
		// Well-formed digests that do not match the files: only a
		// recomputation of the directory hashes catches them.
		{"mhl directory content hash changed, chain fixed", true, func(s string) string { return flipDigest(s, "<directoryhash>", "<content>") }, true},
		{"mhl directory structure hash changed, chain fixed", true, func(s string) string { return flipDigest(s, "<directoryhash>", "<structure>") }, true},
		{"mhl root content hash changed, chain fixed", true, func(s string) string { return flipDigest(s, "<roothash>", "<content>") }, true},
		{"mhl root structure hash changed, chain fixed", true, func(s string) string { return flipDigest(s, "<roothash>", "<structure>") }, true},
		{"mhl directory structure hash changed", true, func(s string) string { return flipDigest(s, "<directoryhash>", "<structure>") }, false},
		{"sums hash too short", false, func(s string) string {
			return regexp.MustCompile(`(?m)^[0-9a-f]{32}`).ReplaceAllString(s, "0123abcd")
		}, false},
		{"sums path escapes root", false, func(s string) string {
			return strings.Replace(s, "a.txt", "../../etc/passwd", 1)
		}, false},
		{"sums absolute path", false, func(s string) string {
			return strings.Replace(s, "a.txt", "/etc/passwd", 1)
		}, false},
		{"sums garbage line", false, func(s string) string { return s + "this line is not a checksum\n" }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			mhl, sums := manifestTree(t, root)
			target := sums
			if tc.mhl {
				target = mhl
			}
			orig := string(mustRead(t, target))
			bad := tc.corrupt(orig)
			if bad == orig && tc.name != "mhl empty" {
				t.Fatalf("the corruption changed nothing:\n%s", orig)
			}
			if err := os.WriteFile(target, []byte(bad), 0o644); err != nil {
				t.Fatal(err)
			}
			if tc.rechain {
				chain := filepath.Join(root, manifest.HistoryDir, manifest.ChainFile)
				cs := string(mustRead(t, chain))
				fixed := strings.Replace(cs, c4.Sum([]byte(orig)), c4.Sum([]byte(bad)), 1)
				if fixed == cs {
					t.Fatalf("the chain file does not hold the generation's C4 %s:\n%s", c4.Sum([]byte(orig)), cs)
				}
				if err := os.WriteFile(chain, []byte(fixed), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			args := []string{"verify", root}
			if !tc.mhl {
				if err := os.RemoveAll(filepath.Join(root, manifest.HistoryDir)); err != nil {
					t.Fatal(err)
				}
				args = []string{"verify", "--against", sums, root}
			}
			before := snapshot(t, root)
			r := runCVV(t, runOpts{}, args...)
			after := snapshot(t, root)
			if r.Code != 2 {
				t.Errorf("exit %d, want 2\n%v", r.Code, r)
			}
			t.Logf("stderr: %s", strings.TrimSpace(r.Stderr))
			lines := strings.Split(strings.TrimRight(r.Stderr, "\n"), "\n")
			if len(lines) != 1 || strings.TrimSpace(lines[0]) == "" {
				t.Errorf("stderr has %d lines, want one error line:\n%s", len(lines), r.Stderr)
			}
			for _, d := range diffSnapshots(before, after) {
				t.Errorf("verify changed the tree: %s", d)
			}
		})
	}
}
