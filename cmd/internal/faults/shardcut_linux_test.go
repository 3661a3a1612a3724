package faults

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cvv-project/cvv/hashing"
	"github.com/cvv-project/cvv/hashing/manifest"
)

// TestPowerCutShardMerge cuts the power while the last shard of a
// sharded job (--shard 1/2) finishes: as it merges the parts into the
// hash lists, removes the job's state directory and gives the directories
// their modes and times, and at random moments of its run. Whatever the
// cut leaves must be right (every final file the source's, everything
// reported durable, hash lists absent or valid). The job is finished
// when its state directory is gone: every file, hash lists naming every
// file, the directories' modes and times. Until then, running the cut
// shard again, as a scheduler retries a failed task, must finish it.
func TestPowerCutShardMerge(t *testing.T) {
	requireFUSE(t)
	requireTool(t, "xmllint")
	work := workDir(t, 64<<20)
	src := filepath.Join(work, "tree")
	want := buildTree(t, src, treeSpec{Large: 1, LargeSize: 1 << 20, Small: 24})
	past := time.Now().Add(-30 * time.Hour).Truncate(time.Second).Add(123456789)
	for _, d := range []string{"small/d1", "small", ""} {
		if err := os.Chtimes(filepath.Join(src, d), past, past); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"CVV_TEST_THROTTLE=2ms"}
	args := func(k int, dst string) []string {
		return []string{"--json", "--shard", fmt.Sprintf("%d/2", k), "--hash-file", "sums,mhl", src, dst}
	}
	moments := []cutMoment{{event: "hashfile"}, {event: "summary"}}
	span := shardSpan(t, env, args)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))
	for range cutTrialCount() {
		moments = append(moments, cutMoment{delay: time.Duration(rng.Int64N(int64(span)))})
	}
	for _, when := range moments {
		t.Run(when.String(), func(t *testing.T) {
			p := mountPowerFS(t, PowerFSOptions{}, nil)
			dst := filepath.Join(p.Mountpoint, "dst")
			first := eventLog{}
			cmd := cvvCmd(t, runOpts{Env: env}, args(0, dst)...)
			cmd.Stdout = &first
			if err := cmd.Run(); err != nil {
				t.Fatalf("shard 0/2: %v\n%s", err, first.text())
			}
			out := cutRun(t, p, when, env, args(1, dst))
			durable := filepath.Join(p.Durable, "dst")
			c := &cutCheck{t: t, want: want, mnt: p.Mountpoint, durable: p.Durable}
			c.finalFiles(durable)
			c.reported(append(first.events(), out.events()...))
			c.hashLists(durable, false)
			// The job is finished once its state directory is gone;
			// until then the shard run again must finish it.
			if states, _ := filepath.Glob(filepath.Join(durable, ".cvv-shard-*")); len(states) > 0 {
				if r := runCVV(t, runOpts{}, args(1, durable)...); r.Code != 0 {
					c.addf("shard 1/2 run again after the cut: %v", r)
				}
			}
			c.jobDone(src, durable)
			for _, p := range c.problems {
				t.Error(p)
			}
			if t.Failed() {
				t.Logf("output of shard 1/2, cut at %v:\n%s", when, out.text())
			}
		})
	}
}

// sumsComplete: root has a sums list naming every file (each one's hash
// is checked by hashLists); what says where, for the problems.
func (c *cutCheck) sumsComplete(what, root string) {
	alg := hashing.XXH3
	f, err := os.Open(manifest.FileName(root, manifest.Sums, alg))
	if err != nil {
		c.addf("%s: no sums list: %v", what, err)
		return
	}
	defer f.Close()
	list, err := manifest.ParseSums(f, &alg)
	switch {
	case err != nil:
		c.addf("%s: sums list: %v", what, err)
	case len(list.Sums) != len(c.want):
		c.addf("%s: the sums list names %d files, want %d", what, len(list.Sums), len(c.want))
	}
}

// shardSpan returns how long shard 1/2 of an uncut job runs after shard
// 0/2 is done.
func shardSpan(t *testing.T, env []string, args func(k int, dst string) []string) time.Duration {
	t.Helper()
	p := mountPowerFS(t, PowerFSOptions{}, nil)
	dst := filepath.Join(p.Mountpoint, "dst")
	if r := runCVV(t, runOpts{Env: env}, args(0, dst)...); r.Code != 0 {
		t.Fatalf("uncut shard 0/2: %v", r)
	}
	start := time.Now()
	if r := runCVV(t, runOpts{Env: env}, args(1, dst)...); r.Code != 0 {
		t.Fatalf("uncut shard 1/2: %v", r)
	}
	span := time.Since(start)
	if err := p.Unmount(); err != nil {
		t.Fatal(err)
	}
	return span
}

// cutRun runs cvv with args on p and cuts the power at the moment when;
// it returns what cvv printed.
func cutRun(t *testing.T, p *PowerFS, when cutMoment, env, args []string) *eventLog {
	t.Helper()
	out := &eventLog{watch: when.event, seen: make(chan struct{})}
	cmd := cvvCmd(t, runOpts{Env: env}, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	var timer <-chan time.Time
	if when.event == "" {
		timer = time.After(when.delay)
	}
	select {
	case <-done:
	case <-timer:
	case <-out.seen:
	}
	if _, err := p.Cut(); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Kill()
	<-done
	if err := p.Unmount(); err != nil {
		t.Fatal(err)
	}
	return out
}

// jobDone: the copy of the sharded job in root is finished: every file
// the source's, one sums list naming every file, a valid ASC MHL history,
// the directories' modes and mtimes, and no state directory left.
func (c *cutCheck) jobDone(src, root string) {
	got := treeFiles(c.t, root)
	for rel, h := range c.want {
		if got[rel] != h {
			c.addf("job run again: %s missing or not the source", rel)
		}
	}
	c.sumsComplete("job run again", root)
	if err := validateMHL(root); err != nil {
		c.addf("job run again: ASC MHL history: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(root, ".cvv-shard-*")); len(left) > 0 {
		c.addf("job run again: state directories left: %q", left)
	}
	c.dirAttrs(src, root)
}
