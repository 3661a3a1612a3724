package faults

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cvv-project/cvv/internal/atomicfile"
)

// blkioWriteBPS is the cgroup v1 file that limits the write rate of a block
// device for every process of the root group, the kernel's writeback
// included.
const blkioWriteBPS = "/sys/fs/cgroup/blkio/blkio.throttle.write_bps_device"

// mountSlowExt4 is mountLoopExt4 with writes to its loop device limited to
// bps bytes a second (lifted at cleanup, before the unmount): a real slow
// drive, as a USB disk among NVMe drives is.
func mountSlowExt4(t *testing.T, size, bps int64) string {
	t.Helper()
	requireRoot(t)
	if _, err := os.Stat(blkioWriteBPS); err != nil {
		t.Skipf("needs the cgroup v1 blkio controller (%v)", err)
	}
	dir := mountLoopExt4(t, size)
	out, err := exec.Command("findmnt", "-n", "-o", "SOURCE", dir).Output()
	if err != nil {
		t.Fatalf("findmnt %s: %v", dir, err)
	}
	var st unix.Stat_t
	dev := strings.TrimSpace(string(out))
	if err := unix.Stat(dev, &st); err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	if err := os.WriteFile(blkioWriteBPS, []byte(fmt.Sprintf("%s %d", id, bps)), 0o644); err != nil {
		t.Skipf("cannot throttle %s (%s): %v", dev, id, err)
	}
	t.Cleanup(func() {
		if err := os.WriteFile(blkioWriteBPS, []byte(id+" 0"), 0o644); err != nil {
			t.Errorf("lifting the throttle of %s: %v", dev, err)
		}
	})
	return dir
}

// cascadeEvent is the part of a source_released, cascade or summary event
// the cascade tests read.
type cascadeEvent struct {
	Event    string          `json:"event"`
	Path     string          `json:"path"`
	Seconds  float64         `json:"seconds"`
	Released *float64        `json:"source_released_seconds"`
	Pending  []string        `json:"pending"`
	From     string          `json:"from"`
	OK       bool            `json:"ok"`
	RawDests json.RawMessage `json:"dests"` // strings in start
	Dests    []jsonDest      `json:"-"`
}

func parseCascadeEvents(t *testing.T, stdout string) []cascadeEvent {
	t.Helper()
	var evs []cascadeEvent
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var ev cascadeEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("not a JSON event (%v): %q", err, line)
		}
		if ev.Event == "verify" || ev.Event == "cascade" {
			if err := json.Unmarshal(ev.RawDests, &ev.Dests); err != nil {
				t.Fatalf("%s event: bad dests (%v): %q", ev.Event, err, line)
			}
		}
		evs = append(evs, ev)
	}
	return evs
}

// TestCascadeSlowDestination: one of three destinations is a loop-mounted
// ext4 whose device takes 20 MB/s of writes. With --cascade on it, the two
// fast destinations are copied and verified and the source is released
// before any byte goes to the slow one (every verify event shows it
// pending, every cascade event comes after source_released), the slow one
// is then filled from the first fast copy, which takes at least the
// throttle's time after the release, and every copy is the source's with a
// full verification record.
func TestCascadeSlowDestination(t *testing.T) {
	slow := mountSlowExt4(t, 256<<20, 20_000_000)
	work := workDir(t, 256<<20)
	src := filepath.Join(work, "src")
	want := buildTree(t, src, treeSpec{Large: 2, LargeSize: 16 << 20, Small: 16})
	d1, d2, d3 := filepath.Join(work, "d1"), filepath.Join(work, "d2"), filepath.Join(slow, "copy")
	r := runCVV(t, runOpts{}, "--json", "-q", src, d1, d2, "--cascade", d3)
	if r.Code != 0 {
		t.Fatalf("exit %d, want 0\n%v", r.Code, r)
	}
	evs := parseCascadeEvents(t, r.Stdout)
	released, cascades := -1, 0
	var relSec, total float64
	for k, ev := range evs {
		switch ev.Event {
		case "verify":
			if released >= 0 {
				t.Errorf("verify event of %s after source_released", ev.Path)
			}
			if st := ev.Dests[2].Status; st != "pending" {
				t.Errorf("%s: the slow destination is %q before the release, want pending", ev.Path, st)
			}
		case "source_released":
			released, relSec = k, ev.Seconds
			if len(ev.Pending) != 1 || ev.Pending[0] != d3 {
				t.Errorf("source_released pending %q, want [%s]", ev.Pending, d3)
			}
		case "cascade":
			cascades++
			if released < 0 {
				t.Errorf("cascade event of %s before source_released", ev.Path)
			}
			if !ev.OK || !strings.HasPrefix(ev.From, d1+"/") {
				t.Errorf("cascade of %s: ok %v from %q, want ok from %s", ev.Path, ev.OK, ev.From, d1)
			}
		case "summary":
			total = ev.Seconds
			if ev.Released == nil || *ev.Released != relSec {
				t.Errorf("summary source_released_seconds %v, want %v", ev.Released, relSec)
			}
		}
	}
	if released < 0 || cascades != len(want) {
		t.Fatalf("source_released at event %d, %d cascade events for %d files\n%v", released, cascades, len(want), r)
	}
	// 32 MiB at 20 MB/s: at least 1.6 s of writes to the slow device, all
	// after the release.
	if total-relSec < 1.2 {
		t.Errorf("released after %.2fs of %.2fs: the slow destination took only %.2fs after it", relSec, total, total-relSec)
	}
	t.Logf("source released after %.2fs, run %.2fs", relSec, total)
	for _, d := range []string{d1, d2, d3} {
		if n := checkFinalFiles(t, want, d); n != len(want) {
			t.Errorf("%s: %d of %d files", d, n, len(want))
		}
	}
	checkRecords(t, d3, want, "full")
}

