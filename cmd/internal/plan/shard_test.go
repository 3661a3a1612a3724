package plan

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/cvv-project/cvv/cmd/internal/usage"
)

func TestParseShard(t *testing.T) {
	for in, want := range map[string]Shard{"0/1": {0, 1}, "3/16": {3, 16}, " 15/16 ": {15, 16}} {
		got, err := ParseShard(in)
		if err != nil || got != want {
			t.Errorf("ParseShard(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "1", "16/16", "-1/4", "1/0", "a/b", "1/4/5", "0/65537"} {
		if _, err := ParseShard(in); !errors.Is(err, usage.ErrUsage) {
			t.Errorf("ParseShard(%q): %v, want a usage error", in, err)
		}
	}
}

func TestShardFromEnv(t *testing.T) {
	cases := []struct {
		name  string
		env   map[string]string
		count int
		want  Shard
		err   string // part of the error; "" for none
	}{
		{"slurm from 0", map[string]string{EnvSlurmTaskID: "5", EnvSlurmTaskCount: "16", EnvSlurmTaskMin: "0"}, 0, Shard{5, 16}, ""},
		{"slurm from 1", map[string]string{EnvSlurmTaskID: "1", EnvSlurmTaskCount: "16", EnvSlurmTaskMin: "1"}, 0, Shard{0, 16}, ""},
		{"slurm last from 1", map[string]string{EnvSlurmTaskID: "16", EnvSlurmTaskCount: "16", EnvSlurmTaskMin: "1"}, 0, Shard{15, 16}, ""},
		{"slurm step", map[string]string{EnvSlurmTaskID: "6", EnvSlurmTaskCount: "4", EnvSlurmTaskMin: "0", EnvSlurmTaskStep: "2"}, 0, Shard{3, 4}, ""},
		{"slurm no min", map[string]string{EnvSlurmTaskID: "2", EnvSlurmTaskCount: "4"}, 0, Shard{2, 4}, ""},
		{"slurm with agreeing count", map[string]string{EnvSlurmTaskID: "2", EnvSlurmTaskCount: "4"}, 4, Shard{2, 4}, ""},
		{"slurm count differs", map[string]string{EnvSlurmTaskID: "2", EnvSlurmTaskCount: "4"}, 8, Shard{}, "--shard-count 8 differs"},
		{"slurm no count", map[string]string{EnvSlurmTaskID: "2"}, 0, Shard{}, EnvSlurmTaskCount},
		{"slurm list", map[string]string{EnvSlurmTaskID: "7", EnvSlurmTaskCount: "3", EnvSlurmTaskMin: "1"}, 0, Shard{}, "cannot be numbered"},
		{"slurm garbage", map[string]string{EnvSlurmTaskID: "x", EnvSlurmTaskCount: "3"}, 0, Shard{}, "not a non-negative integer"},
		{"k8s", map[string]string{EnvK8sIndex: "3"}, 8, Shard{3, 8}, ""},
		{"k8s no count", map[string]string{EnvK8sIndex: "3"}, 0, Shard{}, "--shard-count"},
		{"k8s index too big", map[string]string{EnvK8sIndex: "8"}, 8, Shard{}, "not below"},
		{"openmpi", map[string]string{EnvOMPIRank: "1", EnvOMPISize: "2"}, 0, Shard{1, 2}, ""},
		{"pmi", map[string]string{EnvPMIRank: "0", EnvPMISize: "3"}, 0, Shard{0, 3}, ""},
		{"pmi no size", map[string]string{EnvPMIRank: "0"}, 0, Shard{}, "do not make a rank"},
		{"openmpi and pmi agree", map[string]string{EnvOMPIRank: "1", EnvOMPISize: "2", EnvPMIRank: "1", EnvPMISize: "2"}, 0, Shard{1, 2}, ""},
		{"slurm and pmi differ", map[string]string{EnvSlurmTaskID: "1", EnvSlurmTaskCount: "4", EnvPMIRank: "0", EnvPMISize: "2"}, 0, Shard{}, "two shards"},
		{"nothing", nil, 0, Shard{}, "no scheduler environment"},
	}
	for _, c := range cases {
		got, err := ShardFromEnv(func(k string) string { return c.env[k] }, c.count)
		switch {
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("%s: got %v, %v; want %v", c.name, got, err, c.want)
		case c.err != "" && (!errors.Is(err, usage.ErrUsage) || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: got %v, %v; want a usage error containing %q", c.name, got, err, c.err)
		}
	}
}

// shardTestTree is a tree of n files of random sizes (a few big ones),
// with hard links and symlinks.
func shardTestTree(n int, seed uint64) *Tree {
	r := rand.New(rand.NewPCG(seed, 1))
	t := &Tree{Root: "/src", IsDir: true, Dirs: []Entry{{Kind: Dir}}, Files: &FileList{}}
	for k := range n {
		size := r.Int64N(1 << 20)
		if r.IntN(50) == 0 {
			size = r.Int64N(4 << 30)
		}
		t.Files.Add(Entry{Rel: fmt.Sprintf("d%d/f%05d", k%7, k), Size: size, Kind: File})
		t.Bytes += size
		if k%97 == 0 {
			t.HardLinks = append(t.HardLinks, HardLink{Entry: Entry{Rel: fmt.Sprintf("links/h%05d", k), Size: size}, File: k})
		}
		if k%31 == 0 {
			t.Links = append(t.Links, Link{Entry: Entry{Rel: fmt.Sprintf("s%05d", k), Kind: Symlink}, Target: "x"})
		}
	}
	return t
}

// Every file, hard link and symlink falls to exactly one shard; the
// shards' weights are within one file of each other; hard links go with
// their file; the same tree deals the same way every time; and the
// fingerprint is the same for every shard.
func TestShardTreePartition(t *testing.T) {
	for _, n := range []int{1, 2, 3, 16, 100} {
		tree := shardTestTree(2000, uint64(n))
		files := map[string]int{}
		links := map[string]int{}
		hard := map[string]int{}
		var loads []int64
		var maxW int64
		treeFiles := entries(t, tree)
		for _, e := range treeFiles {
			maxW = max(maxW, e.Size+FileWeight)
		}
		var fp string
		for i := range n {
			part, seq, f, err := ShardTree(tree, Shard{i, n})
			if err != nil {
				t.Fatal(err)
			}
			again, seq2, _, err := ShardTree(tree, Shard{i, n})
			if err != nil {
				t.Fatal(err)
			}
			partFiles := entries(t, part)
			if !slices.Equal(seq, seq2) || again.Files.Len() != len(partFiles) {
				t.Fatalf("%d/%d: two deals of one tree differ", i, n)
			}
			if i == 0 {
				fp = f
			} else if f != fp {
				t.Errorf("%d/%d: fingerprint %s, shard 0 has %s", i, n, f, fp)
			}
			var load, bytes int64
			for k, e := range partFiles {
				files[e.Rel]++
				load += e.Size + FileWeight
				bytes += e.Size
				if treeFiles[seq[k]].Rel != e.Rel {
					t.Errorf("%d/%d: seq[%d] = %d names %s, not %s", i, n, k, seq[k], treeFiles[seq[k]].Rel, e.Rel)
				}
			}
			if bytes != part.Bytes {
				t.Errorf("%d/%d: Bytes %d, files add up to %d", i, n, part.Bytes, bytes)
			}
			for k, h := range part.HardLinks {
				hard[h.Rel]++
				if tree.HardLinks[seq[len(partFiles)+k]-len(treeFiles)].Rel != h.Rel {
					t.Errorf("%d/%d: hard link %s has the wrong seq", i, n, h.Rel)
				}
				if got := partFiles[h.File].Rel; "links/h"+strings.TrimPrefix(got[strings.IndexByte(got, '/')+1:], "f") != h.Rel {
					t.Errorf("%d/%d: hard link %s points at %s", i, n, h.Rel, got)
				}
			}
			for _, l := range part.Links {
				links[l.Rel]++
			}
			if len(part.Dirs) != len(tree.Dirs) {
				t.Errorf("%d/%d: %d dirs, want all %d", i, n, len(part.Dirs), len(tree.Dirs))
			}
			loads = append(loads, load)
		}
		for _, e := range treeFiles {
			if files[e.Rel] != 1 {
				t.Errorf("n=%d: %s dealt %d times", n, e.Rel, files[e.Rel])
			}
		}
		for _, h := range tree.HardLinks {
			if hard[h.Rel] != 1 {
				t.Errorf("n=%d: hard link %s dealt %d times", n, h.Rel, hard[h.Rel])
			}
		}
		for _, l := range tree.Links {
			if links[l.Rel] != 1 {
				t.Errorf("n=%d: symlink %s dealt %d times", n, l.Rel, links[l.Rel])
			}
		}
		if spread := slices.Max(loads) - slices.Min(loads); spread > maxW {
			t.Errorf("n=%d: loads %v spread %d, more than the heaviest file %d", n, loads, spread, maxW)
		}
	}
}

// A changed tree (one file more) changes the fingerprint, so shards that
// walked different trees are caught at the merge.
func TestShardFingerprint(t *testing.T) {
	a := shardTestTree(100, 1)
	b := shardTestTree(100, 1)
	b.Files.Add(Entry{Rel: "new", Size: 1})
	_, _, fa, _ := ShardTree(a, Shard{0, 2})
	_, _, fb, _ := ShardTree(b, Shard{0, 2})
	if fa == fb {
		t.Error("a tree with one more file has the same fingerprint")
	}
}
