package faults

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cvv-project/cvv/cmd/internal/plan"
)

// mountImage mounts a fresh filesystem image of kind and size bytes on a
// new directory through its FUSE driver, and unmounts it and detaches its
// loop device at cleanup. Without the tools it skips, unless CI is set.
func mountImage(t testing.TB, kind ImageKind, size int64) *Image {
	t.Helper()
	requireFUSE(t)
	for _, tool := range kind.Tools() {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s image: %v (.ci/run installs exfat-fuse, exfatprogs, fusefat, dosfstools)", kind, err)
			}
			t.Skipf("%s image: %v (install exfat-fuse, exfatprogs, fusefat, dosfstools)", kind, err)
		}
	}
	base := t.TempDir()
	dir := filepath.Join(base, "mnt")
	mkdirs(t, dir)
	m, err := MountImage(kind, filepath.Join(base, "fs.img"), dir, size)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Error(err)
		}
	})
	return m
}

// writeFile writes data to path (parents made) with the mtime mt.
func writeFile(t testing.TB, path, data string, mt time.Time) {
	t.Helper()
	mkdirs(t, filepath.Dir(path))
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mt, mt); err != nil {
		t.Fatal(err)
	}
}

// TestCLICaseCollisionExFAT is issue 9's fourth loss: a card with Take.wav
// and take.wav copied to exFAT exited 0 in transfer and full mode with one
// file on the drive (or killed exfat-fuse with the drive's other files).
// Both names now fail on the exFAT destination alone, each in a line that
// says they are one name there; every other file reaches the drive, the
// ext4-like destination gets both, the driver lives, and the status is 1.
func TestCLICaseCollisionExFAT(t *testing.T) {
	for _, mode := range []string{"transfer", "full"} {
		t.Run(mode, func(t *testing.T) {
			img := mountImage(t, ExFATFuse, 64<<20)
			work := workDir(t, 64<<20)
			src, local := filepath.Join(work, "card"), filepath.Join(work, "local")
			mt := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
			writeFile(t, filepath.Join(src, "Take.wav"), "the first take, longer", mt)
			writeFile(t, filepath.Join(src, "take.wav"), "the second take", mt)
			writeFile(t, filepath.Join(src, "CLIP", "C0001.MP4"), "clip", mt)
			writeFile(t, filepath.Join(src, "clip", "c0002.mp4"), "another clip", mt)
			writeFile(t, filepath.Join(src, "notes.txt"), "notes", mt)
			want := treeFiles(t, src)
			shuttle := filepath.Join(img.Dir, "day1")
			r := runCVV(t, runOpts{}, "--mode", mode, src, local, shuttle)
			if r.Code != 1 {
				t.Errorf("exit %d, want 1", r.Code)
			}
			if err := img.Alive(); err != nil {
				t.Fatalf("exfat-fuse died: %v\n%v", err, r)
			}
			checkComplete(t, want, local)
			got := treeFiles(t, shuttle)
			if got["notes.txt"] != want["notes.txt"] {
				t.Errorf("notes.txt did not reach the exFAT drive:\n%v", r)
			}
			for _, name := range []string{"Take.wav", "take.wav", "CLIP/C0001.MP4", "clip/c0002.mp4"} {
				if _, ok := got[name]; ok {
					t.Errorf("%s on the exFAT drive, where it collides with another name", name)
				}
			}
			// One line per refused entry, naming both names and the filesystem.
			for _, pair := range [][2]string{{"Take.wav", "take.wav"}, {"CLIP", "clip"}} {
				re := regexp.MustCompile(regexp.QuoteMeta(pair[0]) + ` and ` + regexp.QuoteMeta(pair[1]) + ` are one name on exfat`)
				if n := len(re.FindAllString(r.Stdout+r.Stderr, -1)); n < 2 {
					t.Errorf("%d lines say %s and %s are one name on exfat, want one per entry:\n%v", n, pair[0], pair[1], r)
				}
			}
			for _, l := range strings.Split(r.Stdout+r.Stderr, "\n") {
				if strings.Contains(l, local) && strings.Contains(l, "FAIL") {
					t.Errorf("the local destination failed: %s", l)
				}
			}
		})
	}
}

