package faults

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestBlockPowerCut cuts the power under a real ext4 with its journal
// (and, with CVV_FAULTS=full, an xfs), while cvv copies a tree of small
// files to it (BlockDisk): as the N-th cache flush of the disk arrives, for
// N spread over the flushes an uncut run makes. Each image the cut may leave
// (no write since the last flush survived, all did, a seeded random half of
// the blocks did) must replay its journal and check clean, hold under every
// final name the source and nothing else, hold every file cvv reported done
// (NDJSON file events), and the same command must then finish on it.
func TestBlockPowerCut(t *testing.T) {
	work := workDir(t, 64<<20)
	srcs := &cutSources{tree: filepath.Join(work, "tree")}
	dirs, files := 2, 15
	if fullRun() {
		dirs, files = 4, 40
	}
	srcs.treeWant = smallFileTree(t, srcs.tree, dirs, files)
	for _, k := range []DiskFS{Ext4, XFS} {
		for _, sc := range blockCutScenarios(k) {
			blockCutRuns(t, k, srcs, sc, func(total int) []int { return blockCuts(k, total) })
		}
	}
}

// blockCutRuns makes the trials of sc on a filesystem of kind k: an uncut
// run, which counts the flushes, a cut at each of the flushes cuts picks
// from that count, and a cut after the run.
func blockCutRuns(t *testing.T, k DiskFS, srcs *cutSources, sc cutScenario, cuts func(total int) []int) {
	// Each trial in its own subtest, so that its mounts and images go at
	// its end.
	total := -1
	t.Run(fmt.Sprintf("%s/%v/uncut", k, sc), func(t *testing.T) { total = blockCutTrial(t, k, srcs, sc, 0).Flushes })
	if total < 0 {
		return // not run: -run selected other trials
	}
	at := cuts(total)
	t.Logf("%s %v: an uncut run makes %d flushes; cuts at %v", k, sc, total, at)
	if len(at) < 3 {
		t.Fatalf("%s %v: an uncut run makes %d flushes, too few to cut", k, sc, total)
	}
	for _, n := range at {
		t.Run(fmt.Sprintf("%s/%v/flush%d", k, sc, n), func(t *testing.T) { blockCutTrial(t, k, srcs, sc, n) })
	}
	t.Run(fmt.Sprintf("%s/%v/end", k, sc), func(t *testing.T) { blockCutTrial(t, k, srcs, sc, -1) })
}

// TestBlockPowerCutLast cuts the power, as TestBlockPowerCut does, under
// what a run writes after its files, which the run's last syncfs makes
// durable (copier.syncNamesLast): a single file's name, and a tree's hash
// lists (sums and xxh lists, ASC MHL generation and chain), hard links
// and its directories' modes and mtimes. Cut after the run, each image must
// hold all of it, the lists whole and listing every file with its xxh3
// (cvv verify checks the tree against them); cut at one of the last
// flushes of the run, a list under its final name must be whole and
// correct; and a re-run must leave every list whole and complete.
func TestBlockPowerCutLast(t *testing.T) {
	requireTool(t, "xmllint")
	work := workDir(t, 64<<20)
	srcs := &cutSources{tree: filepath.Join(work, "tree"), file: filepath.Join(work, "single", "clip.mov")}
	srcs.treeWant = linkedTree(t, srcs.tree)
	writeRandom(t, srcs.file, 3<<20+17, 7)
	srcs.fileWant = map[string]string{"clip.mov": fileHash(t, srcs.file)}
	srcs.treeXXH, srcs.fileXXH = xxh3Files(t, srcs.tree), xxh3Files(t, srcs.file)
	for _, k := range []DiskFS{Ext4, XFS} {
		for _, sc := range lastCutScenarios(k) {
			blockCutRuns(t, k, srcs, sc, func(total int) []int { return lastCuts(sc, total) })
		}
	}
}

