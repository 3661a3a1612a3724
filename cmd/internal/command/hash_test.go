package command

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cvv-project/cvv/hashing"
	"github.com/cvv-project/cvv/hashing/manifest"
)

func TestHashPrintsSumLinesInOrder(t *testing.T) {
	files := map[string]string{"b.mov": "bbb", "a/z.wav": "zzz", "a/y w.wav": strings.Repeat("y", 100000), "new\nline": "nl", "é.txt": ""}
	for _, eng := range testEngines(t) {
		for _, alg := range hashing.Algorithms {
			root := footage(t, files)
			os.Symlink("b.mov", filepath.Join(root, "link"))
			single := filepath.Join(root, "b.mov")
			code, out, errOut := runCLI(t, "hash", "--engine", eng, "--hash", alg.String(), "-j", "3", single, root)
			if code != ExitOK {
				t.Fatalf("%s %v: exit %d: %s", eng, alg, code, errOut)
			}
			want := manifest.SumLine(alg, alg.Sum([]byte("bbb")), single, false)
			for _, rel := range []string{"a/y w.wav", "a/z.wav", "b.mov", "new\nline", "é.txt"} {
				want += manifest.SumLine(alg, alg.Sum([]byte(files[rel])), filepath.Join(root, rel), false)
			}
			if out != want {
				t.Errorf("%s %v: output\n%s\nwant\n%s", eng, alg, out, want)
			}
		}
	}
}

// TestHashMatchesReferenceTools compares cvv hash with md5sum, sha1sum,
// sha256sum and xxhsum on the same files, and checks that the tools accept
// cvv hash's output as a check list.
func TestHashMatchesReferenceTools(t *testing.T) {
	root := footage(t, map[string]string{"one.mov": "1", "two words.mov": strings.Repeat("2", 5000), "Ünï/three.mov": "3"})
	names := []string{"one.mov", "two words.mov", "Ünï/three.mov"}
	for _, tc := range []struct {
		alg   hashing.Algorithm
		tool  string
		targs []string
		tag   bool
	}{
		{hashing.MD5, "md5sum", nil, false},
		{hashing.SHA1, "sha1sum", nil, false},
		{hashing.SHA256, "sha256sum", nil, false},
		{hashing.SHA256, "sha256sum", []string{"--tag"}, true},
		{hashing.XXH64, "xxhsum", []string{"-H64"}, false},
		{hashing.XXH128, "xxh128sum", nil, false},
		{hashing.XXH3, "xxhsum", []string{"-H3"}, true}, // xxhsum 0.8.1 prints and reads xxh3 as tag lines
	} {
		t.Run(tc.tool+strings.Join(tc.targs, ""), func(t *testing.T) {
			if _, err := exec.LookPath(tc.tool); err != nil {
				t.Skipf("%s not installed (CI installs xxhash and coreutils)", tc.tool)
			}
			cmd := exec.Command(tc.tool, append(tc.targs, names...)...)
			cmd.Dir = root
			ref, err := cmd.Output()
			if err != nil {
				t.Fatal(err)
			}
			args := []string{"hash", "--hash", tc.alg.String()}
			if tc.tag {
				args = append(args, "--tag")
			}
			// Run from root so the paths read as the tool's do.
			t.Chdir(root)
			code, out, errOut := runCLI(t, append(args, names...)...)
			if code != ExitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			refLines := string(ref)
			if tc.alg == hashing.XXH3 {
				// xxhsum 0.8.2 and later print "XXH3_HASH  path" without
				// --tag; compare digests only then.
				refLines = strings.ReplaceAll(refLines, "XXH3_", "")
			}
			if out != refLines && !(tc.alg == hashing.XXH3 && !strings.HasPrefix(refLines, "XXH3 (")) {
				t.Errorf("cvv hash:\n%s\n%s:\n%s", out, tc.tool, ref)
			}
			list := filepath.Join(root, "list")
			if err := os.WriteFile(list, []byte(out), 0o644); err != nil {
				t.Fatal(err)
			}
			check := exec.Command(tc.tool, "-c", list)
			if tc.tool == "xxh128sum" {
				check = exec.Command("xxhsum", "-c", list)
			}
			check.Dir = root
			if res, err := check.CombinedOutput(); err != nil {
				t.Errorf("%s -c rejected cvv hash output: %v\n%s", tc.tool, err, res)
			}
			os.Remove(list)
		})
	}
}

func TestHashErrorsAndUsage(t *testing.T) {
	root := footage(t, map[string]string{"a.mov": "aaa"})
	missing := filepath.Join(root, "missing.mov")
	code, out, errOut := runCLI(t, "hash", "--hash", "md5", missing, filepath.Join(root, "a.mov"))
	if code != ExitFailure {
		t.Errorf("a missing file: exit %d, want 1", code)
	}
	if !strings.Contains(out, hashing.MD5.Sum([]byte("aaa"))+"  ") {
		t.Errorf("the readable file was not hashed: %q", out)
	}
	if !strings.Contains(errOut, "missing.mov") {
		t.Errorf("no error naming the missing file: %q", errOut)
	}
	for name, args := range map[string][]string{
		"no args":    {"hash"},
		"bad hash":   {"hash", "--hash", "crc32", root},
		"bad jobs":   {"hash", "-j", "-1", root},
		"bad engine": {"hash", "--engine", "x", root},
	} {
		if code, _, errOut := runCLI(t, args...); code != ExitUsage {
			t.Errorf("%s: exit %d, want 2 (%s)", name, code, errOut)
		}
	}
}

// TestHashOutputIsAVerifyList: cvv verify --against reads cvv hash output.
func TestHashOutputIsAVerifyList(t *testing.T) {
	root := footage(t, map[string]string{"a.mov": "aaa", "d/b.mov": "bbb", "new\nline.mov": "nl"})
	t.Chdir(root)
	code, out, errOut := runCLI(t, "hash", "--hash", "xxh128", ".")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	list := filepath.Join(t.TempDir(), "list.xxh128")
	os.WriteFile(list, []byte(out), 0o644)
	if code, out, errOut := runCLI(t, "verify", "--against", list, root); code != ExitOK {
		t.Fatalf("verify of cvv hash output: exit %d\n%s%s", code, out, errOut)
	}
}
