package plan

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/cvv-project/cvv/cmd/internal/usage"
)

// Shard is one part of a job that several processes (on one host or many)
// run at the same time, each on its share of the files: Index is this
// process's part, 0 to Count-1.
//
// The partition (Partitioner) is a pure function of the walked tree: every
// shard walks the whole source (metadata only) and keeps the files that
// fall to it, so the shards of a job agree without talking to each other.
type Shard struct {
	Index, Count int
}

// Sharded reports whether s splits the job (Count > 1 or an explicit 0/1).
func (s Shard) Sharded() bool { return s.Count > 0 }

// String is I/N, as --shard takes it.
func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// MaxShards bounds N: a job of more shards than this is a mistake.
const MaxShards = 65536

// ParseShard parses I/N (0 <= I < N <= MaxShards).
func ParseShard(s string) (Shard, error) {
	i, n, ok := strings.Cut(strings.TrimSpace(s), "/")
	if ok {
		idx, err1 := strconv.Atoi(i)
		cnt, err2 := strconv.Atoi(n)
		if err1 == nil && err2 == nil && cnt >= 1 && cnt <= MaxShards && idx >= 0 && idx < cnt {
			return Shard{Index: idx, Count: cnt}, nil
		}
	}
	return Shard{}, usage.Errorf("bad --shard %q (want I/N with 0 <= I < N <= %d, or auto)", s, MaxShards)
}

// The environment variables the schedulers set, read by ShardFromEnv.
const (
	EnvSlurmTaskID    = "SLURM_ARRAY_TASK_ID"
	EnvSlurmTaskCount = "SLURM_ARRAY_TASK_COUNT"
	EnvSlurmTaskMin   = "SLURM_ARRAY_TASK_MIN"
	EnvSlurmTaskStep  = "SLURM_ARRAY_TASK_STEP"
	EnvK8sIndex       = "JOB_COMPLETION_INDEX"
	EnvOMPIRank       = "OMPI_COMM_WORLD_RANK"
	EnvOMPISize       = "OMPI_COMM_WORLD_SIZE"
	EnvPMIRank        = "PMI_RANK"
	EnvPMISize        = "PMI_SIZE"
)

// shardSource is what one scheduler's environment says: its shard, or
// nothing (ok false), or an error (set but malformed).
type shardSource struct {
	name  string
	shard Shard
	// noCount: the scheduler gives the index only (Kubernetes).
	noCount bool
}

// ShardFromEnv finds this process's shard from the environment of the
// scheduler that started it (getenv is os.Getenv in the CLI), for
// --shard auto; count is --shard-count, 0 when not given:
//
//   - Slurm job arrays: SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT; the
//     index is (ID - SLURM_ARRAY_TASK_MIN) / SLURM_ARRAY_TASK_STEP, so
//     --array=1-16 or 0-30:2 give 0 to N-1.
//   - Kubernetes Indexed Jobs: JOB_COMPLETION_INDEX, with the count from
//     --shard-count (the pod is not told .spec.completions).
//   - MPI launchers: OMPI_COMM_WORLD_RANK/SIZE (Open MPI), PMI_RANK/SIZE
//     (MPICH, Intel MPI, Slurm's srun with PMI).
//
// Every scheduler whose variables are set must say the same shard (and
// agree with count when given): two that differ, a variable that is set
// but malformed, or none at all is a usage error, never a guess.
func ShardFromEnv(getenv func(string) string, count int) (Shard, error) {
	var found []shardSource
	for _, read := range []func(func(string) string) (shardSource, bool, error){slurmShard, k8sShard, mpiShard(EnvOMPIRank, EnvOMPISize), mpiShard(EnvPMIRank, EnvPMISize)} {
		src, ok, err := read(getenv)
		if err != nil {
			return Shard{}, err
		}
		if !ok {
			continue
		}
		if src.noCount {
			if count == 0 {
				return Shard{}, usage.Errorf("%s is set but the number of shards is not: give --shard-count N (the Job's completions)", src.name)
			}
			src.shard.Count = count
			if src.shard.Index >= count {
				return Shard{}, usage.Errorf("%s=%d is not below --shard-count %d", src.name, src.shard.Index, count)
			}
		}
		found = append(found, src)
	}
	if len(found) == 0 {
		return Shard{}, usage.Errorf("--shard auto: no scheduler environment found (%s, %s or %s/%s); give --shard I/N", EnvSlurmTaskID, EnvK8sIndex, EnvOMPIRank, EnvPMIRank)
	}
	s := found[0].shard
	for _, f := range found[1:] {
		if f.shard != s {
			return Shard{}, usage.Errorf("the environment says two shards: %s from %s, %s from %s; give --shard I/N", s, found[0].name, f.shard, f.name)
		}
	}
	if count != 0 && count != s.Count {
		return Shard{}, usage.Errorf("--shard-count %d differs from the %d shards %s says", count, s.Count, found[0].name)
	}
	return s, nil
}

