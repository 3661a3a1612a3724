package faults

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cvv-project/cvv/internal/atomicfile"
)

// writeHook writes a shell script for CVV_TEST_BEFORE_VERIFY and returns
// the environment entry that runs it.
func writeHook(t testing.TB, script string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "hook.sh")
	if err := os.WriteFile(p, []byte("set -e\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	return "CVV_TEST_BEFORE_VERIFY=sh " + p
}

// flipKeepTimeSh returns shell lines that write the byte b at offset at
// of the file named by the shell variable $d and give it its old times
// back (touch -r from a copy of them), as damage in the field keeps the
// mtime. They append "MTIME-BEFORE|MTIME-AFTER" to log for checkKeptTime.
func flipKeepTimeSh(b byte, at int64, log string) string {
	return fmt.Sprintf(`ref=$(mktemp)
touch -r "$d" "$ref"
before=$(stat -c %%y "$d")
printf '\%03o' | dd of="$d" bs=1 seek=%d conv=notrunc 2>/dev/null
touch -r "$ref" "$d"
rm -f "$ref"
echo "$before|$(stat -c %%y "$d")" >> %s
`, b, at, log)
}

// checkKeptTime fails unless log (from flipKeepTimeSh) shows at least one
// corruption and every one kept the file's mtime to the nanosecond.
func checkKeptTime(t testing.TB, log string) {
	t.Helper()
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatalf("no corruption was made: %v", err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		before, after, ok := strings.Cut(l, "|")
		if !ok || before == "" || before != after {
			t.Errorf("the corruption changed the mtime: %q", l)
		}
	}
}

// copyStatus returns the status of rel on the destination path dest in the
// file event of a --json run.
func copyStatus(t testing.TB, r *runResult, rel, dest string) string {
	t.Helper()
	got, _ := outcomes(jsonEvents(t, r))
	if o := got[rel][dest]; o != nil {
		return o.copy
	}
	return ""
}

// expectOutput fails unless the run's output contains every want.
func expectOutput(t testing.TB, r *runResult, wants ...string) {
	t.Helper()
	all := r.Stdout + r.Stderr
	for _, w := range wants {
		if !strings.Contains(all, w) {
			t.Errorf("output does not mention %q:\n%v", w, r)
		}
	}
}

// without returns want without the files whose path starts with prefix.
func without(want map[string]string, prefix string) map[string]string {
	m := map[string]string{}
	for k, v := range want {
		if !strings.HasPrefix(k, prefix) {
			m[k] = v
		}
	}
	return m
}

// only returns the files of want whose path starts with prefix.
func only(want map[string]string, prefix string) map[string]string {
	m := map[string]string{}
	for k, v := range want {
		if strings.HasPrefix(k, prefix) {
			m[k] = v
		}
	}
	return m
}

// forEachSmallFS runs f on a fresh filesystem of size bytes of each kind: a
// tmpfs and a loop-mounted ext4.
func forEachSmallFS(t *testing.T, size int64, f func(t *testing.T, dir string)) {
	t.Run("tmpfs", func(t *testing.T) { f(t, mountTmpfs(t, size)) })
	t.Run("ext4", func(t *testing.T) { f(t, mountLoopExt4(t, size)) })
}

// mountLoopExt4 makes an ext4 filesystem of size bytes in a file, mounts it
// through a loop device on a new directory, and unmounts it at cleanup.
func mountLoopExt4(t *testing.T, size int64) string {
	t.Helper()
	// No reserved blocks and no lazy init, so the free space is what it
	// says from the start.
	dir := mountLoopFS(t, Ext4, size, "-m", "0", "-E", "lazy_itable_init=0,lazy_journal_init=0")
	if err := os.Remove(filepath.Join(dir, "lost+found")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// mountLoopFS makes a filesystem of kind k and size bytes in a file, with
// the extra mkfs arguments, mounts it through a loop device on a new
// directory, and unmounts it at cleanup.
func mountLoopFS(t *testing.T, k DiskFS, size int64, extra ...string) string {
	t.Helper()
	requireRoot(t)
	mkfs := "mkfs." + string(k)
	requireTool(t, mkfs)
	base := t.TempDir()
	img, dir := filepath.Join(base, "fs.img"), filepath.Join(base, "mnt")
	mkdirs(t, dir)
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	force := "-F"
	if k == XFS {
		force = "-f"
	}
	if out, err := exec.Command(mkfs, append(append([]string{"-q", force}, extra...), img)...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", mkfs, err, out)
	}
	if out, err := exec.Command("mount", "-o", "loop", img, dir).CombinedOutput(); err != nil {
		t.Skipf("cannot loop-mount %s: %v\n%s", k, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v\n%s", dir, err, out)
		}
	})
	return dir
}

// TestCLIDiskFullPrecheck: one of three destinations is a filesystem too small
// for the tree. The free-space check catches it: the failure names the
// destination's filesystem and the shortfall, the tmpfs holds no temp file,
// the other two destinations complete and verify, and the status is 1.
func TestCLIDiskFullPrecheck(t *testing.T) {
	forEachSmallFS(t, 8<<20, testCLIDiskFullPrecheck)
}

func testCLIDiskFullPrecheck(t *testing.T, small string) {
	work := workDir(t, 256<<20)
	src := filepath.Join(work, "src")
	want := buildTree(t, src, treeSpec{Large: 2, LargeSize: 5 << 20, Small: 20})
	d1, d3 := filepath.Join(work, "d1"), filepath.Join(work, "d3")
	r := runCVV(t, runOpts{}, src, d1, small, d3)
	if r.Code != 1 {
		t.Errorf("exit %d, want 1", r.Code)
	}
	expectOutput(t, r, small)
	// The filesystem (its mount point) and the shortfall.
	if !regexp.MustCompile(`short by [0-9.]+ ?[KMG]?i?B`).MatchString(r.Stdout + r.Stderr) {
		t.Errorf("output does not state the shortfall (\"short by N MiB\"):\n%v", r)
	}
	if tmp := tempFiles(t, small); len(tmp) > 0 {
		t.Errorf("temp files left on the full filesystem: %q", tmp)
	}
	checkFinalFiles(t, want, small)
	checkComplete(t, want, d1)
	checkComplete(t, want, d3)
}

// TestCLIDiskFullMidCopy: the tree fits when cvv starts, but another writer
// fills the filesystem after the first file is copied (from the before-verify
// hook, -j 1, so the moment is deterministic). The next file fails there
// with "no space left on device"; the other destinations complete.
func TestCLIDiskFullMidCopy(t *testing.T) {
	forEachSmallFS(t, 16<<20, testCLIDiskFullMidCopy)
}

func testCLIDiskFullMidCopy(t *testing.T, small string) {
	work := workDir(t, 256<<20)
	src := filepath.Join(work, "src")
	want := buildTree(t, src, treeSpec{Large: 2, LargeSize: 3 << 20})
	d1, d3 := filepath.Join(work, "d1"), filepath.Join(work, "d3")
	runFilling(t, work, small, "64k", "-j", "1", src, d1, small, d3)
	if n := checkFinalFiles(t, want, small); n != 1 {
		t.Errorf("%d files on the full filesystem, want the 1 copied before it filled", n)
	}
	checkComplete(t, want, d1)
	checkComplete(t, want, d3)
}

// runFilling runs cvv with args, the filesystem small filled (dd in
// blocks of bs) by the hook before the first verification, and checks
// that the run failed saying so; then it frees the space and checks that
// no temp file was left on small.
func runFilling(t *testing.T, work, small, bs string, args ...string) {
	t.Helper()
	flag := filepath.Join(work, "filled")
	hook := writeHook(t, fmt.Sprintf(`[ -e %[1]s ] && exit 0
touch %[1]s
dd if=/dev/zero of=%[2]s/filler bs=%[3]s 2>/dev/null || true
`, flag, small, bs))
	r := runCVV(t, runOpts{Env: []string{hook}}, args...)
	if _, err := os.Stat(flag); err != nil {
		t.Fatalf("the hook never ran (CVV_TEST_BEFORE_VERIFY not honoured?): %v\n%v", err, r)
	}
	if r.Code != 1 {
		t.Errorf("exit %d, want 1", r.Code)
	}
	expectOutput(t, r, "no space left on device")
	if err := os.Remove(filepath.Join(small, "filler")); err != nil {
		t.Error(err)
	}
	if tmp := tempFiles(t, small); len(tmp) > 0 {
		t.Errorf("temp files left on the full filesystem: %q", tmp)
	}
}

// TestCLIDiskFullSmallFiles: the disk fills while a tree of small files
// is copied. Neither engine preallocates a page-cache copy of one block or
// less (Layout.Prealloc), and the io_uring engine writes every file under
// 1 MiB through the page cache: the space each one needs is found missing
// by its write or its sync, not by a fallocate. The run fails saying so,
// leaves no temp file, every file under its final name on the full
// filesystem has the source's bytes, and the other destinations are
// complete.
func TestCLIDiskFullSmallFiles(t *testing.T) {
	for _, engine := range []string{"uring", "fallback"} {
		t.Run(engine, func(t *testing.T) {
			forEachSmallFS(t, 16<<20, func(t *testing.T, small string) {
				work := workDir(t, 128<<20)
				src := filepath.Join(work, "src")
				want := buildTree(t, src, treeSpec{Small: 40})
				d1 := filepath.Join(work, "d1")
				runFilling(t, work, small, "4k", "--engine", engine, "-j", "1", src, d1, small)
				if n := checkFinalFiles(t, want, small); n >= len(want) {
					t.Errorf("%d of %d files on the full filesystem: it never filled", n, len(want))
				}
				checkComplete(t, want, d1)
			})
		})
	}
}

// TestCLISourceReadEIO: one source file (on a FUSE filesystem) fails to
// read with EIO part-way. That file fails on every destination, named with
// the errno; every other file completes everywhere.
func TestCLISourceReadEIO(t *testing.T) {
	e := mountErrorFS(t, ErrorFSOptions{})
	want := buildTree(t, e.Backing, treeSpec{Large: 2, LargeSize: 3 << 20, Small: 10})
	bad := "large/clip01.mov"
	e.Inject(Fault{Op: OpRead, Match: bad, Errno: syscall.EIO, From: 1 << 20})
	work := workDir(t, 128<<20)
	dests := []string{filepath.Join(work, "d1"), filepath.Join(work, "d2"), filepath.Join(work, "d3")}
	r := runCVV(t, runOpts{}, append([]string{"--json", e.Mountpoint}, dests...)...)
	if r.Code != 1 {
		t.Errorf("exit %d, want 1", r.Code)
	}
	if e.Hits(OpRead) == 0 {
		t.Fatalf("the fault never fired\n%v", r)
	}
	expectOutput(t, r, bad, "input/output error")
	outs, srcErrs := outcomes(jsonEvents(t, r))
	if !strings.Contains(srcErrs[bad], "input/output error") || len(srcErrs) != 1 {
		t.Errorf("source errors %q, want one for %s with the errno", srcErrs, bad)
	}
	for rel, byDest := range outs {
		for dest, o := range byDest {
			if failed := o.copy != "copied" || o.verify == "failed"; failed != (rel == bad) {
				t.Errorf("%s on %s: %+v", rel, dest, *o)
			}
		}
	}
	if len(outs[bad]) != len(dests) {
		t.Errorf("%s is reported on %d destinations, want %d", bad, len(outs[bad]), len(dests))
	}
	good := without(want, bad)
	for _, d := range dests {
		checkComplete(t, good, d)
	}
	e.Clear()
	r = runCVV(t, runOpts{}, append([]string{e.Mountpoint}, dests...)...)
	if r.Code != 0 {
		t.Errorf("re-run without the fault: exit %d, want 0\n%v", r.Code, r)
	}
	for _, d := range dests {
		checkComplete(t, want, d)
	}
}

// TestCLISourcePermissionDenied: one source file cannot be opened (EACCES
// from the FUSE source; root ignores mode bits). It is reported; the rest
// completes.
func TestCLISourcePermissionDenied(t *testing.T) {
	e := mountErrorFS(t, ErrorFSOptions{})
	want := buildTree(t, e.Backing, treeSpec{Large: 1, LargeSize: 1 << 20, Small: 10})
	bad := "small/d3/f003.dat"
	if _, ok := want[bad]; !ok {
		t.Fatalf("tree has no %s", bad)
	}
	e.Inject(Fault{Op: OpOpen, Match: bad, Errno: syscall.EACCES})
	work := workDir(t, 64<<20)
	dests := []string{filepath.Join(work, "d1"), filepath.Join(work, "d2")}
	r := runCVV(t, runOpts{}, append([]string{e.Mountpoint}, dests...)...)
	if r.Code != 1 {
		t.Errorf("exit %d, want 1", r.Code)
	}
	expectOutput(t, r, bad, "permission denied")
	for _, d := range dests {
		checkComplete(t, without(want, bad), d)
	}
}

// TestCLISourceDirUnreadable: one source directory cannot be listed
// (EACCES from the FUSE source, which fails even root, so the test runs as
// root in CI; plan's TestWalkUnreadableDir covers other users with mode
// bits). It is reported, named with the errno, and the run exits 1; every
// other file completes; the re-run without the fault completes the tree.
func TestCLISourceDirUnreadable(t *testing.T) {
	e := mountErrorFS(t, ErrorFSOptions{})
	want := buildTree(t, e.Backing, treeSpec{Large: 1, LargeSize: 1 << 20, Small: 10})
	bad := "small/d2"
	e.Inject(Fault{Op: OpOpen, Match: bad, Errno: syscall.EACCES})
	work := workDir(t, 64<<20)
	dests := []string{filepath.Join(work, "d1"), filepath.Join(work, "d2")}
	r := runCVV(t, runOpts{}, append([]string{e.Mountpoint}, dests...)...)
	if r.Code != 1 {
		t.Errorf("exit %d, want 1\n%v", r.Code, r)
	}
	if e.Hits(OpOpen) == 0 {
		t.Fatalf("the fault never fired\n%v", r)
	}
	expectOutput(t, r, bad, "permission denied")
	for _, d := range dests {
		checkComplete(t, without(want, bad+"/"), d)
	}
	e.Clear()
	if r := runCVV(t, runOpts{}, append([]string{e.Mountpoint}, dests...)...); r.Code != 0 {
		t.Errorf("re-run without the fault: exit %d, want 0\n%v", r.Code, r)
	}
	for _, d := range dests {
		checkComplete(t, want, d)
	}
}

// TestCLIDestFaults: faults on one destination (a FUSE filesystem) fail the
// files they hit there only, named with the destination and errno; the
// other destinations complete.
func TestCLIDestFaults(t *testing.T) {
	cases := []struct {
		name  string
		fault Fault
		text  string
	}{
		// Writes and syncs go to temp files in large/, so the pattern is
		// on the directory.
		{"write-EIO", Fault{Op: OpWrite, Match: "large/*", Errno: syscall.EIO, From: 1 << 20}, "input/output error"},
		{"write-ENOSPC", Fault{Op: OpWrite, Match: "large/*", Errno: syscall.ENOSPC, From: 1 << 20}, "no space left on device"},
		{"fsync-EIO", Fault{Op: OpFsync, Match: "large/*", Errno: syscall.EIO}, "input/output error"},
		// The verification read is the only read of a copy; it reads the
		// temp file, which gets its final name only once verified.
		{"verify-read-EIO", Fault{Op: OpRead, Match: "large/.cvv-*.partial", Errno: syscall.EIO}, "input/output error"},
	}
	for _, tc := range cases {
		for _, engine := range []string{"auto", "fallback"} {
			t.Run(tc.name+"/"+engine, func(t *testing.T) {
				e := mountErrorFS(t, ErrorFSOptions{})
				work := workDir(t, 128<<20)
				src := filepath.Join(work, "src")
				want := buildTree(t, src, treeSpec{Large: 2, LargeSize: 2 << 20, Small: 10})
				d1, d3 := filepath.Join(work, "d1"), filepath.Join(work, "d3")
				e.Inject(tc.fault)
				r := runCVV(t, runOpts{}, "--json", "--engine", engine, src, d1, e.Mountpoint, d3)
				if r.Code != 1 {
					t.Errorf("exit %d, want 1", r.Code)
				}
				if e.Hits(tc.fault.Op) == 0 {
					t.Fatalf("the fault never fired\n%v", r)
				}
				expectOutput(t, r, e.Mountpoint, "large/clip0", tc.text)
				// The events: every failure is on the faulty destination, for a
				// file the fault hit, with the errno; everything else is ok.
				outs, srcErrs := outcomes(jsonEvents(t, r))
				if len(srcErrs) > 0 {
					t.Errorf("a destination fault is reported as a source error: %q", srcErrs)
				}
				failed := 0
				for rel, byDest := range outs {
					for dest, o := range byDest {
						if o.copy != "failed" && o.verify != "failed" {
							continue
						}
						failed++
						if !strings.HasPrefix(dest, e.Mountpoint+"/") || !strings.HasPrefix(rel, "large/") {
							t.Errorf("%s on %s failed (%+v): the fault was elsewhere", rel, dest, *o)
						}
						if !strings.Contains(o.copyErr+o.verifyErr, tc.text) {
							t.Errorf("%s on %s: error %q does not give the errno %q", rel, dest, o.copyErr+o.verifyErr, tc.text)
						}
					}
				}
				if failed == 0 {
					t.Errorf("no file or verify event reports the failure:\n%s", r.Stdout)
				}
				checkComplete(t, want, d1)
				checkComplete(t, want, d3)
				if tmp := tempFiles(t, e.Backing); len(tmp) > 0 {
					t.Errorf("temp files left on the failing destination: %q", tmp)
				}
				for rel := range only(want, "small/") {
					if _, err := os.Stat(filepath.Join(e.Backing, rel)); err != nil {
						t.Errorf("unaffected file %s missing on the failing destination: %v", rel, err)
					}
				}
				if tc.fault.Op != OpRead {
					checkFinalFiles(t, want, e.Backing)
				}
				// With the fault gone, the same command finishes the job.
				e.Clear()
				r = runCVV(t, runOpts{}, "--engine", engine, src, d1, e.Mountpoint, d3)
				if r.Code != 0 {
					t.Errorf("re-run without the fault: exit %d, want 0\n%v", r.Code, r)
				}
				for _, d := range []string{d1, e.Backing, d3} {
					checkComplete(t, want, d)
				}
			})
		}
	}
}

// TestCLIReadOnlyDest: a read-only destination is reported; the others
// complete.
func TestCLIReadOnlyDest(t *testing.T) {
	requireRoot(t)
	work := workDir(t, 128<<20)
	src := filepath.Join(work, "src")
	want := buildTree(t, src, treeSpec{Large: 1, LargeSize: 1 << 20, Small: 10})
	ro := filepath.Join(work, "ro")
	mkdirs(t, filepath.Join(work, "rw"), ro)
	if err := BindReadOnly(filepath.Join(work, "rw"), ro); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := Unmount(ro); err != nil {
			t.Error(err)
		}
	})
	d1, d3 := filepath.Join(work, "d1"), filepath.Join(work, "d3")
	r := runCVV(t, runOpts{}, src, d1, ro, d3)
	if r.Code != 1 {
		t.Errorf("exit %d, want 1", r.Code)
	}
	expectOutput(t, r, ro, "read-only file system")
	checkComplete(t, want, d1)
	checkComplete(t, want, d3)
}

