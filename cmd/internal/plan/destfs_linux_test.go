package plan

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFoldKey(t *testing.T) {
	for _, tc := range []struct {
		fold       Fold
		a, b       string
		sameOnDisk bool
	}{
		{FoldNone, "Take.wav", "take.wav", false},
		{FoldUpcase, "Take.wav", "take.wav", true},
		{FoldUpcase, "Été.wav", "été.WAV", true},
		{FoldUpcase, "ΣΊΣΥΦΟΣ", "σίσυφος", true},
		// No normalisation on FAT, exFAT and NTFS: two names.
		{FoldUpcase, "caf\u00e9", "cafe\u0301", false},
		{FoldUpcase, "a.wav", "a.wav ", false},
		{FoldCasefold, "caf\u00e9", "CAFE\u0301", true},
		{FoldCasefold, "Take.wav", "TAKE.WAV", true},
		{FoldCasefold, "take1", "take2", false},
	} {
		if got := tc.fold.Key(tc.a) == tc.fold.Key(tc.b); got != tc.sameOnDisk {
			t.Errorf("fold %d: %q and %q one name = %v, want %v", tc.fold, tc.a, tc.b, got, tc.sameOnDisk)
		}
	}
}

func TestCheckName(t *testing.T) {
	exfat := exfatFuse()
	fat := fuseFAT("fat (fusefat)")
	vfat := kernelFAT("vfat")
	for _, tc := range []struct {
		fs   DestFS
		name string
		want string // "" when the name fits
	}{
		{exfat, "C0001.MP4", ""},
		{exfat, "café.wav", ""},
		{exfat, "a:b", `refuses the character ':'`},
		{exfat, "a\x01b", `refuses the character '\x01'`},
		{exfat, `what?`, `refuses the character '?'`},
		{exfat, "a\xffb", "not valid UTF-8"},
		{exfat, strings.Repeat("é", 255), ""},
		{exfat, strings.Repeat("é", 256), "256 UTF-16 units long"},
		{exfat, strings.Repeat("😀", 128), "256 UTF-16 units long"},
		{exfat, "dot.", ""},
		{vfat, "dot.", "drops the trailing dot"},
		{fat, "café.wav", "non-ASCII character 'é'"},
		{DestFS{}, "a:b?\x01", ""},
	} {
		err := tc.fs.CheckName(tc.name)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %q refused: %v", tc.fs.Type, tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %q: error %v, want one saying %q", tc.fs.Type, tc.name, err, tc.want)
		}
	}
	if err := vfat.CheckSize(MaxFAT32File); err != nil {
		t.Errorf("4 GiB - 1 refused on FAT: %v", err)
	}
	if err := vfat.CheckSize(MaxFAT32File + 1); err == nil {
		t.Error("4 GiB accepted on FAT")
	}
	if err := exfat.CheckSize(1 << 40); err != nil {
		t.Errorf("1 TiB refused on exFAT: %v", err)
	}
}

func TestSameTimeOn(t *testing.T) {
	src := time.Date(2025, 6, 7, 8, 9, 11, 987654321, time.UTC)
	for _, tc := range []struct {
		dst  time.Time
		g    time.Duration
		same bool
	}{
		{src, 0, true},
		{src.Truncate(time.Second), 0, true},
		{src.Truncate(10 * time.Millisecond), 0, true},
		{src.Add(-time.Millisecond), 0, false},
		{src.Truncate(10 * time.Millisecond), 10 * time.Millisecond, true},
		{src.Truncate(time.Second), time.Second, true},
		{src.Truncate(2 * time.Second), 2 * time.Second, true},
		// Drivers that round up (FAT written by Windows).
		{src.Truncate(2 * time.Second).Add(2 * time.Second), 2 * time.Second, true},
		{src.Add(-2 * time.Second), 2 * time.Second, false},
		{src.Add(time.Second), time.Second, false},
		{src.Truncate(time.Second), 10 * time.Millisecond, false},
	} {
		if got := SameTimeOn(src, tc.dst, tc.g); got != tc.same {
			t.Errorf("SameTimeOn(%s, %s, %s) = %v, want %v", src, tc.dst, tc.g, got, tc.same)
		}
	}
}

