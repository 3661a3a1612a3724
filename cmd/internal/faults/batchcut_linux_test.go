package faults

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestPowerCutSmallBatch cuts the power inside the window where many small
// files are in flight at once and their durability is batched: the file
// syncs of many files done, their renames not yet; renames done, their
// directory's fsync not yet; between the directory fsyncs of one batch.
// PowerFS cuts by itself the moment the chosen operation takes effect
// (PowerFSOptions.CutAfter), at a third and at two thirds of the count an
// uncut run makes, so the cut lands in that window every time, not by
// chance. The same checks as TestPowerCut hold: no final name holds
// anything but the source, everything reported done is durable, and the
// re-run finishes.
func TestPowerCutSmallBatch(t *testing.T) {
	requireFUSE(t)
	work := workDir(t, 64<<20)
	srcs := &cutSources{tree: filepath.Join(work, "tree")}
	srcs.treeWant = smallFileTree(t, srcs.tree, 4, 40)

	scs := []cutScenario{{mode: "transfer", jobs: 64}}
	if fullRun() {
		scs = append(scs,
			cutScenario{mode: "transfer", jobs: 64, fallback: true},
			cutScenario{mode: "full", jobs: 64, write: "direct"},
			cutScenario{mode: "source", jobs: 64, write: "buffered", directIO: true})
	}
	for _, sc := range scs {
		total := countSyncs(t, srcs, sc)
		t.Logf("%v: an uncut run makes %v", sc, total)
		if total["fsync"] < len(srcs.treeWant) {
			t.Errorf("%v: an uncut run makes %d file syncs for %d files", sc, total["fsync"], len(srcs.treeWant))
		}
		for _, kind := range []string{"fsync", "rename", "fsyncdir"} {
			if total[kind] < 3 {
				t.Errorf("%v: an uncut run makes %d %s operations, too few to cut inside: %v", sc, total[kind], kind, total)
				continue
			}
			for _, n := range []int{total[kind] / 3, total[kind] * 2 / 3} {
				when := cutMoment{after: kind, afterN: n}
				running, _, problems := cutTrial(t, srcs, sc, nil, when)
				if running {
					t.Errorf("%v, cut at %v: the run did not end after the cut", sc, when)
				}
				for _, p := range problems {
					t.Errorf("%v, cut at %v: %s", sc, when, p)
				}
			}
		}
	}
}

// countSyncs runs sc on a PowerFS without a cut and returns the number of
// file syncs ("fsync": fsync and fdatasync), directory fsyncs and renames
// the filesystem saw.
func countSyncs(t *testing.T, srcs *cutSources, sc cutScenario) map[string]int {
	t.Helper()
	p := mountPowerFS(t, PowerFSOptions{DirectIO: sc.directIO}, nil)
	src, _ := srcs.src(sc)
	r := runCVV(t, runOpts{}, sc.args(src, filepath.Join(p.Mountpoint, "dst"))...)
	if r.Code != 0 {
		t.Fatalf("uncut run %v: %v", sc, r)
	}
	counts, err := p.Cut()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Unmount(); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, f := range strings.Fields(counts) {
		var k string
		var n int
		name, val, _ := strings.Cut(f, "=")
		if _, err := fmt.Sscan(val, &n); err != nil {
			t.Fatalf("sync counts %q: %v", counts, err)
		}
		k = name
		if k == "fdatasync" {
			k = "fsync"
		}
		got[k] += n
	}
	return got
}

// smallFileTree writes dirs directories of files small files each (2 B
// to 8 KiB of random data) under root and returns the tree (treeFiles).
func smallFileTree(t *testing.T, root string, dirs, files int) map[string]string {
	t.Helper()
	for d := range dirs {
		for i := range files {
			size := int64(1+(d*files+i)*997%8192) + 1
			writeRandom(t, filepath.Join(root, fmt.Sprintf("d%d", d), fmt.Sprintf("f%03d.dat", i)), size, uint64(d*100+i))
		}
	}
	return treeFiles(t, root)
}