// checkRecords fails the test unless every file of want under dst has a
// verification record of level.
func checkRecords(t *testing.T, dst string, want map[string]string, level string) {
	t.Helper()
	for rel := range want {
		var buf [256]byte
		n, err := unix.Lgetxattr(filepath.Join(dst, rel), atomicfile.VerifiedAttr, buf[:])
		if err != nil || !strings.HasPrefix(string(buf[:max(n, 0)]), "1 "+level+" ") {
			t.Errorf("%s: record %q (%v), want level %s", rel, buf[:max(n, 0)], err, level)
		}
	}
}

// TestCascadeInterrupted: SIGINT while the slow destination is being
// filled. The fast destinations are complete and verified; on the slow one
// nothing is half-trusted: no temp file is left, and each file under its
// name either has a full record and the source's bytes, or (its
// verification interrupted) a transfer record, which the next full run
// re-checks against the source. That run completes the slow destination.
func TestCascadeInterrupted(t *testing.T) {
	slow := mountSlowExt4(t, 256<<20, 10_000_000)
	work := workDir(t, 256<<20)
	src := filepath.Join(work, "src")
	want := buildTree(t, src, treeSpec{Large: 3, LargeSize: 8 << 20, Small: 8})
	d1, d2, d3 := filepath.Join(work, "d1"), filepath.Join(work, "d2"), filepath.Join(slow, "copy")
	cmd := cvvCmd(t, runOpts{}, "--json", "-q", "-j", "2", src, d1, d2, "--cascade", d3)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		// The cascade starts: 24 MiB are to be written at 10 MB/s.
		if strings.Contains(sc.Text(), `"event":"source_released"`) {
			break
		}
	}
	time.Sleep(time.Second)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, stdout)
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Fatalf("exit %d after SIGINT, want 130", code)
	}
	for _, d := range []string{d1, d2} {
		if n := checkFinalFiles(t, want, d); n != len(want) {
			t.Errorf("%s: %d of %d files after the interrupted cascade", d, n, len(want))
		}
	}
	if tmp := tempFiles(t, d3); len(tmp) > 0 {
		t.Errorf("temp files left on the slow destination: %q", tmp)
	}
	got := treeFiles(t, d3)
	full := 0
	for rel, h := range got {
		var buf [256]byte
		n, err := unix.Lgetxattr(filepath.Join(d3, rel), atomicfile.VerifiedAttr, buf[:])
		rec := string(buf[:max(n, 0)])
		switch {
		case err == nil && strings.HasPrefix(rec, "1 full "):
			full++
			if h != want[rel] {
				t.Errorf("%s: full record over bytes that are not the source's", rel)
			}
		case err == nil && strings.HasPrefix(rec, "1 transfer "):
		default:
			t.Errorf("%s: under its name with record %q (%v)", rel, rec, err)
		}
	}
	if full == len(want) {
		t.Errorf("every file was verified on the slow destination: the interrupt came too late to test anything")
	}
	r := runCVV(t, runOpts{}, "-q", src, d1, d2, "--cascade", d3)
	if r.Code != 0 {
		t.Fatalf("re-run: exit %d\n%v", r.Code, r)
	}
	if n := checkFinalFiles(t, want, d3); n != len(want) {
		t.Errorf("after the re-run %d of %d files on the slow destination", n, len(want))
	}
	checkRecords(t, d3, want, "full")
}

