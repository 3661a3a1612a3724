package faults

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/cvv-project/cvv/cmd/internal/plan"
	"github.com/cvv-project/cvv/hashing/manifest"
)

// reuseEvent is what the reuse tests read of a verify or summary event.
type reuseEvent struct {
	Event  string `json:"event"`
	Path   string `json:"path"`
	Source struct {
		Status string `json:"status"`
	} `json:"source"`
	Dests           []jsonDest `json:"dests"`
	HashReused      bool       `json:"hash_reused"`
	FilesHashReused int        `json:"files_hash_reused"`
}

func reuseEvents(t testing.TB, r *runResult) (verify map[string]reuseEvent, summary reuseEvent) {
	t.Helper()
	verify = map[string]reuseEvent{}
	for _, line := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
		var kind struct{ Event string }
		if err := json.Unmarshal([]byte(line), &kind); err != nil {
			t.Fatalf("not a JSON event (%v): %q", err, line)
		}
		if kind.Event != "verify" && kind.Event != "summary" {
			continue
		}
		var ev reuseEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("bad %s event (%v): %q", kind.Event, err, line)
		}
		switch ev.Event {
		case "verify":
			verify[ev.Path] = ev
		case "summary":
			summary = ev
		}
	}
	return verify, summary
}

// corruptKeepTime flips the byte at off of path and gives the file its
// old times back, as damage in the field keeps the mtime.
func corruptKeepTime(t testing.TB, path string, off int64) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 0x20
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if after, err := os.Stat(path); err != nil || !after.ModTime().Equal(fi.ModTime()) {
		t.Fatalf("the corruption moved the mtime of %s: %v", path, err)
	}
}

// TestCLIVerifyExistingReusesHash: --verify-existing re-reads every
// destination, but takes the source hash from the verification record an
// earlier verified run left on the copies (same size, mtime and algorithm)
// instead of reading the source again. The source sits on an ErrorFS that
// fails every read after the first run: the re-check must pass without a
// read (none reaches the filesystem) and report the hashes reused. A copy
// then corrupted with its mtime kept is still caught, and repaired once the
// source can be read.
func TestCLIVerifyExistingReusesHash(t *testing.T) {
	srcFS := mountErrorFS(t, ErrorFSOptions{})
	want := buildTree(t, srcFS.Backing, treeSpec{Large: 1, LargeSize: 2 << 20, Small: 5})
	work := workDir(t, 64<<20)
	d1, d2 := filepath.Join(work, "d1"), filepath.Join(work, "d2")
	src := srcFS.Mountpoint
	if r := runCVV(t, runOpts{}, "-m", "full", src, d1, d2); r.Code != 0 {
		t.Fatalf("first run: exit %d\n%v", r.Code, r)
	}
	srcFS.Inject(Fault{Op: OpRead, Errno: syscall.EIO})
	args := []string{"--json", "--verify-existing", "-m", "full", src, d1, d2}
	r := runCVV(t, runOpts{}, args...)
	if r.Code != 0 {
		t.Fatalf("--verify-existing over an unreadable source: exit %d, want 0 (hashes reused)\n%v", r.Code, r)
	}
	if n := srcFS.Hits(OpRead); n != 0 {
		t.Errorf("the source was read %d times, want 0: its hashes are in the records", n)
	}
	verify, sum := reuseEvents(t, r)
	for rel := range want {
		ev, ok := verify[rel]
		switch {
		case !ok:
			t.Errorf("%s: no verify event", rel)
		case !ev.HashReused || ev.Source.Status != "not_read":
			t.Errorf("%s: hash_reused %v, source %q; want true, not_read", rel, ev.HashReused, ev.Source.Status)
		}
		for _, d := range ev.Dests {
			if d.Status != "ok" {
				t.Errorf("%s: %s is %q, want ok (re-read and equal)", rel, d.Path, d.Status)
			}
		}
	}
	if sum.FilesHashReused != len(want) {
		t.Errorf("summary files_hash_reused %d, want %d", sum.FilesHashReused, len(want))
	}

	// A copy rots, its mtime kept: the re-read of the destination finds
	// it, and the repair fails while the source cannot be read.
	const victim = "large/clip00.mov"
	corruptKeepTime(t, filepath.Join(d2, victim), 1<<20+3)
	r = runCVV(t, runOpts{}, args...)
	if r.Code != 1 {
		t.Errorf("a rotten copy: exit %d, want 1\n%v", r.Code, r)
	}
	expectOutput(t, r, "repair: ", filepath.Join(d2, victim)+" differs from the source")
	srcFS.Clear()
	r = runCVV(t, runOpts{}, args...)
	if r.Code != 0 {
		t.Errorf("repair: exit %d, want 0\n%v", r.Code, r)
	}
	if st := copyStatus(t, r, victim, filepath.Join(d2, victim)); st != "copied" {
		t.Errorf("repair: %s is %q on %s, want copied again", victim, st, d2)
	}
	checkComplete(t, want, d1)
	checkComplete(t, want, d2)
}