// linkedTree writes a small tree under root with two hard links and
// directories of odd modes and old mtimes, and returns it (treeFiles).
func linkedTree(t *testing.T, root string) map[string]string {
	t.Helper()
	smallFileTree(t, root, 2, 10)
	for old, link := range map[string]string{"d0/f000.dat": "d1/link-f000.dat", "d0/f001.dat": "d0/link-f001.dat"} {
		if err := os.Link(filepath.Join(root, old), filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-30 * time.Hour).Truncate(time.Second).Add(123456789)
	for dir, mode := range map[string]os.FileMode{"d0": 0o750, "d1": 0o755, "": 0o705} {
		p := filepath.Join(root, dir)
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, past, past); err != nil {
			t.Fatal(err)
		}
	}
	return treeFiles(t, root)
}

// lastCutScenarios returns the runs TestBlockPowerCutLast makes on a
// filesystem of kind k: a single file and a tree with hash lists on ext4
// in the quick run; with CVV_FAULTS=full, each with both engines, on ext4
// and xfs.
func lastCutScenarios(k DiskFS) []cutScenario {
	quick := []cutScenario{{file: true, mode: "transfer"}, {mode: "transfer", hashFiles: true}}
	switch {
	case !fullRun() && k == Ext4:
		return quick
	case !fullRun():
		return nil
	}
	return []cutScenario{
		{file: true, mode: "transfer"}, {file: true, mode: "transfer", fallback: true},
		{file: true, mode: "full", hashFiles: true},
		{mode: "transfer", hashFiles: true}, {mode: "transfer", hashFiles: true, fallback: true},
	}
}

// lastCuts returns the flushes TestBlockPowerCutLast cuts at, of an
// uncut run of sc that makes total flushes: every one with
// CVV_FAULTS=full. The quick run cuts where the run writes after its
// files: at each of the last 4 of a single file's (of 7 on ext4: its
// fdatasync, the directory fsync after its rename, the last syncfs) and
// at every other one of the last 23 of a tree's, its hard links, hash
// lists, directory attributes and transfer report (the first 25 to 30 of
// its 45 to 65 on ext4 copy the files), each time ending on the last.
func lastCuts(sc cutScenario, total int) []int {
	from, step := 1, 1
	switch {
	case fullRun():
	case sc.file:
		from = max(total-3, 1)
	default:
		from, step = max(total-22, 1), 2
	}
	var cuts []int
	for c := from; c <= total; c += step {
		cuts = append(cuts, c)
	}
	return cuts
}

// blockCutScenarios returns the runs TestBlockPowerCut makes on a
// filesystem of kind k: on ext4 in the quick run, 64 jobs and the
// default ones (up to 112 files waiting for a syncfs without a job's
// place, copier slots.go); with CVV_FAULTS=full, both engines, the full
// mode with 64 and with the default jobs (a waiting file takes a place
// again to verify) on ext4, and both engines and the default jobs on
// xfs.
func blockCutScenarios(k DiskFS) []cutScenario {
	switch {
	case !fullRun() && k == Ext4:
		return []cutScenario{{mode: "transfer", jobs: 64}, {mode: "transfer"}}
	case !fullRun():
		return nil
	case k == Ext4:
		return []cutScenario{{mode: "transfer", jobs: 64}, {mode: "transfer", jobs: 64, fallback: true}, {mode: "full", jobs: 64, write: "direct"}, {mode: "transfer"}, {mode: "full"}}
	}
	return []cutScenario{{mode: "transfer", jobs: 64}, {mode: "transfer", jobs: 64, fallback: true}, {mode: "transfer"}}
}

// blockCuts returns the flushes TestBlockPowerCut cuts at on a filesystem
// of kind k whose uncut run makes total flushes: 3 (12 with
// CVV_FAULTS=full) spread over them on ext4. On xfs every third flush up
// to the 60th and 4 spread over the rest: before names were made durable
// with syncfs there, cutting at every flush of a run of 172 found files
// reported done and lost at 12 of them, the 11th, 13th, 20th, 28th, 34th,
// 35th, 38th, 39th, 45th, 47th, 59th and 71st (a directory fsync returned
// success once the filesystem had shut down on the failed flush).
func blockCuts(k DiskFS, total int) []int {
	spread := func(from, to, n int) []int {
		var cuts []int
		for i := range n {
			if c := from + i*(to-from)/max(n-1, 1); c <= to && !slices.Contains(cuts, c) {
				cuts = append(cuts, c)
			}
		}
		return cuts
	}
	switch {
	case k == Ext4 && !fullRun():
		return spread(1, total, 3)
	case k == Ext4:
		return spread(1, total, 12)
	}
	var cuts []int
	for c := 1; c <= min(total, 60); c += 3 {
		cuts = append(cuts, c)
	}
	if total > 61 {
		cuts = append(cuts, spread(61, total, 4)...)
	}
	return cuts
}

