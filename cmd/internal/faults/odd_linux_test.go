package faults

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestOddInputs: 0-byte files, a name with newlines, a 255-byte name, a
// 100-level tree, a symlink loop, a symlink to an ancestor and a hardlinked
// pair copy correctly, and symlinks are recreated, not followed.
func TestOddInputs(t *testing.T) {
	work := workDir(t, 128<<20)
	src := filepath.Join(work, "src")
	mkdirs(t, src)
	writeRandom(t, filepath.Join(src, "zero.bin"), 0, 1)
	writeRandom(t, filepath.Join(src, "empty-dir-sibling", "zero2.bin"), 0, 1)
	writeRandom(t, filepath.Join(src, "line\nbreak\n.txt"), 100, 2)
	writeRandom(t, filepath.Join(src, "tab\tand \\ back\"slash.txt"), 100, 2)
	long := strings.Repeat("n", 251) + ".bin"
	writeRandom(t, filepath.Join(src, long), 5000, 3)
	writeRandom(t, filepath.Join(src, "utf8-é-日本.bin"), 5000, 3)
	deep := src
	for i := range 100 {
		deep = filepath.Join(deep, fmt.Sprintf("level-%02d", i))
	}
	writeRandom(t, filepath.Join(deep, "bottom.bin"), 4097, 4)
	writeRandom(t, filepath.Join(src, "hard1.bin"), 70000, 5)
	if err := os.Link(filepath.Join(src, "hard1.bin"), filepath.Join(src, "hard2.bin")); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{
		"loop-a": "loop-b",
		"loop-b": "loop-a",
		"self":   ".",
		"up":     "..",
		"dangle": "does/not/exist",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(src, name)); err != nil {
			t.Fatal(err)
		}
	}
	mkdirs(t, filepath.Join(src, "empty-dir"))
	want := treeFiles(t, src)

	dests := []string{filepath.Join(work, "d1"), filepath.Join(work, "d2")}
	r := runCVV(t, runOpts{Timeout: 5 * time.Minute}, append([]string{src}, dests...)...)
	if r.Code != 0 {
		t.Errorf("exit %d, want 0\n%v", r.Code, r)
	}
	for _, d := range dests {
		checkComplete(t, want, d)
		for name, target := range links {
			got, err := os.Readlink(filepath.Join(d, name))
			if err != nil || got != target {
				t.Errorf("%s/%s: readlink %q, %v; want a symlink to %q", d, name, got, err, target)
			}
		}
		// hard2.bin is a link of hard1.bin there too, as with cp -a.
		a, err1 := os.Stat(filepath.Join(d, "hard1.bin"))
		b, err2 := os.Stat(filepath.Join(d, "hard2.bin"))
		if err1 != nil || err2 != nil || !os.SameFile(a, b) {
			t.Errorf("%s: hard2.bin is not a hard link of hard1.bin (%v, %v)", d, err1, err2)
		}
		if fi, err := os.Stat(filepath.Join(d, "empty-dir")); err != nil || !fi.IsDir() {
			t.Errorf("%s: empty directory not recreated: %v", d, err)
		}
		if tmp := tempFiles(t, d); len(tmp) > 0 {
			t.Errorf("temp files left: %q", tmp)
		}
	}
	// A second run finds everything in place and skips it: nothing is
	// copied again (a name the skip rule mishandles would be).
	r = runCVV(t, runOpts{Timeout: 5 * time.Minute}, append([]string{"--json", src}, dests...)...)
	if r.Code != 0 {
		t.Errorf("second run: exit %d, want 0\n%v", r.Code, r)
	}
	sum := runSummary(t, r)
	files := len(want) - 1 // hard2.bin is a link of hard1.bin, not a file to copy
	if sum.Files != files || sum.FilesSkipped != files || sum.FilesCopied != 0 || sum.BytesCopied != 0 {
		t.Errorf("second run: %d files, %d skipped, %d copied (%d bytes); want all %d skipped, none copied\n%v",
			sum.Files, sum.FilesSkipped, sum.FilesCopied, sum.BytesCopied, files, r)
	}
}

// runSummaryEvent is the summary event of a --json run.
type runSummaryEvent struct {
	Files        int   `json:"files"`
	FilesCopied  int   `json:"files_copied"`
	FilesSkipped int   `json:"files_skipped"`
	FilesFailed  int   `json:"files_failed"`
	BytesCopied  int64 `json:"bytes_copied"`
	// FilesVerified and FilesNotVerified: copies verified from the
	// media, and copies left unverified.
	FilesVerified    int `json:"files_verified"`
	FilesNotVerified int `json:"files_not_verified"`
}