// TestDecideGranularity: a re-run to a filesystem with coarse times skips
// the files it completed.
func TestDecideGranularity(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "f")
	write(t, target, "abc")
	src := time.Date(2025, 6, 7, 8, 9, 11, 987654321, time.UTC)
	if err := os.Chtimes(target, src, src.Truncate(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	e := Entry{Rel: "f", Size: 3, ModTime: src, Kind: File}
	// Another mtime is another file: a conflict, not a copy to skip.
	if a, _, err := Decide(target, e, Policy{}); err != nil || a != Conflict {
		t.Errorf("nanosecond filesystem: %v, %v; want conflict", a, err)
	}
	if a, _, err := Decide(target, e, Policy{TimeGranularity: 2 * time.Second}); err != nil || a != Skip {
		t.Errorf("FAT: %v, %v; want skip", a, err)
	}
}

func TestRefusals(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	for _, p := range []string{"Take.wav", "take.wav", "ok.wav", "a:b.wav", "CLIP/c1.mp4", "clip/c2.mp4", "Sub/x", "Sub/y:z/deep", "New.wav"} {
		write(t, filepath.Join(src, p), "x")
	}
	write(t, filepath.Join(dst, "Sub", "X"), "other card")
	write(t, filepath.Join(dst, "new.wav"), "existing")
	tree, err := Walk(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := Refusals(tree, exfatFuse(), func(rel string) string { return filepath.Join(dst, rel) })
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"Take.wav":         "Take.wav and take.wav are one name on exfat",
		"take.wav":         "Take.wav and take.wav are one name on exfat",
		"a:b.wav":          "refuses the character ':'",
		"CLIP":             "CLIP and clip are one name",
		"clip":             "CLIP and clip are one name",
		"CLIP/c1.mp4":      "inside CLIP",
		"clip/c2.mp4":      "inside clip",
		"Sub/x":            "holds " + filepath.Join(dst, "Sub", "X") + ", which is one name with x",
		"Sub/y:z":          "refuses the character ':'",
		"Sub/y:z/deep":     "inside Sub/y:z",
		"New.wav":          "holds " + filepath.Join(dst, "new.wav"),
		"ok.wav (allowed)": "",
	}
	for rel, msg := range want {
		if msg == "" {
			continue
		}
		err := ref[rel]
		if err == nil || !strings.Contains(err.Error(), msg) || !errors.Is(err, ErrNameRefused) {
			t.Errorf("%s: %v, want ErrNameRefused saying %q", rel, err, msg)
		}
	}
	for rel, err := range ref {
		if _, ok := want[rel]; !ok {
			t.Errorf("%s refused: %v", rel, err)
		}
	}
	if err := os.Symlink("ok.wav", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	if tree, err = Walk(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	ref, _ = Refusals(tree, exfatFuse(), func(rel string) string { return filepath.Join(dst, rel) })
	if err := ref["link"]; err == nil || !strings.Contains(err.Error(), "cannot hold symbolic links") {
		t.Errorf("symlink on exFAT: %v", err)
	}
	if ref, _ := Refusals(tree, DestFS{}, func(rel string) string { return filepath.Join(dst, rel) }); ref != nil {
		t.Errorf("a POSIX filesystem refuses %v", ref)
	}
	// A file source is checked under its target's name.
	one, err := Walk(context.Background(), filepath.Join(src, "ok.wav"))
	if err != nil {
		t.Fatal(err)
	}
	ref, _ = Refusals(one, exfatFuse(), func(string) string { return filepath.Join(dst, "NEW.wav") })
	if err := ref["ok.wav"]; err == nil || !strings.Contains(err.Error(), "new.wav, which is one name with NEW.wav") {
		t.Errorf("file source onto an existing name of other case: %v", err)
	}
}

func TestUdevFSType(t *testing.T) {
	dir := t.TempDir()
	old := udevData
	udevData = dir
	t.Cleanup(func() { udevData = old })
	write(t, filepath.Join(dir, "b8:17"), "S:disk/by-uuid/1234\nE:ID_FS_TYPE=exfat\nE:ID_FS_USAGE=filesystem\n")
	write(t, filepath.Join(dir, "b8:18"), "E:ID_FS_TYPE=ntfs\n")
	for dev, want := range map[string]string{"8:17": "exfat", "8:18": "ntfs", "8:19": ""} {
		if got := udevFSType(dev); got != want {
			t.Errorf("udevFSType(%s) = %q, want %q", dev, got, want)
		}
	}
}
