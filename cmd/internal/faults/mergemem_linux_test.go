package faults

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cvv-project/cvv/hashing"
	"github.com/cvv-project/cvv/hashing/manifest"
)

// writeShardParts writes, for the tree of empty files at root, the
// partial records of a job of count shards (the files dealt round robin,
// as --shard deals them by bytes), in a state directory of root, as the
// shards of a sharded copy leave them when the last one dies before it
// merges them.
func writeShardParts(t *testing.T, root string, count int) {
	t.Helper()
	state := ".cvv-shard-memtest"
	if err := os.Mkdir(filepath.Join(root, state), 0o700); err != nil {
		t.Fatal(err)
	}
	alg := hashing.XXH64
	empty := alg.Sum(nil)
	start := time.Now()
	parts := make([]*manifest.Partial, count)
	for k := range parts {
		parts[k] = &manifest.Partial{Job: "memtest", Shard: k, Count: count, Formats: []string{"sums", "xxh", "mhl"}, Alg: alg.String(),
			Start: start, Process: "transfer", Host: "shard", Files: []manifest.PartialFile{}}
	}
	var dirs []string
	seq := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			if rel == state {
				return filepath.SkipDir
			}
			dirs = append(dirs, filepath.ToSlash(rel))
			return nil
		}
		part := parts[seq%count]
		part.Files = append(part.Files, manifest.PartialFile{Seq: seq, File: manifest.File{Path: filepath.ToSlash(rel), Hash: empty}})
		seq++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		p.Dirs = dirs
		if err := manifest.WritePartial(root, state, p); err != nil {
			t.Fatal(err)
		}
	}
}

// TestMergeMemoryFlat: cvv manifest merge reads the partial records of a
// sharded job as streams into a spool sorted through temporary files, so
// its peak RSS does not grow with the number of files: 16 parts of a tree
// four times larger cost at most a few MiB more (before, every part was
// read whole and the merged record held every file). With
// CVV_FAULTS=full the larger tree has a million files and the merge must
// stay under 64 MiB.
func TestMergeMemoryFlat(t *testing.T) {
	small, large := 5000, 20000
	if fullRun() {
		small, large = 50000, 1000000
	}
	work := workDir(t, 4<<30)
	var rss [2]int64
	for i, n := range []int{small, large} {
		dst := filepath.Join(work, fmt.Sprint(n))
		makeScaleTree(t, dst, n)
		writeShardParts(t, dst, 16)
		code, peak, wall := timedRSS(t, 30*time.Minute, "manifest", "merge", dst)
		if code != 0 {
			t.Fatalf("cvv manifest merge of %d files: exit %d", n, code)
		}
		for _, name := range []string{filepath.Base(dst) + ".xxh64", filepath.Base(dst) + ".xxh64.xxh", manifest.HistoryDir} {
			if _, err := os.Stat(filepath.Join(dst, name)); err != nil {
				t.Errorf("after the merge: %v", err)
			}
		}
		rss[i] = peak
		t.Logf("cvv manifest merge, 16 parts, %d files: peak RSS %.1f MiB, %v (%.0f files/s)", n, float64(peak)/(1<<20), wall.Round(time.Millisecond), float64(n)/wall.Seconds())
		if err := os.RemoveAll(dst); err != nil {
			t.Fatal(err)
		}
	}
	if growth := rss[1] - rss[0]; growth > 4<<20 {
		t.Errorf("peak RSS grew by %.1f MiB from %d to %d files: something is kept per file", float64(growth)/(1<<20), small, large)
	}
	if rss[1] > 64<<20 {
		t.Errorf("peak RSS %.1f MiB for %d files, want <= 64 MiB", float64(rss[1])/(1<<20), large)
	}
}