// TestCLIDestGoneMidRun: one destination disappears after the first file
// (-j 1, from the before-verify hook): removed, or its filesystem lazily
// unmounted. It is reported; the others complete.
func TestCLIDestGoneMidRun(t *testing.T) {
	for _, how := range []string{"removed", "unmounted"} {
		t.Run(how, func(t *testing.T) {
			work := workDir(t, 128<<20)
			src := filepath.Join(work, "src")
			want := buildTree(t, src, treeSpec{Large: 2, LargeSize: 1 << 20, Small: 10})
			d1, d3 := filepath.Join(work, "d1"), filepath.Join(work, "d3")
			d2 := filepath.Join(work, "d2")
			action := "rm -rf " + d2
			if how == "unmounted" {
				requireRoot(t)
				mkdirs(t, d2)
				if err := MountTmpfs(d2, 64<<20); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = Unmount(d2) })
				action = "umount -l " + d2
			}
			flag := filepath.Join(work, "gone")
			hook := writeHook(t, fmt.Sprintf("[ -e %[1]s ] && exit 0\ntouch %[1]s\n%s\n", flag, action))
			r := runCVV(t, runOpts{Env: []string{hook}}, "-j", "1", src, d1, d2, d3)
			if _, err := os.Stat(flag); err != nil {
				t.Fatalf("the hook never ran: %v\n%v", err, r)
			}
			if r.Code != 1 {
				t.Errorf("exit %d, want 1\n%v", r.Code, r)
			}
			expectOutput(t, r, d2)
			checkComplete(t, want, d1)
			checkComplete(t, want, d3)
		})
	}
}