// TestCLIExFATExistingOtherCase: the exFAT drive already holds TAKE.WAV
// from another card; the source's Take.wav would land on it under the old
// name. It fails there with a line naming the existing file, which keeps its
// bytes; the status is 1.
func TestCLIExFATExistingOtherCase(t *testing.T) {
	img := mountImage(t, ExFATFuse, 64<<20)
	work := workDir(t, 64<<20)
	src := filepath.Join(work, "card")
	mt := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	writeFile(t, filepath.Join(src, "Take.wav"), "new take", mt)
	writeFile(t, filepath.Join(src, "other.wav"), "other", mt)
	shuttle := filepath.Join(img.Dir, "day1")
	writeFile(t, filepath.Join(shuttle, "TAKE.WAV"), "old take from another card", mt)
	r := runCVV(t, runOpts{}, src, shuttle)
	if r.Code != 1 {
		t.Errorf("exit %d, want 1", r.Code)
	}
	expectOutput(t, r, "TAKE.WAV, which is one name with Take.wav on exfat")
	got := treeFiles(t, shuttle)
	if len(got) != 2 || got["TAKE.WAV"] != fileHash(t, filepath.Join(shuttle, "TAKE.WAV")) || got["other.wav"] == "" {
		t.Errorf("drive holds %v, want TAKE.WAV untouched and other.wav", got)
	}
	if b, _ := os.ReadFile(filepath.Join(shuttle, "TAKE.WAV")); string(b) != "old take from another card" {
		t.Errorf("TAKE.WAV now holds %q", b)
	}
}

// TestCLIMtimeOnFAT: on exFAT (exfat-fuse) every copy got the time of the
// copy as its mtime, with either engine, where cp -a keeps the source's to
// the second: a re-run copied everything again. fusefat drops the mtime in
// the rename. Each copy now keeps the
// source's mtime to the driver's step (1 s on exfat-fuse, 2 s on FAT), and
// a re-run skips every file.
func TestCLIMtimeOnFAT(t *testing.T) {
	steps := map[ImageKind]time.Duration{ExFATFuse: time.Second, FATFuse: 2 * time.Second}
	for _, kind := range []ImageKind{ExFATFuse, FATFuse} {
		for _, engine := range []string{"uring", "fallback"} {
			t.Run(string(kind)+"/"+engine, func(t *testing.T) {
				img := mountImage(t, kind, 64<<20)
				work := workDir(t, 64<<20)
				src := filepath.Join(work, "card")
				mt := time.Date(2025, 6, 7, 8, 9, 11, 987654321, time.UTC)
				for i, name := range []string{"a.wav", "b.wav", "sub/c.wav"} {
					writeFile(t, filepath.Join(src, name), strings.Repeat("x", 1000*i+1), mt.Add(time.Duration(i)*time.Hour))
				}
				dst := filepath.Join(img.Dir, "day1")
				env := runOpts{Env: []string{"CVV_ENGINE=" + engine}}
				r := runCVV(t, env, src, dst)
				if r.Code != 0 {
					t.Fatalf("exit %d, want 0:\n%v", r.Code, r)
				}
				// exfat-fuse keeps the times the engines' commit sets;
				// fusefat loses them in the rename (measured), and they
				// are set again after it, with one line for the
				// destination.
				wantAgain := map[ImageKind]int{ExFATFuse: 0, FATFuse: 1}[kind]
				if n := strings.Count(r.Stdout+r.Stderr, "set again"); n != wantAgain {
					t.Errorf("%d lines say the attributes were set again after the rename, want %d:\n%v", n, wantAgain, r)
				}
				for i, name := range []string{"a.wav", "b.wav", "sub/c.wav"} {
					fi, err := os.Stat(filepath.Join(dst, name))
					if err != nil {
						t.Fatal(err)
					}
					want := mt.Add(time.Duration(i) * time.Hour)
					if d := fi.ModTime().Sub(want); d >= steps[kind] || d <= -steps[kind] {
						t.Errorf("%s: mtime %s, source %s (%s apart, the driver keeps %s steps)", name, fi.ModTime(), want, d, steps[kind])
					}
				}
				r = runCVV(t, env, src, dst)
				if r.Code != 0 || !strings.Contains(r.Stdout+r.Stderr, "(0 copied, 3 skipped, 0 failed)") {
					t.Errorf("the re-run did not skip every file:\n%v", r)
				}
			})
		}
	}
}

