package faults

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cvv-project/cvv/internal/atomicfile"
	"golang.org/x/sys/unix"
)

// sparseSources writes sparse files below dir: data after a hole at the
// end, a hole at the end, and only a hole. It returns their names.
func sparseSources(t *testing.T, dir string) []string {
	t.Helper()
	files := map[string]struct {
		size int64
		off  int64
		data string
	}{
		"tail-data.bin": {6<<20 + 5, 6 << 20, "hello"},
		"tail-hole.bin": {20 << 20, 3<<20 + 5, "hello"},
		"hole.bin":      {5 << 20, 0, ""},
	}
	mkdirs(t, dir)
	var names []string
	for name, f := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(p, f.size); err != nil {
			t.Fatal(err)
		}
		g, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := g.WriteAt([]byte(f.data), f.off); err != nil {
			t.Fatal(err)
		}
		if err := g.Close(); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	return names
}

// TestCLISparseToFAT: a sparse source copied to a filesystem that keeps
// no holes (exFAT, FAT) must still get every zero. fusefat refuses to
// extend a file with ftruncate (EPERM), so a copy whose source ends in a
// hole failed there once cvv stopped writing holes; the copy now extends
// by writing its last byte. Both engines, full verification.
func TestCLISparseToFAT(t *testing.T) {
	for _, kind := range []ImageKind{ExFATFuse, FATFuse} {
		for _, engine := range []string{"uring", "fallback"} {
			t.Run(string(kind)+"/"+engine, func(t *testing.T) {
				img := mountImage(t, kind, 96<<20)
				src := filepath.Join(workDir(t, 64<<20), "card")
				names := sparseSources(t, src)
				dst := filepath.Join(img.Dir, "day1")
				r := runCVV(t, runOpts{Env: []string{"CVV_ENGINE=" + engine}}, "-m", "full", src, dst)
				if r.Code != 0 {
					t.Fatalf("exit %d, want 0:\n%v", r.Code, r)
				}
				for _, name := range names {
					want, err := os.ReadFile(filepath.Join(src, name))
					if err != nil {
						t.Fatal(err)
					}
					got, err := os.ReadFile(filepath.Join(dst, name))
					if err != nil || !bytes.Equal(got, want) {
						t.Errorf("%s: %d bytes (%v), differs from the source's %d", name, len(got), err, len(want))
					}
				}
			})
		}
	}
}