// TestCLISourceChangedDuringCopy: a writer rewrites a large source file
// while cvv reads it. Every mode detects it (transfer by size/mtime); the
// file is failed, named, and absent from the destinations; status 1.
func TestCLISourceChangedDuringCopy(t *testing.T) {
	for _, mode := range []string{"transfer", "source", "full"} {
		for _, how := range []string{"rewrite", "append"} {
			t.Run(mode+"/"+how, func(t *testing.T) {
				work := workDir(t, 512<<20)
				src := filepath.Join(work, "src")
				want := buildTree(t, src, treeSpec{Large: 1, LargeSize: 64 << 20, Small: 5})
				victim := filepath.Join(src, "large/clip00.mov")
				d1, d2 := filepath.Join(work, "d1"), filepath.Join(work, "d2")
				stop := make(chan struct{})
				var wg sync.WaitGroup
				wg.Add(1)
				go func() {
					defer wg.Done()
					changeContinuously(t, victim, how, stop)
				}()
				r := runCVV(t, runOpts{}, "-m", mode, src, d1, d2)
				close(stop)
				wg.Wait()
				if r.Code != 1 {
					t.Errorf("exit %d, want 1\n%v", r.Code, r)
				}
				expectOutput(t, r, "large/clip00.mov")
				for _, d := range []string{d1, d2} {
					checkComplete(t, without(want, "large/"), d)
				}
			})
		}
	}
}