// envInt reads the integer variable name; ok is false when it is unset.
func envInt(getenv func(string) string, name string) (n int, ok bool, err error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return 0, false, nil
	}
	n, err = strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, true, usage.Errorf("%s=%q is not a non-negative integer", name, v)
	}
	return n, true, nil
}

// envInts reads the variables names; set is how many are set.
func envInts(getenv func(string) string, names ...string) (vals []int, set int, err error) {
	vals = make([]int, len(names))
	for i, name := range names {
		v, ok, err := envInt(getenv, name)
		if err != nil {
			return nil, 0, err
		}
		if ok {
			vals[i] = v
			set++
		}
	}
	return vals, set, nil
}

func slurmShard(getenv func(string) string) (shardSource, bool, error) {
	v, _, err := envInts(getenv, EnvSlurmTaskID, EnvSlurmTaskCount, EnvSlurmTaskMin, EnvSlurmTaskStep)
	if err != nil {
		return shardSource{}, false, err
	}
	if getenv(EnvSlurmTaskID) == "" {
		return shardSource{}, false, nil
	}
	id, count, lo, step := v[0], v[1], v[2], v[3]
	if getenv(EnvSlurmTaskCount) == "" || count < 1 {
		return shardSource{}, false, usage.Errorf("%s is set but %s is not a positive count; give --shard I/N", EnvSlurmTaskID, EnvSlurmTaskCount)
	}
	if getenv(EnvSlurmTaskMin) == "" {
		lo = 0
	}
	if step < 1 {
		step = 1
	}
	idx := (id - lo) / step
	if id < lo || (id-lo)%step != 0 || idx >= count {
		return shardSource{}, false, usage.Errorf("%s=%d does not fall in an array of %d tasks from %d in steps of %d (a list such as --array=1,5,7 cannot be numbered): give --shard I/N", EnvSlurmTaskID, id, count, lo, step)
	}
	return shardSource{name: "Slurm (" + EnvSlurmTaskID + ")", shard: Shard{Index: idx, Count: count}}, true, nil
}

func k8sShard(getenv func(string) string) (shardSource, bool, error) {
	idx, ok, err := envInt(getenv, EnvK8sIndex)
	if err != nil || !ok {
		return shardSource{}, false, err
	}
	return shardSource{name: "Kubernetes (" + EnvK8sIndex + ")", shard: Shard{Index: idx}, noCount: true}, true, nil
}

func mpiShard(rankVar, sizeVar string) func(func(string) string) (shardSource, bool, error) {
	return func(getenv func(string) string) (shardSource, bool, error) {
		v, set, err := envInts(getenv, rankVar, sizeVar)
		if err != nil || set == 0 {
			return shardSource{}, false, err
		}
		if set != 2 || v[1] < 1 || v[0] >= v[1] {
			return shardSource{}, false, usage.Errorf("%s=%q and %s=%q do not make a rank below a size", rankVar, getenv(rankVar), sizeVar, getenv(sizeVar))
		}
		return shardSource{name: "MPI (" + rankVar + ")", shard: Shard{Index: v[0], Count: v[1]}}, true, nil
	}
}