// blockCutTrial runs sc to a new BlockDisk of kind k, cutting the power as
// the n-th flush arrives (n > 0) or after the run (n < 0: everything it
// reported done must be durable by then), checks every image the cut may
// leave and returns the cut. With n == 0 it cuts after the run and checks
// nothing: the run must succeed.
func blockCutTrial(t *testing.T, k DiskFS, srcs *cutSources, sc cutScenario, n int) BlockCut {
	t.Helper()
	src, want := srcs.src(sc)
	d := startBlockDisk(t, k, "", BlockFSOptions{CutAtFlush: max(n, 0), Seeds: []uint64{uint64(max(n, 0))}})
	r := runCVV(t, runOpts{}, sc.args(src, filepath.Join(d.Dir, "dst"))...)
	if n <= 0 && r.Code != 0 {
		t.Fatalf("%s %v: uncut run: %v", k, sc, r)
	}
	cut, err := d.FS.Cut()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		return cut
	}
	var events []cutEvent
	for _, line := range strings.SplitAfter(r.Stdout, "\n") {
		var ev cutEvent
		if json.Unmarshal([]byte(line), &ev) == nil {
			events = append(events, ev)
		}
	}
	mounts, problems := mountCrashImages(t, k, cut)
	for name, root := range mounts {
		dst := filepath.Join(root, "dst")
		c := &cutCheck{t: t, want: want, xxh: srcs.xxh(sc), old: map[string]string{}, mnt: d.Dir, durable: root}
		c.finalFiles(dst)
		if name == "none" {
			t.Logf("%s %v, cut %s: %d files reported done, %d under their final names after the cut", k, sc, cutName(n), doneFiles(events), len(treeFiles(t, dst)))
		}
		c.reported(events)
		// A run that exits 0 promises that what it wrote after its files
		// is durable too (copier.syncNamesLast), even where the cut came
		// before its end: the cut's failed flush must have failed it.
		ended := r.Code == 0
		if ended {
			c.complete(dst)
			if !sc.file {
				c.dirAttrs(src, dst)
				c.hardLinks(src, dst)
			}
		}
		if sc.hashFiles {
			c.hashLists(dst, ended)
		}
		if name != "all" || fullRun() {
			c.rerun(sc, src, dst)
		}
		for _, p := range c.problems {
			problems = append(problems, fmt.Sprintf("image %s: %s", name, p))
		}
	}
	for _, p := range problems {
		t.Errorf("%s %v, cut %s: %s", k, sc, cutName(n), p)
	}
	if len(problems) > 0 || testing.Verbose() {
		t.Logf("%s %v, cut %s (%d flushes, %d writes, %d blocks pending): exit %d\n%s", k, sc, cutName(n), cut.Flushes, cut.Writes, cut.Pending, r.Code, firstLines(r.Stdout+r.Stderr, 40))
	}
	return cut
}

// firstLines returns the first n lines of s.
func firstLines(s string, n int) string {
	lines := strings.SplitAfterN(s, "\n", n+1)
	if len(lines) > n {
		lines = append(lines[:n], "...\n")
	}
	return strings.Join(lines, "")
}

// doneFiles counts the copies cvv reported done: kept (file events) or
// verified (verify events).
func doneFiles(events []cutEvent) int {
	n := 0
	for _, ev := range events {
		for _, d := range ev.Dests {
			if ev.Event == "file" && d.Status == "kept" || ev.Event == "verify" && d.Status == "ok" {
				n++
			}
		}
	}
	return n
}

// cutName says when blockCutTrial cuts.
func cutName(n int) string {
	if n > 0 {
		return fmt.Sprintf("at flush %d of the disk", n)
	}
	return "after the run"
}
