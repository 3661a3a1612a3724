package faults

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
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
			// Each trial in its own subtest, so that its mounts and
			// images go at its end.
			total := -1
			t.Run(fmt.Sprintf("%s/%v/uncut", k, sc), func(t *testing.T) { total = blockCutTrial(t, k, srcs, sc, 0).Flushes })
			if total < 0 {
				continue // not run: -run selected other trials
			}
			cuts := blockCuts(k, total)
			t.Logf("%s %v: an uncut run makes %d flushes; cuts at %v", k, sc, total, cuts)
			if len(cuts) < 3 {
				t.Fatalf("%s %v: an uncut run makes %d flushes, too few to cut", k, sc, total)
			}
			for _, n := range cuts {
				t.Run(fmt.Sprintf("%s/%v/flush%d", k, sc, n), func(t *testing.T) { blockCutTrial(t, k, srcs, sc, n) })
			}
			t.Run(fmt.Sprintf("%s/%v/end", k, sc), func(t *testing.T) { blockCutTrial(t, k, srcs, sc, -1) })
		}
	}
}

// blockCutScenarios returns the runs TestBlockPowerCut makes on a
// filesystem of kind k: one on ext4 in the quick run; with
// CVV_FAULTS=full, both engines, the full mode and the default jobs on
// ext4, and both engines on xfs.
func blockCutScenarios(k DiskFS) []cutScenario {
	switch {
	case !fullRun() && k == Ext4:
		return []cutScenario{{mode: "transfer", jobs: 64}}
	case !fullRun():
		return nil
	case k == Ext4:
		return []cutScenario{{mode: "transfer", jobs: 64}, {mode: "transfer", jobs: 64, fallback: true}, {mode: "full", jobs: 64, write: "direct"}, {mode: "transfer"}}
	}
	return []cutScenario{{mode: "transfer", jobs: 64}, {mode: "transfer", jobs: 64, fallback: true}}
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
		c := &cutCheck{t: t, want: want, old: map[string]string{}, mnt: d.Dir, durable: root}
		c.finalFiles(filepath.Join(root, "dst"))
		if name == "none" {
			t.Logf("%s %v, cut %s: %d files reported done, %d under their final names after the cut", k, sc, cutName(n), doneFiles(events), len(treeFiles(t, filepath.Join(root, "dst"))))
		}
		c.reported(events)
		if name != "all" || fullRun() {
			c.rerun(sc, src, filepath.Join(root, "dst"))
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