// FileWeight is the weight of a file in the partition on top of its size:
// what a file costs in open, fallocate, fdatasync, rename and close, so
// that a shard of many small files does not also get the big ones.
const FileWeight = 64 << 10

// Partitioner deals the files of a tree to the shards, in walk order: each
// file goes to the shard with the least weight so far (its size plus
// FileWeight per file), a tie to the lowest index. It depends on nothing
// but the sizes in walk order (path order, see Scan), so every shard, on
// any host, in any run over the same tree, deals the same way; and it
// needs one counter per shard, so a streaming walk can deal as it goes.
// No shard ends more than one file's weight above the mean.
type Partitioner struct {
	load []int64
}

// NewPartitioner returns a Partitioner over n shards.
func NewPartitioner(n int) *Partitioner {
	return &Partitioner{load: make([]int64, n)}
}

// Next returns the shard of the next file in walk order, of size bytes.
func (p *Partitioner) Next(size int64) int {
	best := 0
	for k, l := range p.load {
		if l < p.load[best] {
			best = k
		}
	}
	p.load[best] += max(size, 0) + FileWeight
	return best
}

// ShardTree returns the part of t that falls to shard s: the files the
// Partitioner deals it, the further paths of those files (HardLinks,
// renumbered), and every Count-th symlink from the s.Index-th. Dirs,
// Specials and Problems are kept whole: every shard makes every directory
// (mkdir is idempotent) so that its files have one. seq[k] is the index in
// t.Files of the part's file k (hard link k of the part: len(t.Files) plus
// its index in t.HardLinks), the order a single run lists them in.
// fingerprint identifies the walk (every path, the files' sizes): shards
// that walked different trees have different fingerprints.
func ShardTree(t *Tree, s Shard) (part *Tree, seq []int, fingerprint string, err error) {
	p := NewPartitioner(s.Count)
	part = &Tree{Root: t.Root, IsDir: t.IsDir, Dirs: t.Dirs, Specials: t.Specials, Problems: t.Problems, Excluded: t.Excluded, opts: t.opts,
		Files: &FileList{}}
	h := sha256.New()
	// index in t.Files -> index in part.Files, of the files with further
	// paths (HardLinks) only
	local := make(map[int]int)
	for _, hl := range t.HardLinks {
		local[hl.File] = -1
	}
	var b [8]byte
	for k, e := range t.Files.All() {
		h.Write([]byte(e.Rel))
		binary.LittleEndian.PutUint64(b[:], uint64(e.Size))
		h.Write([]byte{0})
		h.Write(b[:])
		if p.Next(e.Size) != s.Index {
			continue
		}
		if _, ok := local[k]; ok {
			local[k] = part.Files.Len()
		}
		if err := part.Files.Add(e); err != nil {
			part.Close()
			return nil, nil, "", err
		}
		part.Bytes += e.Size
		seq = append(seq, k)
	}
	if err := errors.Join(t.Files.Err(), part.Files.finish()); err != nil {
		part.Close()
		return nil, nil, "", err
	}
	for k, hl := range t.HardLinks {
		if j := local[hl.File]; j >= 0 {
			hl.File = j
			part.HardLinks = append(part.HardLinks, hl)
			seq = append(seq, t.Files.Len()+k)
		}
	}
	for _, d := range t.Dirs {
		h.Write([]byte(d.Rel))
		h.Write([]byte{1})
	}
	for k, l := range t.Links {
		h.Write([]byte(l.Rel))
		h.Write([]byte{2})
		if k%s.Count == s.Index {
			part.Links = append(part.Links, l)
		}
	}
	return part, seq, hex.EncodeToString(h.Sum(nil)[:16]), nil
}