// xattrTree writes a source tree whose files and directories carry user.*
// attributes, POSIX ACLs (a default one on a directory), cvv's own
// verification record, and (as root) other owners. It skips, unless CI is
// set, where setfacl or getfattr is missing.
func xattrTree(t *testing.T, src string) {
	t.Helper()
	for _, tool := range []string{"setfacl", "getfacl", "getfattr"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s: %v (.ci/run installs acl and attr)", tool, err)
			}
			t.Skipf("%s: %v (install acl and attr)", tool, err)
		}
	}
	mt := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	writeFile(t, filepath.Join(src, "A001", "clip.mov"), "frames", mt)
	writeFile(t, filepath.Join(src, "A001", "plain.wav"), "audio", mt)
	writeFile(t, filepath.Join(src, "notes.txt"), "notes", mt)
	set := func(path, name, value string) {
		if err := unix.Lsetxattr(path, name, []byte(value), 0); err != nil {
			t.Skipf("the filesystem of %s keeps no %s: %v", path, name, err)
		}
	}
	set(filepath.Join(src, "A001", "clip.mov"), "user.camera", "A-cam")
	set(filepath.Join(src, "A001", "clip.mov"), atomicfile.VerifiedAttr, "v1 junk")
	set(filepath.Join(src, "A001"), "user.reel", "A001")
	set(filepath.Join(src, "A001"), atomicfile.JobDoneAttr, "0123456789abcdef")
	set(filepath.Join(src, "notes.txt"), "user.xdg.origin.url", "https://example.com/notes")
	for _, args := range [][]string{
		{"-m", "u:4321:rw-,g:8765:r--", filepath.Join(src, "A001", "clip.mov")},
		{"-d", "-m", "u:4321:rwx", filepath.Join(src, "A001")},
	} {
		if out, err := exec.Command("setfacl", args...).CombinedOutput(); err != nil {
			t.Skipf("setfacl %q: %v %s", args, err, out)
		}
	}
	if os.Geteuid() == 0 {
		for _, p := range []string{filepath.Join(src, "A001", "plain.wav"), filepath.Join(src, "A001")} {
			if err := os.Lchown(p, 1234, 5678); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// keptAttrs returns, for the tree at root, what cp -a keeps beyond the
// data and what cvv must keep too: every extended attribute but cvv's own
// record (getfattr -d), the ACLs (getfacl), and owners, modes and link
// counts (stat), with paths relative to root.
func keptAttrs(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	for _, c := range [][]string{
		{"getfattr", "-R", "-d", "-m", "-", "-e", "hex", "."},
		{"getfacl", "-R", "-n", "-p", "."},
		{"sh", "-c", "find . -mindepth 1 | LC_ALL=C sort | xargs stat -c '%n %u:%g %a %h %F'"},
	} {
		cmd := exec.Command(c[0], c[1:]...)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%q in %s: %v\n%s", c, root, err, out)
		}
		// One block per file, blank-line separated; cvv's own record is
		// left out, and a getfattr block left with its header only.
		for _, block := range strings.Split(string(out), "\n\n") {
			var lines []string
			for _, line := range strings.Split(strings.TrimSpace(block), "\n") {
				if !strings.HasPrefix(line, atomicfile.VerifiedAttr+"=") && !strings.HasPrefix(line, atomicfile.JobDoneAttr+"=") {
					lines = append(lines, line)
				}
			}
			if len(lines) > 1 || c[0] == "sh" {
				b.WriteString(strings.Join(lines, "\n") + "\n\n")
			}
		}
	}
	return b.String()
}

// TestCLIXattrsLikeCpA: user.* attributes and ACLs were dropped by a copy
// (cp -a keeps them), and so were owners. A tree copy now keeps what
// cp -a keeps, compared with getfattr, getfacl and stat, in both engines,
// but never the source's user.cvv.verified or user.cvv.shard-done;
// --no-xattrs keeps none.
func TestCLIXattrsLikeCpA(t *testing.T) {
	work := t.TempDir() // not tmpfs: ACLs everywhere
	src := filepath.Join(work, "card")
	xattrTree(t, src)
	ref := filepath.Join(work, "cp-a")
	if out, err := exec.Command("cp", "-a", src, ref).CombinedOutput(); err != nil {
		t.Fatalf("cp -a: %v\n%s", err, out)
	}
	want := keptAttrs(t, ref)
	for _, engine := range []string{"uring", "fallback"} {
		t.Run(engine, func(t *testing.T) {
			env := runOpts{Env: []string{"CVV_ENGINE=" + engine}}
			dst := filepath.Join(work, "cvv-"+engine)
			if r := runCVV(t, env, src, dst); r.Code != 0 {
				t.Fatalf("exit %d, want 0:\n%v", r.Code, r)
			}
			if got := keptAttrs(t, dst); got != want {
				t.Errorf("the copy keeps\n%s\ncp -a keeps\n%s", got, want)
			}
			if v, err := getxattr(filepath.Join(dst, "A001"), atomicfile.JobDoneAttr); err == nil {
				t.Errorf("the copy took the source's %s=%q: cvv's own record is never copied", atomicfile.JobDoneAttr, v)
			}
			bare := filepath.Join(work, "bare-"+engine)
			if r := runCVV(t, env, "--no-xattrs", src, bare); r.Code != 0 {
				t.Fatalf("--no-xattrs: exit %d, want 0:\n%v", r.Code, r)
			}
			if _, err := unix.Lgetxattr(filepath.Join(bare, "A001", "clip.mov"), "user.camera", nil); err == nil {
				t.Errorf("--no-xattrs copied user.camera")
			}
		})
	}
}

// TestCLIXattrsToExFAT: a destination that cannot hold extended
// attributes (exFAT through exfat-fuse) gets the data, one line saying it
// keeps no attributes, and exit status 0; the other destination keeps
// them.
func TestCLIXattrsToExFAT(t *testing.T) {
	for _, engine := range []string{"uring", "fallback"} {
		t.Run(engine, func(t *testing.T) {
			img := mountImage(t, ExFATFuse, 64<<20)
			work := t.TempDir()
			src := filepath.Join(work, "card")
			xattrTree(t, src)
			ext := filepath.Join(work, "copy")
			dst := filepath.Join(img.Dir, "day1")
			r := runCVV(t, runOpts{Env: []string{"CVV_ENGINE=" + engine}}, src, ext, dst)
			if r.Code != 0 {
				t.Fatalf("exit %d, want 0:\n%v", r.Code, r)
			}
			if n := strings.Count(r.Stderr, "cannot hold extended attributes"); n != 1 {
				t.Errorf("%d lines say exFAT cannot hold extended attributes, want 1:\n%v", n, r)
			}
			if !strings.Contains(r.Stderr, dst+": exfat") {
				t.Errorf("the line does not name the exFAT destination:\n%v", r)
			}
			if v, err := getxattr(filepath.Join(ext, "A001", "clip.mov"), "user.camera"); err != nil || v != "A-cam" {
				t.Errorf("the ext4 copy lost user.camera: %q %v", v, err)
			}
		})
	}
}

func getxattr(path, name string) (string, error) {
	buf := make([]byte, 4096)
	n, err := unix.Lgetxattr(path, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// TestCLIHardLinks: hard links inside the source became separate copies
// (cp -a and rsync -H keep them). Each destination now holds them as
// links, with cp -a's link counts (stat %h), the hash list names every
// path, a re-run changes nothing, and an exFAT destination, which holds no
// links, gets every path as a verified copy and one line saying so.
func TestCLIHardLinks(t *testing.T) {
	for _, engine := range []string{"uring", "fallback"} {
		t.Run(engine, func(t *testing.T) {
			img := mountImage(t, ExFATFuse, 64<<20)
			work := t.TempDir()
			src := filepath.Join(work, "card")
			mt := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
			writeFile(t, filepath.Join(src, "A001", "clip.mov"), "frames", mt)
			writeFile(t, filepath.Join(src, "solo.wav"), "audio", mt)
			for _, l := range []string{"B001/clip.mov", "same.mov"} {
				mkdirs(t, filepath.Dir(filepath.Join(src, l)))
				if err := os.Link(filepath.Join(src, "A001", "clip.mov"), filepath.Join(src, l)); err != nil {
					t.Fatal(err)
				}
			}
			ref := filepath.Join(work, "cp-a")
			if out, err := exec.Command("cp", "-a", src, ref).CombinedOutput(); err != nil {
				t.Fatalf("cp -a: %v\n%s", err, out)
			}
			ext, fat := filepath.Join(work, "copy"), filepath.Join(img.Dir, "day1")
			env := runOpts{Env: []string{"CVV_ENGINE=" + engine}}
			r := runCVV(t, env, "--hash-file", "sums", src, ext, fat)
			if r.Code != 0 {
				t.Fatalf("exit %d, want 0:\n%v", r.Code, r)
			}
			if got, want := linkCounts(t, ext), linkCounts(t, ref); got != want {
				t.Errorf("link counts\n%s\ncp -a\n%s", got, want)
			}
			a, _ := os.Stat(filepath.Join(ext, "A001", "clip.mov"))
			for _, l := range []string{"B001/clip.mov", "same.mov"} {
				if b, err := os.Stat(filepath.Join(ext, l)); err != nil || !os.SameFile(a, b) {
					t.Errorf("%s is not a link of A001/clip.mov (%v)", l, err)
				}
				got, err := os.ReadFile(filepath.Join(fat, l))
				if err != nil || string(got) != "frames" {
					t.Errorf("exFAT %s: %q %v", l, got, err)
				}
			}
			if n := strings.Count(r.Stderr, "cannot hold hard links"); n != 1 {
				t.Errorf("%d lines say exFAT cannot hold hard links, want 1:\n%v", n, r)
			}
			sums, err := os.ReadFile(filepath.Join(ext, "copy.xxh3"))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{"A001/clip.mov", "B001/clip.mov", "same.mov", "solo.wav"} {
				if !strings.Contains(string(sums), "("+p+")") {
					t.Errorf("the sums list has no %s:\n%s", p, sums)
				}
			}
			if r := runCVV(t, env, src, ext, fat); r.Code != 0 || linkCounts(t, ext) != linkCounts(t, ref) {
				t.Errorf("the re-run: exit %d, link counts\n%s\n%v", r.Code, linkCounts(t, ext), r)
			}
		})
	}
}

// linkCounts returns "path links" for every file below root, sorted.
func linkCounts(t *testing.T, root string) string {
	t.Helper()
	cmd := exec.Command("sh", "-c", "find . -type f ! -name '*.xxh3' ! -name 'cvv-report*' | LC_ALL=C sort | xargs stat -c '%n %h'")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("stat in %s: %v\n%s", root, err, out)
	}
	return string(out)
}