// changeContinuously rewrites (or appends to) path every few milliseconds
// until stop is closed.
func changeContinuously(t testing.TB, path, how string, stop <-chan struct{}) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Error(err)
		return
	}
	off := fi.Size()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-time.After(2 * time.Millisecond):
		}
		b := []byte(fmt.Sprintf("change %d", i))
		if how == "append" {
			_, err = f.WriteAt(b, off)
			off += int64(len(b))
		} else {
			_, err = f.WriteAt(b, int64(i*4096)%(fi.Size()-16))
		}
		if err != nil {
			t.Error(err)
			return
		}
	}
}

// TestCLISourceChangedBeforeVerify: the source is rewritten between the
// copy and its verification (hook), its mtime kept (touch -r), as a
// corruption keeps it: source and full modes detect it by its hash.
func TestCLISourceChangedBeforeVerify(t *testing.T) {
	for _, mode := range []string{"source", "full"} {
		t.Run(mode, func(t *testing.T) {
			work := workDir(t, 128<<20)
			src := filepath.Join(work, "src")
			buildTree(t, src, treeSpec{Large: 1, LargeSize: 2 << 20})
			victim := filepath.Join(src, "large/clip00.mov")
			ref := filepath.Join(t.TempDir(), "mtime")
			hook := writeHook(t, fmt.Sprintf("touch -r %[1]s %[2]s\nprintf 'changed' | dd of=%[1]s bs=1 seek=1000 conv=notrunc 2>/dev/null\ntouch -r %[2]s %[1]s\n", victim, ref))
			r := runCVV(t, runOpts{Env: []string{hook}}, "-m", mode, src, filepath.Join(work, "d1"))
			if r.Code != 1 {
				t.Errorf("exit %d, want 1\n%v", r.Code, r)
			}
			expectOutput(t, r, "large/clip00.mov")
		})
	}
}

