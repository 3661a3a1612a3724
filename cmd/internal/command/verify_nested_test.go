package command

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cvv-project/cvv/hashing"
	"github.com/cvv-project/cvv/hashing/manifest"
)

// reelsTree builds a Reels folder with two cards, each sealed with its own
// ASC MHL history (as an offload tool leaves them), and a note beside them.
func reelsTree(t *testing.T) string {
	t.Helper()
	reels := filepath.Join(t.TempDir(), "Reels")
	for _, card := range []string{"A001", "B001"} {
		dir := filepath.Join(reels, card)
		for name, data := range map[string]string{
			"Clip/" + card + "C001.mov": strings.Repeat(card, 5000),
			"Clip/" + card + "C002.mov": card + " two",
			"Sidecar/" + card + ".xml":  "<xml/>",
		} {
			p := filepath.Join(dir, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		record(t, dir, hashing.XXH64, manifest.MHL)
	}
	if err := os.WriteFile(filepath.Join(reels, "notes.txt"), []byte("day 1"), 0o644); err != nil {
		t.Fatal(err)
	}
	return reels
}

// sealParent writes the parent's generation as the ASC reference tool
// does: only the files outside the child histories are its own.
func sealParent(t *testing.T, reels string) {
	t.Helper()
	rec := manifest.Record{Root: reels, Alg: hashing.XXH64, Start: time.Now(), Process: "transfer",
		Files: []manifest.File{{Path: "notes.txt", Size: 5, Hash: hashing.XXH64.Sum([]byte("day 1"))}}}
	if _, err := manifest.Write(rec, []manifest.Format{manifest.MHL}); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyNestedHistories: verify on the parent checks the children's
// files against the children's histories, by their full path, and a tamper
// inside a child fails the parent's verification.
func TestVerifyNestedHistories(t *testing.T) {
	for _, sealed := range []bool{false, true} {
		name := map[bool]string{false: "parent without history", true: "parent sealed"}[sealed]
		t.Run(name, func(t *testing.T) {
			reels := reelsTree(t)
			if sealed {
				sealParent(t, reels)
			}
			code, out, errOut := runCLI(t, "verify", "--no-record", reels)
			if code != ExitOK {
				t.Fatalf("clean tree: exit %d\n%s%s", code, out, errOut)
			}
			for _, p := range []string{"A001/Clip/A001C001.mov", "B001/Sidecar/B001.xml"} {
				if !lineFor("ok", p).MatchString(out) {
					t.Errorf("no ok line for %s:\n%s", p, out)
				}
			}
			if strings.Contains(out, "\nnew ") || strings.HasPrefix(out, "new ") {
				if sealed || !strings.Contains(out, "new      notes.txt") || strings.Count(out, "new ") != 1 {
					t.Errorf("files reported new:\n%s", out)
				}
			}
			writeKeepTime(t, filepath.Join(reels, "B001", "Clip", "B001C001.mov"), []byte(strings.Repeat("B001", 4999)+"B00l"))
			code, out, _ = runCLI(t, "verify", "--no-record", reels)
			if code != ExitFailure || !lineFor("changed", "B001/Clip/B001C001.mov").MatchString(out) {
				t.Errorf("tamper inside a child: exit %d, want %d\n%s", code, ExitFailure, out)
			}
		})
	}
}

// generations returns the generation file names of dir's history.
func generations(t *testing.T, dir string) []string {
	t.Helper()
	h, err := manifest.ReadHistory(dir)
	if err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	var out []string
	for _, g := range h.Generations {
		out = append(out, filepath.Base(g.File))
	}
	return out
}

// checkReferences checks that the newest generation of root references
// the newest generation of each card, with its C4 ID, and lists none of
// the cards' files itself.
func checkReferences(t *testing.T, root string, cards ...string) {
	t.Helper()
	parent, err := manifest.ReadNewest(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(parent.References) != len(cards) {
		t.Fatalf("%s references %+v, want %v", parent.File, parent.References, cards)
	}
	for i, card := range cards {
		g, err := manifest.ReadNewest(filepath.Join(root, card))
		if err != nil {
			t.Fatal(err)
		}
		ref := parent.References[i]
		if ref.Path != card+"/ascmhl/"+filepath.Base(g.File) || ref.C4 != g.C4 {
			t.Errorf("reference %+v, want %s/ascmhl/%s %s", ref, card, filepath.Base(g.File), g.C4)
		}
		xmllintHistory(t, filepath.Join(root, card))
	}
	for _, e := range parent.Files {
		for _, card := range cards {
			if strings.HasPrefix(e.Path, card+"/") {
				t.Errorf("%s records %s, a file of the %s history", parent.File, e.Path, card)
			}
		}
	}
	xmllintHistory(t, root)
}

// TestVerifyNestedRecordsChildGenerations: verify on the parent appends an
// in-place generation to each child history and references it from the
// parent's; a tamper is recorded as failed in the child.
func TestVerifyNestedRecordsChildGenerations(t *testing.T) {
	reels := reelsTree(t)
	sealParent(t, reels)
	if code, out, errOut := runCLI(t, "verify", reels); code != ExitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, card := range []string{"A001", "B001"} {
		if g := generations(t, filepath.Join(reels, card)); len(g) != 2 {
			t.Errorf("%s: generations %v, want 2", card, g)
		}
	}
	checkReferences(t, reels, "A001", "B001")

	writeKeepTime(t, filepath.Join(reels, "A001", "Sidecar", "A001.xml"), []byte("<xmk/>"))
	if code, out, _ := runCLI(t, "verify", reels); code != ExitFailure || !lineFor("changed", "A001/Sidecar/A001.xml").MatchString(out) {
		t.Fatalf("tamper: exit %d\n%s", code, out)
	}
	checkReferences(t, reels, "A001", "B001")
	g, _ := manifest.ReadNewest(filepath.Join(reels, "A001"))
	for _, e := range g.Files {
		if want := map[bool]string{true: "failed", false: "verified"}[e.Path == "Sidecar/A001.xml"]; e.Hashes[0].Action != want {
			t.Errorf("A001 generation %d: %s %s, want %s", g.Number, e.Path, e.Hashes[0].Action, want)
		}
	}

	// Without a parent history only the children get generations.
	reels2 := reelsTree(t)
	if code, out, errOut := runCLI(t, "verify", reels2); code != ExitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(reels2, "ascmhl")); !os.IsNotExist(err) {
		t.Errorf("verify created a parent history: %v", err)
	}
	if g := generations(t, filepath.Join(reels2, "B001")); len(g) != 2 {
		t.Errorf("B001: generations %v, want 2", g)
	}
}

// TestCopyNestedHashFile: cards sealed inside a Reels folder, the folder
// copied with --hash-file mhl (each card history gets a generation, the
// new parent history references them), verified, tampered with, then the
// copy copied on.
func TestCopyNestedHashFile(t *testing.T) {
	reels := reelsTree(t)
	dst := filepath.Join(t.TempDir(), "Shuttle")
	if code, out, errOut := runCLI(t, "--hash", "xxh64", "--hash-file", "mhl", reels, dst); code != ExitOK {
		t.Fatalf("copy: exit %d\n%s%s", code, out, errOut)
	}
	if g := generations(t, dst); len(g) != 1 {
		t.Errorf("parent generations %v", g)
	}
	for _, card := range []string{"A001", "B001"} {
		if g := generations(t, filepath.Join(dst, card)); len(g) != 2 {
			t.Errorf("%s: generations %v, want 2", card, g)
		}
		if g := generations(t, filepath.Join(reels, card)); len(g) != 1 {
			t.Errorf("source %s changed: generations %v", card, g)
		}
	}
	checkReferences(t, dst, "A001", "B001")
	parent, _ := manifest.ReadNewest(dst)
	if len(parent.Files) != 1 || parent.Files[0].Path != "notes.txt" {
		t.Errorf("parent records %+v, want notes.txt only", parent.Files)
	}

	if code, out, errOut := runCLI(t, "verify", "--no-record", dst); code != ExitOK || strings.Contains(out, "new ") {
		t.Fatalf("verify copy: exit %d\n%s%s", code, out, errOut)
	}
	// Copied on: the next copy's histories grow by one generation each.
	dst2 := filepath.Join(t.TempDir(), "Archive")
	if code, out, errOut := runCLI(t, "--hash", "xxh64", "--hash-file", "mhl", dst, dst2); code != ExitOK {
		t.Fatalf("copy on: exit %d\n%s%s", code, out, errOut)
	}
	if g := generations(t, dst2); len(g) != 2 {
		t.Errorf("parent generations %v, want 2", g)
	}
	if g := generations(t, filepath.Join(dst2, "B001")); len(g) != 3 {
		t.Errorf("B001 generations %v, want 3", g)
	}
	checkReferences(t, dst2, "A001", "B001")

	writeKeepTime(t, filepath.Join(dst2, "B001", "Clip", "B001C002.mov"), []byte("B001 tw0"))
	if code, out, _ := runCLI(t, "verify", dst2); code != ExitFailure || !lineFor("changed", "B001/Clip/B001C002.mov").MatchString(out) {
		t.Errorf("tamper in the copied-on tree: exit %d\n%s", code, out)
	}
}