// TestCLIWriteBufferedOnFAT: a destination written through the page cache
// is verified from the media through an O_DIRECT descriptor of its own.
// fusefat lets that descriptor open and refuses its reads (EPERM): every
// copy to a FAT drive with --write buffered (and, since small files go
// through the page cache on any destination, with auto) failed "re-reading
// the copy" and was removed. The copies are now verified after the copy,
// as where O_DIRECT is refused, and kept.
func TestCLIWriteBufferedOnFAT(t *testing.T) {
	for _, write := range []string{"buffered", "auto"} {
		t.Run(write, func(t *testing.T) {
			img := mountImage(t, FATFuse, 64<<20)
			work := workDir(t, 64<<20)
			src := filepath.Join(work, "card")
			mt := time.Date(2025, 6, 7, 8, 9, 12, 0, time.UTC)
			for i, name := range []string{"a.wav", "b.wav", "sub/c.wav"} {
				writeFile(t, filepath.Join(src, name), strings.Repeat("y", 3000*i+7), mt)
			}
			dst := filepath.Join(img.Dir, "day1")
			r := runCVV(t, runOpts{Env: []string{"CVV_ENGINE=uring"}}, "--json", "--write", write, src, dst)
			if r.Code != 0 {
				t.Fatalf("exit %d, want 0:\n%v", r.Code, r)
			}
			// Kept, and verified all the same.
			if sum := runSummary(t, r); sum.FilesVerified != 3 || sum.FilesNotVerified != 0 {
				t.Errorf("%d files verified, %d not verified, want 3 and 0:\n%v", sum.FilesVerified, sum.FilesNotVerified, r)
			}
			want := treeFiles(t, src)
			if got := treeFiles(t, dst); !reflect.DeepEqual(got, want) {
				t.Errorf("FAT destination holds %v, want %v", got, want)
			}
		})
	}
}