// TestCLIHashFileReusesRecords: a re-run with --hash-file over copies an
// earlier verified run left takes every skipped file's hash from its
// verification record: with a source that fails every read it still
// passes, no read reaches the source, the hash lists stay as they were and
// no ASC MHL generation is added (the run says so). Once a source file
// changes (size and mtime), the run copies it and records a generation.
func TestCLIHashFileReusesRecords(t *testing.T) {
	requireTool(t, "xmllint")
	srcFS := mountErrorFS(t, ErrorFSOptions{})
	want := buildTree(t, srcFS.Backing, treeSpec{Large: 1, LargeSize: 1 << 20, Small: 6})
	dst := filepath.Join(workDir(t, 64<<20), "dst")
	args := []string{"--hash-file", "sums,mhl", srcFS.Mountpoint, dst}
	if r := runCVV(t, runOpts{}, args...); r.Code != 0 {
		t.Fatalf("first run: exit %d\n%v", r.Code, r)
	}
	gens := func() []string {
		g, _ := filepath.Glob(filepath.Join(dst, "ascmhl", "*.mhl"))
		return g
	}
	sums := filepath.Join(dst, "dst.xxh3")
	before, sumsBefore := gens(), mustRead(t, sums)
	srcFS.Inject(Fault{Op: OpRead, Errno: syscall.EIO})
	r := runCVV(t, runOpts{}, args...)
	if r.Code != 0 {
		t.Fatalf("re-run over an unreadable source: exit %d, want 0 (hashes from the records)\n%v", r.Code, r)
	}
	if n := srcFS.Hits(OpRead); n != 0 {
		t.Errorf("the source was read %d times, want 0", n)
	}
	expectOutput(t, r, "nothing changed", "no new ASC MHL generation")
	if g := gens(); len(g) != len(before) {
		t.Errorf("generations %v after a re-run that changed nothing, want %v", g, before)
	}
	if b := mustRead(t, sums); string(b) != string(sumsBefore) {
		t.Errorf("the sums list changed:\n%s\nwant\n%s", b, sumsBefore)
	}
	if err := validateMHL(dst); err != nil {
		t.Error(err)
	}
	srcFS.Clear()
	// A changed source file: copied (a conflict, replaced), recorded in a
	// new generation with the reused hashes of the others.
	writeRandom(t, filepath.Join(srcFS.Backing, "large/clip00.mov"), 1<<20+5, 99)
	want["large/clip00.mov"] = fileHash(t, filepath.Join(srcFS.Backing, "large/clip00.mov"))
	r = runCVV(t, runOpts{}, append([]string{"--on-conflict", "overwrite"}, args...)...)
	if r.Code != 0 {
		t.Fatalf("re-run after a change: exit %d\n%v", r.Code, r)
	}
	if g := gens(); len(g) != len(before)+1 {
		t.Errorf("generations %v after a change, want one more than %v", g, before)
	}
	if err := validateMHL(dst); err != nil {
		t.Error(err)
	}
	newest, err := manifest.ReadNewest(dst)
	if err != nil {
		t.Fatal(err)
	}
	if len(newest.Files) != len(want) {
		t.Errorf("the new generation lists %d files, want all %d", len(newest.Files), len(want))
	}
	got := treeFiles(t, dst)
	for rel, h := range want {
		if got[rel] != h {
			t.Errorf("%s missing or not the source", rel)
		}
	}
}

// TestCLINoRecordOnExFAT: exFAT keeps no extended attributes, so a copy
// made there carries no verification record. A file under its final name
// with the source's size and mtime counts as verified at the transfer
// level only: a later full run re-hashes both sides of every such file
// (kept, verified), and copies again the one whose bytes rotted with its
// mtime kept (a repair, said so), then exits 0 with every copy right.
func TestCLINoRecordOnExFAT(t *testing.T) {
	img := mountImage(t, ExFATFuse, 64<<20)
	work := workDir(t, 64<<20)
	src := filepath.Join(work, "card")
	want := buildTree(t, src, treeSpec{Large: 1, LargeSize: 1 << 20, Small: 4})
	dst := filepath.Join(img.Dir, "day1")
	if r := runCVV(t, runOpts{}, "-m", "transfer", src, dst); r.Code != 0 {
		t.Fatalf("transfer run: exit %d\n%v", r.Code, r)
	}
	const victim = "large/clip00.mov"
	if _, ok := plan.ReadRecord(filepath.Join(dst, victim)); ok {
		t.Fatal("a verification record on exFAT: the test needs a filesystem without one")
	}
	// A plain transfer re-run skips what is there: a name is transfer level.
	r := runCVV(t, runOpts{}, "--json", "-m", "transfer", src, dst)
	if st := copyStatus(t, r, victim, filepath.Join(dst, victim)); r.Code != 0 || st != "skipped" {
		t.Errorf("transfer re-run: exit %d, %s %q; want 0, skipped\n%v", r.Code, victim, st, r)
	}
	corruptKeepTime(t, filepath.Join(dst, victim), 4321)
	r = runCVV(t, runOpts{}, "--json", "-m", "full", src, dst)
	if r.Code != 0 {
		t.Errorf("full run: exit %d, want 0 (repaired)\n%v", r.Code, r)
	}
	expectOutput(t, r, "repair: ", filepath.Join(dst, victim)+" differs from the source")
	verify, _ := reuseEvents(t, r)
	for rel := range want {
		copied := copyStatus(t, r, rel, filepath.Join(dst, rel))
		ev := verify[rel]
		switch {
		case rel == victim && copied != "copied":
			t.Errorf("%s: %q, want copied again", rel, copied)
		case rel != victim && copied != "kept":
			t.Errorf("%s: %q, want kept (re-hashed on both sides, equal)", rel, copied)
		case len(ev.Dests) != 1 || ev.Dests[0].Status != "ok" || ev.HashReused:
			t.Errorf("%s: verify event %+v, want ok with the source read", rel, ev)
		}
	}
	checkComplete(t, want, dst)
}