// TestCLIDestCorruptedBeforeVerify: a byte of one destination is flipped
// between the copy and the verification (hook); full mode detects it and
// names that destination; the other destinations verify.
func TestCLIDestCorruptedBeforeVerify(t *testing.T) {
	work := workDir(t, 128<<20)
	src := filepath.Join(work, "src")
	want := buildTree(t, src, treeSpec{Large: 1, LargeSize: 2 << 20, Small: 3})
	rel := "large/clip00.mov"
	b := mustRead(t, filepath.Join(src, rel))
	const at = 123457
	flipped := b[at] ^ 0x5a
	dests := []string{filepath.Join(work, "d1"), filepath.Join(work, "d2"), filepath.Join(work, "d3")}
	// The second destination of the file; CVV_TEST_DESTS lists them in
	// command-line order.
	// The corruption keeps the mtime: only the hash can tell.
	mtimes := filepath.Join(work, "mtimes")
	hook := writeHook(t, fmt.Sprintf(`[ "$CVV_TEST_FILE" = %q ] || exit 0
d=$(printf '%%s\n' "$CVV_TEST_DESTS" | sed -n 2p)
%secho "$d" > %s
`, rel, flipKeepTimeSh(flipped, at, mtimes), filepath.Join(work, "flipped")))
	r := runCVV(t, runOpts{Env: []string{hook}}, "-m", "full", src, dests[0], dests[1], dests[2])
	hit, err := os.ReadFile(filepath.Join(work, "flipped"))
	if err != nil {
		t.Fatalf("the hook never flipped a byte: %v\n%v", err, r)
	}
	checkKeptTime(t, mtimes)
	// The copy is verified under its temp name, before it gets its final
	// name.
	if got := strings.TrimSpace(string(hit)); filepath.Dir(got) != filepath.Dir(filepath.Join(dests[1], rel)) || !atomicfile.IsTempName(filepath.Base(got)) {
		t.Errorf("hook flipped %s, want the temp file of the second destination in %s", got, filepath.Dir(filepath.Join(dests[1], rel)))
	}
	if r.Code != 1 {
		t.Errorf("exit %d, want 1\n%v", r.Code, r)
	}
	expectOutput(t, r, filepath.Join(dests[1], rel))
	for _, d := range []string{dests[0], dests[2]} {
		if strings.Contains(r.Stdout+r.Stderr, filepath.Join(d, rel)+":") {
			t.Errorf("a good destination is blamed: %s", filepath.Join(d, rel))
		}
		checkComplete(t, want, d)
	}
	// The bad copy must not get its final name, and the failure says that
	// it was removed; a re-run must copy it.
	if _, err := os.Lstat(filepath.Join(dests[1], rel)); err == nil {
		t.Errorf("the corrupted copy has its final name after the failed verification")
	}
	if !strings.Contains(r.Stderr, "the copy was removed") {
		t.Errorf("the failure does not say what became of the bad copy:\n%v", r)
	}
	// The re-run copies it again (and keeps the two good copies).
	r = runCVV(t, runOpts{}, "--json", "-m", "full", src, dests[0], dests[1], dests[2])
	if r.Code != 0 {
		t.Errorf("re-run: exit %d, want 0\n%v", r.Code, r)
	}
	if st := copyStatus(t, r, rel, filepath.Join(dests[1], rel)); st != "copied" {
		t.Errorf("re-run: %s is %q on the damaged destination, want copied again", rel, st)
	}
	for _, d := range dests {
		checkComplete(t, want, d)
	}
}