// TestCLIRefusedNamesFAT: FAT refuses some characters (fusefat any non-ASCII
// one), symbolic links and files of 4 GiB or more. Each such entry fails on the FAT
// destination alone, in one line saying why; every other file reaches it,
// the other destination gets everything, and the status is 1. The 4 GiB
// file is sparse and never read for the FAT destination.
func TestCLIRefusedNamesFAT(t *testing.T) {
	img := mountImage(t, FATFuse, 64<<20)
	work := workDir(t, 64<<20)
	src, local := filepath.Join(work, "card"), filepath.Join(work, "local")
	mt := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	writeFile(t, filepath.Join(src, "ok.wav"), "fine", mt)
	writeFile(t, filepath.Join(src, "a:b.wav"), "colon", mt)
	writeFile(t, filepath.Join(src, "café.wav"), "accent", mt)
	writeFile(t, filepath.Join(src, "bad?dir", "in.wav"), "inside", mt)
	if err := os.Symlink("ok.wav", filepath.Join(src, "link.wav")); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(work, "big")
	writeFile(t, filepath.Join(big, "small.wav"), "small", mt)
	f, err := os.Create(filepath.Join(big, "huge.mov"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(4 << 30); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(img.Dir, "day1")
	r := runCVV(t, runOpts{}, src, local, dst)
	if r.Code != 1 {
		t.Errorf("exit %d, want 1", r.Code)
	}
	checkComplete(t, treeFiles(t, src), local)
	got := treeFiles(t, dst)
	if len(got) != 1 || got["ok.wav"] == "" {
		t.Errorf("FAT destination holds %v, want ok.wav alone", got)
	}
	expectOutput(t, r, `refuses the character ':'`, `refuses the non-ASCII character 'é'`, `refuses the character '?'`,
		filepath.Join("bad?dir", "in.wav")+" -> ", "inside bad?dir", "fat (fusefat) cannot hold symbolic links")
	if l, err := os.Readlink(filepath.Join(local, "link.wav")); err != nil || l != "ok.wav" {
		t.Errorf("the local destination's link: %q, %v", l, err)
	}
	r = runCVV(t, runOpts{}, big, filepath.Join(img.Dir, "big"))
	if r.Code != 1 {
		t.Errorf("exit %d, want 1", r.Code)
	}
	expectOutput(t, r, "huge.mov", "holds at most 4294967295 (4 GiB - 1) in one file")
	if got := treeFiles(t, filepath.Join(img.Dir, "big")); len(got) != 1 || got["small.wav"] == "" {
		t.Errorf("FAT destination holds %v, want small.wav alone", got)
	}
}

// TestCLIFinalNameOnExFAT: a verification never passes for a file whose
// final name holds other bytes. Right after the verified copy of Take.wav
// gets its name on the exFAT drive, it is renamed TAKE.WAV (what a write
// of another name of other case leaves); exFAT still opens it as Take.wav,
// with the right bytes, and the check of its attributes found it there.
// The lookup of the exact name fails it there, in every mode, and the
// status is 1; the other destination and the other file pass.
func TestCLIFinalNameOnExFAT(t *testing.T) {
	for _, mode := range []string{"transfer", "source", "full"} {
		t.Run(mode, func(t *testing.T) {
			img := mountImage(t, ExFATFuse, 64<<20)
			work := workDir(t, 64<<20)
			src, local := filepath.Join(work, "card"), filepath.Join(work, "local")
			mt := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
			writeFile(t, filepath.Join(src, "Take.wav"), "the take", mt)
			writeFile(t, filepath.Join(src, "other.wav"), "other", mt)
			shuttle := filepath.Join(img.Dir, "day1")
			hook := `[ "$CVV_TEST_DESTS" = "$SHUTTLE/Take.wav" ] || exit 0; mv "$SHUTTLE/Take.wav" "$SHUTTLE/x.tmp" && mv "$SHUTTLE/x.tmp" "$SHUTTLE/TAKE.WAV"`
			r := runCVV(t, runOpts{Env: []string{"CVV_TEST_AFTER_PLACE=" + hook, "SHUTTLE=" + shuttle}}, "--mode", mode, src, local, shuttle)
			if r.Code != 1 {
				t.Errorf("exit %d, want 1", r.Code)
			}
			if b, err := os.ReadFile(filepath.Join(shuttle, "Take.wav")); err != nil || string(b) != "the take" {
				t.Fatalf("the rig did not leave the take readable as Take.wav: %q, %v", b, err)
			}
			expectOutput(t, r, filepath.Join(shuttle, "Take.wav")+": verification mismatch: the directory holds only TAKE.WAV under this name")
			for _, l := range strings.Split(r.Stdout+r.Stderr, "\n") {
				if strings.Contains(l, "FAIL") && (strings.Contains(l, local) || strings.Contains(l, "other.wav")) {
					t.Errorf("unexpected failure: %s", l)
				}
			}
		})
	}
}

// TestDestFSSyncFS: cvv trusts syncfs to make names durable
// (plan.DestFS.SyncFS) on ext4 with its journal and on xfs, not on ext4
// without a journal (its syncfs writes the directory blocks after its
// cache flush), tmpfs or FUSE.
func TestDestFSSyncFS(t *testing.T) {
	requireFUSE(t)
	for _, tc := range []struct {
		name string
		dir  func(t *testing.T) string
		want bool
	}{
		{"ext4", func(t *testing.T) string { return mountLoopFS(t, Ext4, Ext4.MinSize()) }, true},
		{"ext4-nojournal", func(t *testing.T) string { return mountLoopFS(t, Ext4, Ext4.MinSize(), "-O", "^has_journal") }, false},
		{"xfs", func(t *testing.T) string { return mountLoopFS(t, XFS, XFS.MinSize()) }, true},
		{"tmpfs", func(t *testing.T) string { return mountTmpfs(t, 1<<20) }, false},
		{"fuse", func(t *testing.T) string { return mountErrorFS(t, ErrorFSOptions{}).Mountpoint }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dfs, err := plan.DetectFS(tc.dir(t))
			if err != nil {
				t.Fatal(err)
			}
			if dfs.SyncFS != tc.want {
				t.Errorf("%s: DestFS %+v, want SyncFS %v", tc.name, dfs, tc.want)
			}
		})
	}
}