// runSummary returns the summary event of r, a --json run, or fails.
func runSummary(t testing.TB, r *runResult) runSummaryEvent {
	t.Helper()
	for _, line := range strings.Split(r.Stdout, "\n") {
		if !strings.Contains(line, `"event":"summary"`) {
			continue
		}
		var sum runSummaryEvent
		if err := json.Unmarshal([]byte(line), &sum); err != nil {
			t.Fatalf("summary event %q: %v", line, err)
		}
		return sum
	}
	t.Fatalf("no summary event:\n%v", r)
	return runSummaryEvent{}
}

// TestManyEmptyFiles: 100k empty files (2k without CVV_FAULTS=full), timed.
func TestManyEmptyFiles(t *testing.T) {
	n := 2000
	if fullRun() {
		n = 100000
	}
	work := workDir(t, 1<<30)
	src := filepath.Join(work, "src")
	for d := range (n + 999) / 1000 {
		dir := filepath.Join(src, fmt.Sprintf("d%03d", d))
		mkdirs(t, dir)
		for i := d * 1000; i < min(n, (d+1)*1000); i++ {
			f, err := os.Create(filepath.Join(dir, fmt.Sprintf("e%06d", i)))
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	dst := filepath.Join(work, "dst")
	r := runCVV(t, runOpts{Timeout: 15 * time.Minute}, "-q", src, dst)
	if r.Code != 0 {
		t.Fatalf("exit %d\n%v", r.Code, r)
	}
	got := 0
	for d := range (n + 999) / 1000 {
		ents, err := os.ReadDir(filepath.Join(dst, fmt.Sprintf("d%03d", d)))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if fi, err := e.Info(); err != nil || !fi.Mode().IsRegular() || fi.Size() != 0 {
				t.Errorf("%s: not an empty regular file (%v)", e.Name(), err)
			}
			got++
		}
	}
	if got != n {
		t.Errorf("%d files copied, want %d", got, n)
	}
	t.Logf("%d empty files: %v (%.0f files/s), peak RSS %.1f MiB", n, r.Elapsed, float64(n)/r.Elapsed.Seconds(), float64(r.MaxRSS)/(1<<20))
}

// sparseRegions are the data regions of the sparse test files; everything
// else is a hole.
func sparseRegions(size int64) []int64 {
	return []int64{0, 1<<30 - 3, 4<<30 - 1000, 4<<30 + 12345, size/2 + 7, size - 4096}
}

// writeSparse creates a sparse file of size bytes with 4 KiB of data at
// each sparseRegions offset (the last one ends the file).
func writeSparse(t testing.TB, path string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	for i, off := range sparseRegions(size) {
		if off < 0 || off+4096 > size {
			continue
		}
		if _, err := f.WriteAt(sparseData(i), off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func sparseData(i int) []byte {
	return bytes.Repeat([]byte{byte(0x11 * (i + 1))}, 4096)
}

// checkSparse reads path and fails unless it is exactly what writeSparse
// wrote: the data regions, zeros elsewhere. It does not hash 20 GiB; it
// compares.
func checkSparse(t testing.TB, path string, size int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != size {
		t.Fatalf("%s: size %d, want %d", path, fi.Size(), size)
	}
	buf := make([]byte, 8<<20)
	exp := make([]byte, len(buf))
	var off int64
	for {
		n, err := io.ReadFull(f, buf)
		clear(exp[:n])
		for i, r := range sparseRegions(size) {
			if r < 0 || r+4096 > size {
				continue
			}
			lo, hi := max(r, off), min(r+4096, off+int64(n))
			for k := lo; k < hi; k++ {
				exp[k-off] = sparseData(i)[0]
			}
		}
		if !bytes.Equal(buf[:n], exp[:n]) {
			for i := range n {
				if buf[i] != exp[i] {
					t.Fatalf("%s: byte at %d is %#x, want %#x", path, off+int64(i), buf[i], exp[i])
				}
			}
		}
		off += int64(n)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if off != size {
		t.Fatalf("%s: read %d bytes, want %d", path, off, size)
	}
}

// TestHugeSparse: a sparse 20 GiB file with data around the 1 GiB and 4 GiB
// boundaries copies correctly (512 MiB without CVV_FAULTS=full). Both files live on the
// disk (ext4 under $TMPDIR): a tmpfs destination would need 20 GiB of RAM
// if the holes are written as zeros.
func TestHugeSparse(t *testing.T) {
	size := int64(512<<20 + 4097)
	if fullRun() {
		size = 20<<30 + 4097
	}
	dir := t.TempDir()
	free, err := FreeBytes(dir)
	if err != nil {
		t.Fatal(err)
	}
	if free < size+(2<<30) {
		t.Skipf("needs %d bytes free on %s, has %d", size, dir, free)
	}
	src := filepath.Join(dir, "huge.raw")
	writeSparse(t, src, size)
	dst := filepath.Join(dir, "dst")
	r := runCVV(t, runOpts{Timeout: 20 * time.Minute}, src, dst+"/")
	if r.Code != 0 {
		t.Fatalf("exit %d\n%v", r.Code, r)
	}
	start := time.Now()
	checkSparse(t, filepath.Join(dst, "huge.raw"), size)
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(dst, "huge.raw"), &st); err != nil {
		t.Fatal(err)
	}
	t.Logf("%.1f GiB sparse: cvv took %v (%.0f MiB/s, peak RSS %.1f MiB); destination allocates %.1f GiB (holes preserved: %v); byte check took %v",
		float64(size)/(1<<30), r.Elapsed, float64(size)/(1<<20)/r.Elapsed.Seconds(), float64(r.MaxRSS)/(1<<20),
		float64(st.Blocks*512)/(1<<30), st.Blocks*512 < size/2, time.Since(start))
}

// childPeakRSS returns the peak RSS of the run r of cvv with args, or an
// upper bound of it that is at most limit. The rusage of a child of this
// test counts this process's own peak too: Go starts children sharing its
// memory (CLONE_VM) and exec records the high-water mark of the memory it
// leaves. So a run that seems over the limit is measured again with cvv
// started by /usr/bin/time, a small process; args must name new
// destinations.
func childPeakRSS(t *testing.T, r *runResult, limit int64, args ...string) int64 {
	t.Helper()
	if r.MaxRSS <= limit {
		return r.MaxRSS
	}
	tm, err := exec.LookPath("/usr/bin/time")
	if err != nil {
		var self syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &self); err == nil && self.Maxrss<<10 >= r.MaxRSS {
			t.Skipf("no /usr/bin/time, and this test's own peak RSS (%.1f MiB) hides cvv's", float64(self.Maxrss<<10)/(1<<20))
		}
		return r.MaxRSS
	}
	var out bytes.Buffer
	cmd := exec.Command(tm, append([]string{"-f", "maxrss=%M", cvvBin(t)}, args...)...)
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %v\n%s", cmd.Args, err, out.String())
	}
	_, after, _ := strings.Cut(out.String(), "maxrss=")
	kib, err := strconv.ParseInt(strings.TrimSpace(after), 10, 64)
	if err != nil {
		t.Fatalf("no maxrss in /usr/bin/time's output: %q", out.String())
	}
	t.Logf("measured again through /usr/bin/time: peak RSS %.1f MiB", float64(kib<<10)/(1<<20))
	return kib << 10
}

// TestMemoryBound: peak RSS (the child's rusage maxrss) stays at or under
// 64 MiB with default flags, for a big file and for a big tree.
func TestMemoryBound(t *testing.T) {
	const limit = 64 << 20
	t.Run("big file", func(t *testing.T) {
		size := int64(512 << 20)
		if fullRun() {
			size = 4 << 30
		}
		dir := t.TempDir()
		src := filepath.Join(dir, "big.raw")
		writeSparse(t, src, size)
		r := runCVV(t, runOpts{Timeout: 10 * time.Minute}, src, filepath.Join(dir, "d1")+"/", filepath.Join(dir, "d2")+"/")
		if r.Code != 0 {
			t.Fatalf("exit %d\n%v", r.Code, r)
		}
		t.Logf("%d MiB file to two destinations: peak RSS %.1f MiB in %v", size>>20, float64(r.MaxRSS)/(1<<20), r.Elapsed)
		if rss := childPeakRSS(t, r, limit, src, filepath.Join(dir, "d3")+"/", filepath.Join(dir, "d4")+"/"); rss > limit {
			t.Errorf("peak RSS %.1f MiB, want <= 64 MiB", float64(rss)/(1<<20))
		}
	})
	t.Run("big tree", func(t *testing.T) {
		n := 3000
		if fullRun() {
			n = 30000
		}
		work := workDir(t, 1<<30)
		src := filepath.Join(work, "src")
		for i := range n {
			p := filepath.Join(src, fmt.Sprintf("d%02d/s%03d", i%17, i%101), fmt.Sprintf("f%06d.dat", i))
			writeRandom(t, p, int64(i%9000), uint64(i))
		}
		r := runCVV(t, runOpts{Timeout: 10 * time.Minute}, "-q", src, filepath.Join(work, "d1"), filepath.Join(work, "d2"))
		if r.Code != 0 {
			t.Fatalf("exit %d\n%v", r.Code, r)
		}
		t.Logf("%d files to two destinations: peak RSS %.1f MiB in %v", n, float64(r.MaxRSS)/(1<<20), r.Elapsed)
		if rss := childPeakRSS(t, r, limit, "-q", src, filepath.Join(work, "d3"), filepath.Join(work, "d4")); rss > limit {
			t.Errorf("peak RSS %.1f MiB for %d files, want <= 64 MiB (the bound in docs/USAGE.md)", float64(rss)/(1<<20), n)
		}
	})
}