// TestCLIDirectRefused: a source and a destination on a filesystem that
// refuses O_DIRECT opens (EINVAL): cvv copies and verifies through the
// portable path, file by file, and exits 0.
func TestCLIDirectRefused(t *testing.T) {
	for _, engine := range []string{"auto", "fallback"} {
		t.Run(engine, func(t *testing.T) {
			srcFS := mountErrorFS(t, ErrorFSOptions{RefuseDirect: true})
			dstFS := mountErrorFS(t, ErrorFSOptions{RefuseDirect: true})
			want := buildTree(t, srcFS.Backing, treeSpec{Large: 2, LargeSize: 2 << 20, Small: 10})
			d1 := filepath.Join(t.TempDir(), "d1")
			r := runCVV(t, runOpts{}, "--engine", engine, srcFS.Mountpoint, d1, dstFS.Mountpoint)
			if r.Code != 0 {
				t.Errorf("exit %d, want 0\n%v", r.Code, r)
			}
			checkComplete(t, want, d1)
			checkComplete(t, want, dstFS.Backing)
		})
	}
}

// TestCLICrashBetweenCopyAndVerify: cvv is killed (SIGKILL, from the
// before-verify hook) after a file is renamed into place but before it is
// verified, and that copy went bad (a byte flipped, as a failing medium
// would). The re-run must not trust the unverified copy because its size
// and mtime look right: it either copies it again or reports it, and never
// exits 0 with a wrong file under a final name.
func TestCLICrashBetweenCopyAndVerify(t *testing.T) {
	for _, mode := range []string{"full", "source", "transfer"} {
		t.Run(mode, func(t *testing.T) {
			work := workDir(t, 128<<20)
			src := filepath.Join(work, "src")
			want := buildTree(t, src, treeSpec{Large: 1, LargeSize: 2 << 20, Small: 3})
			rel := "large/clip00.mov"
			b := mustRead(t, filepath.Join(src, rel))
			const at = 4242
			dests := []string{filepath.Join(work, "d1"), filepath.Join(work, "d2")}
			flag := filepath.Join(work, "crashed")
			mtimes := filepath.Join(work, "mtimes")
			hook := writeHook(t, fmt.Sprintf(`[ "$CVV_TEST_FILE" = %q ] || exit 0
[ -e %[2]s ] && exit 0
touch %[2]s
d=$(printf '%%s\n' "$CVV_TEST_DESTS" | sed -n 2p)
%[3]sp=$PPID
while [ "$(cat /proc/$p/comm)" != cvv ]; do p=$(cut -d' ' -f4 /proc/$p/stat); done
kill -9 $p
`, rel, flag, flipKeepTimeSh(b[at]^0xff, at, mtimes)))
			args := []string{"-m", mode, "-j", "1", src, dests[0], dests[1]}
			r := runCVV(t, runOpts{Env: []string{hook}}, args...)
			if _, err := os.Stat(flag); err != nil {
				t.Fatalf("the hook never ran: %v\n%v", err, r)
			}
			if r.Code != 137 {
				t.Fatalf("first run: exit %d, want 137 (killed)\n%v", r.Code, r)
			}
			checkKeptTime(t, mtimes)
			// The damaged copy was never verified: it must not have its
			// final name, where its size and mtime would pass for a copy.
			final := filepath.Join(dests[1], rel)
			if _, err := os.Lstat(final); err == nil && fileHash(t, final) != want[rel] {
				t.Errorf("after the crash, %s has its final name and is wrong", final)
			}
			// The re-run catches it: it copies the file again, verifies it
			// and exits 0 with every copy right.
			r = runCVV(t, runOpts{Env: []string{hook}}, append([]string{"--json"}, args...)...)
			if r.Code != 0 {
				t.Errorf("re-run: exit %d, want 0\n%v", r.Code, r)
			}
			if st := copyStatus(t, r, rel, final); st != "copied" {
				t.Errorf("re-run: %s is %q on the damaged destination, want copied again", rel, st)
			}
			for _, d := range dests {
				checkComplete(t, want, d)
			}
		})
	}
}