// TestCascadeFastCopyReadEIO: the first fast destination is a FUSE
// filesystem whose copy of one file reads back EIO under its final name
// (the fast phase verifies the temp file, so only the cascade's read
// fails). That copy fails on its destination, named in an error event; the
// cascade destination gets the file from the second fast copy instead,
// and every other file from the first.
func TestCascadeFastCopyReadEIO(t *testing.T) {
	e := mountErrorFS(t, ErrorFSOptions{})
	work := workDir(t, 128<<20)
	src := filepath.Join(work, "src")
	want := buildTree(t, src, treeSpec{Large: 2, LargeSize: 3 << 20, Small: 6})
	bad := "large/clip01.mov"
	e.Inject(Fault{Op: OpRead, Match: "copy/" + bad, Errno: syscall.EIO})
	d1, d2, slow := filepath.Join(e.Mountpoint, "copy"), filepath.Join(work, "d2"), filepath.Join(work, "slow")
	r := runCVV(t, runOpts{}, "--json", src, d1, d2, "--cascade", slow)
	if r.Code != 1 {
		t.Errorf("exit %d, want 1\n%v", r.Code, r)
	}
	if e.Hits(OpRead) == 0 {
		t.Fatalf("the fault never fired\n%v", r)
	}
	expectOutput(t, r, `"event":"error","time":`, "reading the verified copy "+filepath.Join(d1, bad)+" for the cascade", "input/output error")
	for _, ev := range parseCascadeEvents(t, r.Stdout) {
		if ev.Event != "cascade" {
			continue
		}
		from := d1
		if ev.Path == bad {
			from = d2
		}
		if !ev.OK || ev.From != filepath.Join(from, ev.Path) {
			t.Errorf("cascade of %s: ok %v from %q, want ok from %s", ev.Path, ev.OK, ev.From, from)
		}
	}
	if n := checkFinalFiles(t, want, slow); n != len(want) {
		t.Errorf("cascade destination: %d of %d files", n, len(want))
	}
	checkRecords(t, slow, want, "full")
}

// TestPowerCutSourceReleased cuts the power of the fast destination the
// moment cvv says the source is released, when the card may be erased:
// what is durable there must be the whole copy, with nothing left that
// needs the source: every file and every further name of a hard-linked
// file, the source directories' modes and mtimes, and hash lists that
// list every file, each equal to the source.
func TestPowerCutSourceReleased(t *testing.T) {
	requireFUSE(t)
	requireTool(t, "xmllint")
	work := workDir(t, 64<<20)
	src := filepath.Join(work, "tree")
	want := buildTree(t, src, treeSpec{Large: 1, LargeSize: 1 << 20, Small: 20})
	first, link := "small/d1/f001.dat", "small/d2/f001-link.dat"
	if err := os.Link(filepath.Join(src, first), filepath.Join(src, link)); err != nil {
		t.Fatal(err)
	}
	want[link] = want[first]
	past := time.Now().Add(-30 * time.Hour).Truncate(time.Second).Add(123456789)
	for _, d := range []string{"small/d2", "small", ""} {
		if err := os.Chtimes(filepath.Join(src, d), past, past); err != nil {
			t.Fatal(err)
		}
	}
	p := mountPowerFS(t, PowerFSOptions{}, nil)
	fast := filepath.Join(p.Mountpoint, "dst")
	out := cutRun(t, p, cutMoment{event: "source_released"}, []string{"CVV_TEST_THROTTLE=2ms"},
		[]string{"--json", "--hash-file", "sums,mhl", src, fast, "--cascade", filepath.Join(work, "slow")})
	if out.firstTime("source_released").IsZero() {
		t.Fatalf("cvv ended without releasing the source:\n%s", out.text())
	}
	durable := filepath.Join(p.Durable, "dst")
	c := &cutCheck{t: t, want: want, mnt: p.Mountpoint, durable: p.Durable}
	c.reported(out.events())
	c.hashLists(durable, false)
	c.dirAttrs(src, durable)
	got := treeFiles(t, durable)
	for rel, h := range want {
		if got[rel] != h {
			c.addf("%s is missing or not the source in the fast copy after the cut", rel)
		}
	}
	if a, err := os.Stat(filepath.Join(durable, first)); err == nil {
		if b, err := os.Stat(filepath.Join(durable, link)); err != nil || !os.SameFile(a, b) {
			c.addf("%s is not a hard link to %s in the fast copy after the cut (%v)", link, first, err)
		}
	}
	c.sumsComplete("the fast copy after the cut", durable)
	for _, p := range c.problems {
		t.Error(p)
	}
	if t.Failed() {
		t.Logf("output of the run:\n%s", out.text())
	}
}
