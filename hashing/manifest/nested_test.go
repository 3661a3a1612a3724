package manifest

import (
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cvv-project/cvv/hashing"
	"github.com/cvv-project/cvv/hashing/manifest/c4"
)

// reels builds Reels/{A001,B001}/... with a card history each (generation
// 1, written at seal) and returns the root and a Record of the whole tree.
func reels(t *testing.T, alg hashing.Algorithm) (string, Record) {
	t.Helper()
	files := map[string]string{"notes.txt": "day 1", "Proxy/p.mp4": "proxy"}
	for _, card := range []string{"A001", "B001"} {
		files[card+"/Clip/"+card+"C001.mov"] = strings.Repeat(card, 3000)
		files[card+"/Clip/"+card+"C002.mov"] = card + " two"
		files[card+"/"+card+".xml"] = "<xml/>"
	}
	root, rec := tree(t, "Reels", alg, files, "A001/Empty")
	for _, card := range []string{"A001", "B001"} {
		sub := Record{Root: filepath.Join(root, card), Alg: alg, Start: rec.Start.Add(-time.Hour), Process: "transfer"}
		for _, f := range rec.Files {
			if rel, ok := strings.CutPrefix(f.Path, card+"/"); ok {
				f.Path = rel
				sub.Files = append(sub.Files, f)
			}
		}
		if _, err := Write(sub, []Format{MHL}); err != nil {
			t.Fatal(err)
		}
	}
	return root, rec
}

func TestMHLNestedHistories(t *testing.T) {
	root, rec := reels(t, hashing.XXH64)
	// The card folders' ascmhl/ come along, as in a copied tree: they are
	// not files of the record.
	rec.Files = append(rec.Files, File{Path: "A001/ascmhl/ascmhl_chain.xml", Size: 1, Hash: strings.Repeat("0", 16)})
	if _, err := Write(rec, []Format{MHL}); err != nil {
		t.Fatal(err)
	}
	parent, err := ReadNewest(root)
	if err != nil {
		t.Fatal(err)
	}
	var own []string
	for _, e := range parent.Files {
		own = append(own, e.Path)
	}
	if !slices.Equal(own, []string{"Proxy/p.mp4", "notes.txt"}) {
		t.Errorf("parent records %v, want only the files outside the cards", own)
	}
	for _, d := range []string{"A001", "B001", "Proxy"} {
		if !slices.Contains(parent.Dirs, d) {
			t.Errorf("parent has no directory hash for %s: %v", d, parent.Dirs)
		}
	}
	if slices.Contains(parent.Dirs, "A001/Clip") || slices.Contains(parent.Dirs, "A001/Empty") {
		t.Errorf("parent lists directories of a child: %v", parent.Dirs)
	}
	if len(parent.References) != 2 {
		t.Fatalf("parent references %v, want both cards", parent.References)
	}
	for i, card := range []string{"A001", "B001"} {
		child, err := ReadHistory(filepath.Join(root, card))
		if err != nil {
			t.Fatal(err)
		}
		if len(child.Generations) != 2 {
			t.Fatalf("%s: %d generations, want 2", card, len(child.Generations))
		}
		g := child.Generations[1]
		ref := parent.References[i]
		if want := path.Join(card, HistoryDir, filepath.Base(g.File)); ref.Path != want || ref.C4 != g.C4 {
			t.Errorf("reference %+v, want %s with C4 %s", ref, want, g.C4)
		}
		data, _ := os.ReadFile(g.File)
		if c4.Sum(data) != ref.C4 {
			t.Errorf("%s: C4 of the file %s, referenced %s", card, c4.Sum(data), ref.C4)
		}
		if len(g.Files) != 3 {
			t.Errorf("%s generation 2 lists %d files, want 3", card, len(g.Files))
		}
		for _, e := range g.Files {
			if e.Hashes[0].Action != "verified" {
				t.Errorf("%s/%s: action %q, want verified against generation 1", card, e.Path, e.Hashes[0].Action)
			}
		}
		if card == "A001" && !slices.Contains(g.Dirs, "Empty") {
			t.Errorf("A001 generation 2 has no directory hash for Empty: %v", g.Dirs)
		}
		xmllint(t, filepath.Join(root, card))
	}
	xmllint(t, root)

	// The parent's directory hash of a card is the card's root hash, and
	// every directory hash covers the files of nested histories too.
	all := directoryHashes(rec.Alg, rec.Files[:len(rec.Files)-1], rec.Dirs)
	pdata, _ := os.ReadFile(parent.File)
	cdata, _ := os.ReadFile(filepath.Join(root, "A001", HistoryDir, filepath.Base(parent.References[0].Path)))
	for _, doc := range []string{string(pdata), string(cdata)} {
		if !strings.Contains(doc, ">"+all["A001"].content+"<") || !strings.Contains(doc, ">"+all["A001"].structure+"<") {
			t.Errorf("directory hash of A001 %+v missing:\n%s", all["A001"], doc)
		}
	}
	if !strings.Contains(string(pdata), ">"+all[""].content+"<") {
		t.Errorf("parent root hash is not over the whole tree (%s):\n%s", all[""].content, pdata)
	}
}

// TestMHLNestedOnlyChangedChildren: a child history without files in the
// record gets no generation (nothing of it was hashed).
func TestMHLNestedOnlyChangedChildren(t *testing.T) {
	root, rec := reels(t, hashing.MD5)
	rec.Files = slices.DeleteFunc(rec.Files, func(f File) bool { return strings.HasPrefix(f.Path, "B001/") })
	if _, err := Write(rec, []Format{MHL}); err != nil {
		t.Fatal(err)
	}
	b, err := ReadHistory(filepath.Join(root, "B001"))
	if err != nil || len(b.Generations) != 1 {
		t.Fatalf("B001: %v generations, %v", b, err)
	}
	parent, err := ReadNewest(root)
	if err != nil || len(parent.References) != 1 || !strings.HasPrefix(parent.References[0].Path, "A001/ascmhl/0002_A001_") {
		t.Fatalf("parent references %+v, %v", parent, err)
	}
}
