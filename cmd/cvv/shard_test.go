//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cvv-project/cvv/internal/atomicfile"
)

// shardSource makes a tree with what a copy must carry: files from empty
// to a few MiB in nested directories, a read-only directory, directory
// mtimes in the past, symlinks and hard links.
func shardSource(t *testing.T, dir string) string {
	t.Helper()
	src := filepath.Join(dir, "card")
	var dirs []string
	for d := range 6 {
		for s := range 3 {
			p := filepath.Join(src, fmt.Sprintf("CLIP%02d", d), fmt.Sprintf("sub%d", s))
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			dirs = append(dirs, p)
		}
	}
	size := 1
	for k := range 240 {
		p := filepath.Join(dirs[k%len(dirs)], fmt.Sprintf("F%04d.bin", k))
		size = (size*7 + 1013) % (96 << 10)
		if k%60 == 0 {
			size = 3<<20 + k
		}
		if k%50 == 7 {
			size = 0
		}
		data := bytes.Repeat([]byte{byte(k), byte(k >> 8), 'x'}, size/3+1)[:size]
		if err := os.WriteFile(p, data, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	for k, target := range []string{"../sub1", "F0000.bin", "/nowhere"} {
		if err := os.Symlink(target, filepath.Join(dirs[k], fmt.Sprintf("link%d", k))); err != nil {
			t.Fatal(err)
		}
	}
	for k := range 5 {
		if err := os.Link(filepath.Join(dirs[k], fmt.Sprintf("F%04d.bin", k)), filepath.Join(dirs[len(dirs)-1-k], fmt.Sprintf("hard%d.bin", k))); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)
	for k, d := range append(dirs, filepath.Join(src, "CLIP00"), filepath.Join(src, "CLIP03"), src) {
		if err := os.Chtimes(d, old, old.Add(time.Duration(k)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(src, "CLIP03"), 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(filepath.Join(src, "CLIP03"), 0o755) })
	return src
}

// singleRun copies src to dir/day1 in one run, as the sharded jobs below
// do in N processes, and returns the copy.
func singleRun(t *testing.T, src, dir string, args ...string) string {
	t.Helper()
	dst := filepath.Join(dir, "single", "day1")
	cmd := cvvCommand(engines(t)[0], append(append([]string{"--mkpath", "--no-report"}, args...), src, dst)...)
	cmd.Env = append(cmd.Env, "CVV_TEST_THROTTLE=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("single run: %v\n%s", err, out)
	}
	return dst
}

// shardProcs starts the commands together, as a scheduler starts the
// tasks of an array, and waits for them all; out[k] is what command k
// printed.
func shardProcs(t *testing.T, cmds []*exec.Cmd) (out []string) {
	t.Helper()
	bufs := make([]bytes.Buffer, len(cmds))
	for k, c := range cmds {
		c.Stdout, c.Stderr = &bufs[k], &bufs[k]
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	var failed []string
	for k, c := range cmds {
		if err := c.Wait(); err != nil {
			failed = append(failed, fmt.Sprintf("process %d: %v\n%s", k, err, bufs[k].String()))
		}
		out = append(out, bufs[k].String())
	}
	if len(failed) > 0 {
		t.Fatalf("%d of %d processes failed:\n%s", len(failed), len(cmds), strings.Join(failed, "\n"))
	}
	return out
}

// sameCopies compares the copy of a sharded job with the single run's:
// the same entries with the same types, contents, modes, mtimes, link
// counts and link targets (directories, the root included); byte-identical
// sums and xxh lists; one ASC MHL generation each, both valid against the
// schemas, identical but for the creator information, hash dates and the
// directories' modification dates (the time of each run); nothing else in
// the sharded copy (no state directory, no temp file).
func sameCopies(t *testing.T, single, sharded string) {
	t.Helper()
	err := filepath.WalkDir(single, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(single, p)
		if rel == "ascmhl" || strings.HasPrefix(rel, "day1.") {
			return compareManifest(t, single, sharded, rel, d.IsDir())
		}
		a, _ := os.Lstat(p)
		b, err := os.Lstat(filepath.Join(sharded, rel))
		if err != nil {
			t.Errorf("%s: missing in the sharded copy: %v", rel, err)
			return nil
		}
		as, bs := a.Sys().(*syscall.Stat_t), b.Sys().(*syscall.Stat_t)
		if a.Mode() != b.Mode() || !a.ModTime().Equal(b.ModTime()) || a.Size() != b.Size() && !a.IsDir() || as.Nlink != bs.Nlink && !a.IsDir() {
			t.Errorf("%s: single run %v %v %d bytes %d links, sharded %v %v %d bytes %d links", rel, a.Mode(), a.ModTime(), a.Size(), as.Nlink, b.Mode(), b.ModTime(), b.Size(), bs.Nlink)
		}
		switch {
		case a.Mode()&fs.ModeSymlink != 0:
			x, _ := os.Readlink(p)
			y, _ := os.Readlink(filepath.Join(sharded, rel))
			if x != y {
				t.Errorf("%s: links to %q, sharded to %q", rel, x, y)
			}
		case a.Mode().IsRegular() && !sameFile(t, p, filepath.Join(sharded, rel)):
			t.Errorf("%s: contents differ", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	filepath.WalkDir(sharded, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(sharded, p)
		if rel == "ascmhl" {
			return fs.SkipDir // compared by compareManifest
		}
		if _, lerr := os.Lstat(filepath.Join(single, rel)); err == nil && lerr != nil {
			t.Errorf("%s: only in the sharded copy", rel)
		}
		return nil
	})
}

// The parts of an ASC MHL generation that say when and where it was made.
var (
	mhlCreator  = regexp.MustCompile(`(?s)<creatorinfo>.*</creatorinfo>`)
	mhlHashDate = regexp.MustCompile(` hashdate="[^"]*"`)
	mhlDirDate  = regexp.MustCompile(`<path lastmodificationdate="[^"]*">`)
)

// compareManifest compares the manifest rel (a sums or xxh list, or the
// ascmhl folder) of the two copies.
func compareManifest(t *testing.T, single, sharded, rel string, isDir bool) error {
	if !isDir {
		a, _ := os.ReadFile(filepath.Join(single, rel))
		b, err := os.ReadFile(filepath.Join(sharded, rel))
		if err != nil || !bytes.Equal(a, b) || len(a) == 0 {
			t.Errorf("%s differs (%v):\nsingle run:\n%s\nsharded:\n%s", rel, err, a, b)
		}
		return nil
	}
	var gens [2][]byte
	for k, root := range []string{single, sharded} {
		xmllintRoot(t, root)
		g, _ := filepath.Glob(filepath.Join(root, "ascmhl", "*.mhl"))
		if len(g) != 1 {
			t.Errorf("%s: %d ASC MHL generations, want 1", root, len(g))
			return fs.SkipDir
		}
		data, err := os.ReadFile(g[0])
		if err != nil {
			t.Fatal(err)
		}
		data = mhlCreator.ReplaceAll(data, nil)
		data = mhlHashDate.ReplaceAll(data, nil)
		gens[k] = mhlDirDate.ReplaceAll(data, []byte("<path>"))
	}
	if !bytes.Equal(gens[0], gens[1]) || !bytes.Contains(gens[0], []byte("<hash>")) {
		t.Errorf("the ASC MHL generations differ beyond their creator information and dates:\nsingle run:\n%s\nsharded:\n%s", gens[0], gens[1])
	}
	return fs.SkipDir
}

// xmllintRoot validates root's ASC MHL generations and chain against the
// official schemas.
func xmllintRoot(t *testing.T, root string) {
	t.Helper()
	if _, err := exec.LookPath("xmllint"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("xmllint is needed (CI is set): %v", err)
		}
		t.Log("xmllint not installed (apt-get install libxml2-utils): schema validation not done")
		return
	}
	xsd, _ := filepath.Abs("../../hashing/manifest/testdata/xsd")
	gens, _ := filepath.Glob(filepath.Join(root, "ascmhl", "*.mhl"))
	for _, g := range gens {
		if out, err := exec.Command("xmllint", "--noout", "--schema", filepath.Join(xsd, "ASCMHL.xsd"), g).CombinedOutput(); err != nil {
			t.Errorf("xmllint rejected %s: %v\n%s", g, err, out)
		}
	}
	chain := filepath.Join(root, "ascmhl", "ascmhl_chain.xml")
	if out, err := exec.Command("xmllint", "--noout", "--schema", filepath.Join(xsd, "ASCMHLDirectory.xsd"), chain).CombinedOutput(); err != nil {
		t.Errorf("xmllint rejected %s: %v\n%s", chain, err, out)
	}
}

// shardDone checks that out, what one shard printed, says it was shard
// want.
func shardDone(t *testing.T, task string, out, want string) {
	t.Helper()
	if !strings.Contains(out, "shard "+want+" done") {
		t.Errorf("%s: does not say it was shard %s:\n%s", task, want, out)
	}
}

// Issue 13: a 16-task Slurm array running docs/shard/cvv-array.sbatch (16
// processes started together, each with the environment Slurm gives an
// array task) copies the tree as one run does: the same tree, one sums
// list, one xxh list and one ASC MHL generation, identical but for
// creator information and dates.
func TestShardSlurmArray(t *testing.T) {
	script, err := os.ReadFile("../../docs/shard/cvv-array.sbatch")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^#SBATCH --array=(\d+)-(\d+)$`).FindSubmatch(script)
	if m == nil {
		t.Fatal("no #SBATCH --array=A-B line in the script")
	}
	lo, _ := strconv.Atoi(string(m[1]))
	hi, _ := strconv.Atoi(string(m[2]))
	n := hi - lo + 1
	if n != 16 || !bytes.Contains(script, []byte("cvv --shard auto --hash-file sums,xxh,mhl ")) {
		t.Fatalf("the script is not a 16-task array running cvv --shard auto --hash-file sums,xxh,mhl")
	}
	dir := t.TempDir()
	src := shardSource(t, dir)
	single := singleRun(t, src, dir, "--hash-file", "sums,xxh,mhl")
	sharded := filepath.Join(dir, "sharded", "day1")
	if err := os.Mkdir(filepath.Dir(sharded), 0o755); err != nil {
		t.Fatal(err)
	}
	var cmds []*exec.Cmd
	for id := lo; id <= hi; id++ {
		c := exec.Command("bash", "../../docs/shard/cvv-array.sbatch")
		c.Env = append(os.Environ(), "CVV_ENGINE="+engines(t)[0], "NO_COLOR=1", "SRC="+src, "DST="+sharded,
			"SLURM_ARRAY_JOB_ID=4242", "SLURM_ARRAY_TASK_ID="+strconv.Itoa(id), "SLURM_ARRAY_TASK_COUNT="+strconv.Itoa(n),
			"SLURM_ARRAY_TASK_MIN="+strconv.Itoa(lo), "SLURM_ARRAY_TASK_MAX="+strconv.Itoa(hi), "SLURM_ARRAY_TASK_STEP=1")
		cmds = append(cmds, c)
	}
	for k, out := range shardProcs(t, cmds) {
		shardDone(t, fmt.Sprintf("task %d", lo+k), out, fmt.Sprintf("%d/%d", k, n))
	}
	sameCopies(t, single, sharded)
}

// Issue 13: the Kubernetes Indexed Job of docs/shard/cvv-indexed-job.yaml,
// its container's command run once per completion index with
// JOB_COMPLETION_INDEX set as Kubernetes sets it, copies the tree as one
// run does.
func TestShardIndexedJob(t *testing.T) {
	manifest, err := os.ReadFile("../../docs/shard/cvv-indexed-job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	comp := regexp.MustCompile(`(?m)^  completions: (\d+)$`).FindSubmatch(manifest)
	command := regexp.MustCompile(`(?m)^ +command: (\[.*\])$`).FindSubmatch(manifest)
	if comp == nil || command == nil || !bytes.Contains(manifest, []byte("completionMode: Indexed")) {
		t.Fatal("the manifest has no completions, command or completionMode: Indexed")
	}
	n, _ := strconv.Atoi(string(comp[1]))
	var argv []string
	if err := json.Unmarshal(command[1], &argv); err != nil {
		t.Fatalf("command %s: %v", command[1], err)
	}
	if len(argv) < 3 || argv[0] != "cvv" || argv[len(argv)-2] != "/data/src" || argv[len(argv)-1] != "/data/dst" {
		t.Fatalf("command %q: want cvv ... /data/src /data/dst", argv)
	}
	dir := t.TempDir()
	src := shardSource(t, dir)
	var one []string // the command without --shard-count N: one run
	for k := 1; k < len(argv)-2; k++ {
		if argv[k] == "--shard-count" {
			k++
			continue
		}
		one = append(one, argv[k])
	}
	single := singleRun(t, src, dir, one...)
	sharded := filepath.Join(dir, "sharded", "day1")
	if err := os.Mkdir(filepath.Dir(sharded), 0o755); err != nil {
		t.Fatal(err)
	}
	var cmds []*exec.Cmd
	for k := range n {
		c := cvvCommand(engines(t)[0], append(slicesClone(argv[1:len(argv)-2]), src, sharded)...)
		c.Env = append(c.Env, "CVV_TEST_THROTTLE=0", "JOB_COMPLETION_INDEX="+strconv.Itoa(k))
		cmds = append(cmds, c)
	}
	for k, out := range shardProcs(t, cmds) {
		shardDone(t, fmt.Sprintf("pod %d", k), out, fmt.Sprintf("%d/%d", k, n))
	}
	sameCopies(t, single, sharded)
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }

// Issue 13: the shards of one job share the one-run-per-destination lock,
// and it still keeps everything else out: while they copy, an unrelated
// run, cvv verify and a shard of another job (another shard count) are
// refused at once with status 2; the job's copy is then complete.
func TestShardLock(t *testing.T) {
	eng := engines(t)[0]
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	// One big file for each of the two shards.
	makeBig(t, filepath.Join(src, "a.mov"), bigSize())
	makeBig(t, filepath.Join(src, "b.mov"), bigSize())
	dst := filepath.Join(dir, "dst")
	var shards []*exec.Cmd
	exited := make(chan struct{})
	bufs := make([]bytes.Buffer, 2)
	errs := make([]error, 2)
	for k := range 2 {
		c := cvvCommand(eng, "--block-size", "256K", "--shard", fmt.Sprintf("%d/2", k), "--hash-file", "sums,mhl", src, dst)
		c.Stdout, c.Stderr = &bufs[k], &bufs[k]
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		shards = append(shards, c)
	}
	go func() {
		for k, c := range shards {
			errs[k] = c.Wait()
		}
		close(exited)
	}()
	if !waitTemp(t, dst, exited) {
		t.Fatalf("the shards finished before the other runs started:\n%s\n%s", bufs[0].String(), bufs[1].String())
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-q", src, dst}, "is in use by another cvv run (pid "},
		{[]string{"verify", dst}, "is in use by another cvv run (pid "},
		{[]string{"-q", "--shard", "0/3", "--hash-file", "sums,mhl", src, dst}, "is in use by another sharded cvv job"},
	} {
		cmd := exec.Command("cvv", c.args...)
		cmd.Env = append(os.Environ(), "CVV_ENGINE="+eng)
		start := time.Now()
		out, err := cmd.CombinedOutput()
		if exitCode(err) != 2 || !bytes.Contains(out, []byte(c.want)) || time.Since(start) > 5*time.Second {
			t.Errorf("cvv %q while the shards run: %v after %v, want exit status 2 at once saying %q:\n%s", c.args, err, time.Since(start), c.want, out)
		}
	}
	<-exited
	for k, err := range errs {
		if err != nil {
			t.Fatalf("shard %d/2: %v\n%s", k, err, bufs[k].String())
		}
	}
	for _, name := range []string{"a.mov", "b.mov"} {
		if !sameFile(t, filepath.Join(src, name), filepath.Join(dst, name)) {
			t.Errorf("%s is not a copy of the source", name)
		}
	}
	if tmp := temps(dst); len(tmp) > 0 {
		t.Errorf("temp files left: %q", tmp)
	}
	if left, _ := filepath.Glob(filepath.Join(dst, ".cvv-shard-*")); len(left) > 0 {
		t.Errorf("state directories left: %q", left)
	}
	if out, err := exec.Command("cvv", "verify", dst).CombinedOutput(); err != nil {
		t.Errorf("cvv verify after the job: %v\n%s", err, out)
	}
}

// twoShards is a 2-shard job over shardSource's tree, with the single
// run's copy to compare with.
type twoShards struct {
	src, single, dst string
	eng              string
}

// newTwoShards makes the source and the single run's copy.
func newTwoShards(t *testing.T) *twoShards {
	t.Helper()
	dir := t.TempDir()
	j := &twoShards{eng: engines(t)[0], src: shardSource(t, dir)}
	j.single = singleRun(t, j.src, dir, "--hash-file", "sums,xxh,mhl")
	j.dst = filepath.Join(dir, "sharded", "day1")
	return j
}

// shard returns the command of shard k/2, with env added to its
// environment.
func (j *twoShards) shard(k int, env ...string) *exec.Cmd {
	c := cvvCommand(j.eng, "--mkpath", "--no-report", "--shard", fmt.Sprintf("%d/2", k), "--hash-file", "sums,xxh,mhl", j.src, j.dst)
	c.Env = append(append(c.Env, "CVV_TEST_THROTTLE=0"), env...)
	return c
}

// Issue 13: when the last shard dies before it merges the parts (killed
// while it waits for the merge lock), cvv manifest merge writes the one
// set of manifests a single run writes; while a part is missing it
// refuses with status 2 and names the shard to run again.
func TestManifestMerge(t *testing.T) {
	j := newTwoShards(t)
	single, dst, shard := j.single, j.dst, j.shard
	if out, err := shard(0).CombinedOutput(); err != nil || !strings.Contains(string(out), "shard 0/2 done; 1 of 2 shards done") {
		t.Fatalf("shard 0/2: %v\n%s", err, out)
	}
	merge := exec.Command("cvv", "manifest", "merge", dst)
	if out, err := merge.CombinedOutput(); exitCode(err) != 2 || !strings.Contains(string(out), "1 of 2 shards are done; run shard 1 again") {
		t.Errorf("cvv manifest merge with shard 1 missing: %v, want status 2 naming shard 1:\n%s", err, out)
	}
	states, _ := filepath.Glob(filepath.Join(dst, ".cvv-shard-*"))
	if len(states) != 1 {
		t.Fatalf("state directories %q, want one", states)
	}
	// Shard 1 writes its part, then waits for the merge lock this test
	// holds, and is killed there.
	lock, err := os.OpenFile(filepath.Join(states[0], "merge.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	last := shard(1)
	var out bytes.Buffer
	last.Stdout, last.Stderr = &out, &out
	if err := last.Start(); err != nil {
		t.Fatal(err)
	}
	part := filepath.Join(states[0], "shard-00001-of-00002.json")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(part); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("shard 1/2 wrote no part:\n%s", out.String())
		}
	}
	time.Sleep(100 * time.Millisecond) // now waiting for the lock
	last.Process.Kill()
	last.Wait()
	syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if g, _ := filepath.Glob(filepath.Join(dst, "ascmhl", "*.mhl")); len(g) != 0 {
		t.Fatalf("a generation was written before the merge: %q\n%s", g, out.String())
	}
	merge = exec.Command("cvv", "manifest", "merge", dst)
	if out, err := merge.CombinedOutput(); err != nil || !strings.Contains(string(out), "all 2 shards done: merged their records") {
		t.Fatalf("cvv manifest merge: %v\n%s", err, out)
	}
	for _, name := range []string{"day1.xxh3", "day1.xxh3.xxh"} {
		compareManifest(t, single, dst, name, false)
	}
	compareManifest(t, single, dst, "ascmhl", true)
	if left, _ := filepath.Glob(filepath.Join(dst, ".cvv-shard-*")); len(left) > 0 {
		t.Errorf("state directories left: %q", left)
	}
}

// Issue 13: a shard killed in the middle of a copy leaves its temp file;
// the shards never sweep under their shared lock, but the last shard of
// the job run again sweeps it once it holds the lock alone.
func TestShardSweepsLeftovers(t *testing.T) {
	eng := engines(t)[0]
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	makeBig(t, filepath.Join(src, "a.mov"), bigSize())
	makeBig(t, filepath.Join(src, "b.mov"), bigSize())
	dst := filepath.Join(dir, "dst")
	killed := cvvCommand(eng, "--block-size", "256K", "--shard", "1/2", src, dst)
	if err := killed.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { killed.Wait(); close(exited) }()
	if !waitTemp(t, dst, exited) {
		t.Fatal("shard 1/2 finished before it could be killed")
	}
	killed.Process.Kill()
	<-exited
	if len(temps(dst)) == 0 {
		t.Fatal("the killed shard left no temp file")
	}
	var cmds []*exec.Cmd
	for k := range 2 {
		c := cvvCommand(eng, "--shard", fmt.Sprintf("%d/2", k), src, dst)
		c.Env = append(c.Env, "CVV_TEST_THROTTLE=0")
		cmds = append(cmds, c)
	}
	shardProcs(t, cmds)
	if tmp := temps(dst); len(tmp) > 0 {
		t.Errorf("temp files left after the job ran again: %q", tmp)
	}
	for _, name := range []string{"a.mov", "b.mov"} {
		if !sameFile(t, filepath.Join(src, name), filepath.Join(dst, name)) {
			t.Errorf("%s is not a copy of the source", name)
		}
	}
}

// Issue 13: while an unrelated run holds a destination, a shard is
// refused at once with status 2, as any other run is.
func TestShardRefusedDuringRun(t *testing.T) {
	eng := engines(t)[0]
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	makeBig(t, filepath.Join(src, "big.mov"), bigSize())
	dst := filepath.Join(dir, "dst")
	first := cvvCommand(eng, "--block-size", "256K", "-q", src, dst)
	var out1 bytes.Buffer
	first.Stdout, first.Stderr = &out1, &out1
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var err1 error
	go func() { err1 = first.Wait(); close(exited) }()
	if !waitTemp(t, dst, exited) {
		t.Fatalf("the run finished before the shard started:\n%s", out1.String())
	}
	shard := exec.Command("cvv", "-q", "--shard", "0/2", src, dst)
	shard.Env = append(os.Environ(), "CVV_ENGINE="+eng)
	out, err := shard.CombinedOutput()
	want := fmt.Sprintf("destination %s is in use by another cvv run (pid %d)", dst, first.Process.Pid)
	if exitCode(err) != 2 || !bytes.Contains(out, []byte(want)) {
		t.Errorf("a shard during another run: %v, want exit status 2 saying %q:\n%s", err, want, out)
	}
	<-exited
	if err1 != nil {
		t.Fatalf("the run: %v\n%s", err1, out1.String())
	}
	if left, _ := filepath.Glob(filepath.Join(dst, ".cvv-shard-*")); len(left) > 0 || len(temps(dst)) > 0 {
		t.Errorf("left in the destination: %q %q", left, temps(dst))
	}
}

// A shard run again while the part of its earlier attempt is still in
// the state directory: the other shard, finishing meanwhile, finds every
// part there but must not merge the stale one; the shard run again merges
// when it finishes, and the record names every file.
func TestShardRerunStalePart(t *testing.T) {
	j := newTwoShards(t)
	dir, single, dst := filepath.Dir(filepath.Dir(j.dst)), j.single, j.dst
	shard := func(k int, hook string) *exec.Cmd { return j.shard(k, "CVV_TEST_BEFORE_VERIFY="+hook) }
	// The first attempt of shard 0: every copy it makes is damaged before
	// its verification, so its part names none of its files.
	damage := `for d in $CVV_TEST_DESTS; do printf x | dd of="$d" conv=notrunc status=none; done`
	if out, err := shard(0, damage).CombinedOutput(); exitCode(err) != 1 || !strings.Contains(string(out), "1 of 2 shards done") {
		t.Fatalf("first attempt of shard 0/2: %v, want status 1 with its part written:\n%s", err, out)
	}
	// Shard 0 again, held before its first verification until gate exists.
	waiting, gate := filepath.Join(dir, "waiting"), filepath.Join(dir, "gate")
	again := shard(0, fmt.Sprintf("touch %s; while [ ! -e %s ]; do sleep 0.02; done", waiting, gate))
	var out0 bytes.Buffer
	again.Stdout, again.Stderr = &out0, &out0
	if err := again.Start(); err != nil {
		t.Fatal(err)
	}
	defer again.Process.Kill()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(waiting); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("shard 0/2 run again never verified a file:\n%s", out0.String())
		}
	}
	if out, err := shard(1, "").CombinedOutput(); err != nil || strings.Contains(string(out), "merged their records") {
		t.Errorf("shard 1/2, while shard 0/2 runs again: %v, want status 0 and no merge:\n%s", err, out)
	}
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := again.Wait(); err != nil || !strings.Contains(out0.String(), "all 2 shards done: merged their records") {
		t.Fatalf("shard 0/2 run again: %v, want status 0 and the merge:\n%s", err, out0.String())
	}
	sameCopies(t, single, dst)
}

// A scheduler may start a task again after its shard finished (a Slurm
// requeue, a Kubernetes pod retried after its process exited 0). Run
// again once the job is done, a shard finds nothing to do: it leaves no
// state directory behind and the root keeps its times. Run again after a
// copy of its part was lost, it copies it again, and the job is finished
// once every shard has run again.
func TestShardRerunAfterJobDone(t *testing.T) {
	j := newTwoShards(t)
	single, dst := j.single, j.dst
	shard := func(k int) (string, error) {
		out, err := j.shard(k).CombinedOutput()
		return string(out), err
	}
	for k := range 2 {
		if out, err := shard(k); err != nil {
			t.Fatalf("shard %d/2: %v\n%s", k, err, out)
		}
	}
	sameCopies(t, single, dst)
	for _, k := range []int{1, 0} {
		out, err := shard(k)
		if err != nil || !strings.Contains(out, "the job is already finished") {
			t.Errorf("shard %d/2 run again: %v, want status 0 and the job already finished:\n%s", k, err, out)
		}
		sameCopies(t, single, dst)
	}
	if t.Failed() {
		return
	}
	// A copy of shard 1's part is lost: shard 1 run again copies it and
	// waits for the other shard, which finishes the job when it runs again.
	lost := ""
	for k := range 240 {
		p := filepath.Join(dst, fmt.Sprintf("CLIP%02d", k%18/3), fmt.Sprintf("sub%d", k%18%3), fmt.Sprintf("F%04d.bin", k))
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		if out, err := shard(1); err == nil && strings.Contains(out, "1 of 2 shards done") {
			lost = p
			break
		}
		// The file was shard 0's: it copies it again at once.
		if out, err := shard(0); err != nil || !strings.Contains(out, "1 of 2 shards done") {
			t.Fatalf("shard 0/2 after %s was lost: %v, want status 0, waiting for shard 1:\n%s", p, err, out)
		}
		if out, err := shard(1); err != nil || !strings.Contains(out, "all 2 shards done: merged their records") {
			t.Fatalf("shard 1/2 after shard 0/2 copied %s again: %v, want the merge:\n%s", p, err, out)
		}
	}
	if lost == "" {
		t.Fatal("no file of the tree fell to shard 1")
	}
	if out, err := shard(0); err != nil || !strings.Contains(out, "all 2 shards done: merged their records") {
		t.Fatalf("shard 0/2 after shard 1/2 copied %s again: %v, want the merge:\n%s", lost, err, out)
	}
	sameDirs(t, single, dst)
	if !sameFile(t, filepath.Join(single, strings.TrimPrefix(lost, dst)), lost) {
		t.Errorf("%s: copied again wrong", lost)
	}
}

// A shard run again where its job finished, whose copy made again fails
// its verification, reports the failure (status 1) but leaves the
// finished job as it was: its mark, its hash lists, no state directory.
// Only a copy actually made reopens the job.
func TestShardRerunFailureKeepsJobDone(t *testing.T) {
	j := newTwoShards(t)
	for k := range 2 {
		if out, err := j.shard(k).CombinedOutput(); err != nil {
			t.Fatalf("shard %d/2: %v\n%s", k, err, out)
		}
	}
	lost := filepath.Join(j.dst, "CLIP00", "sub0", "F0000.bin")
	lists := readLists(t, j.dst, lost)
	mark := atomicfile.JobDone(j.dst)
	if mark == "" {
		t.Fatal("the finished job left no mark on its destination")
	}
	if err := os.Remove(lost); err != nil {
		t.Fatal(err)
	}
	// Every copy made again is damaged before its verification.
	damage := "CVV_TEST_BEFORE_VERIFY=" + `for d in $CVV_TEST_DESTS; do printf x | dd of="$d" conv=notrunc status=none; done`
	failed := 0
	for k := range 2 {
		out, err := j.shard(k, damage).CombinedOutput()
		if !strings.Contains(string(out), "the job is already finished") {
			t.Errorf("shard %d/2 run again: %v, want the job already finished:\n%s", k, err, out)
		}
		switch exitCode(err) {
		case 1:
			failed++
		case 0:
		default:
			t.Errorf("shard %d/2 run again: %v\n%s", k, err, out)
		}
	}
	if failed != 1 {
		t.Errorf("%d shards failed, want the one whose file was lost", failed)
	}
	if got := atomicfile.JobDone(j.dst); got != mark {
		t.Errorf("the job's mark is %q after the failure, want %q", got, mark)
	}
	if got := readLists(t, j.dst, lost); !maps.Equal(got, lists) {
		t.Errorf("the finished job's hash lists changed after a failure alone")
	}
	sameDirs(t, j.single, j.dst)
}

// readLists reads every file under root but skip: the hash lists and
// the copies, to compare before and after a run.
func readLists(t *testing.T, root, skip string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || p == skip {
			return err
		}
		b, err := os.ReadFile(p)
		files[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// sameDirs checks that the directories of the sharded copy have the modes
// and mtimes of the single run's, and that no state directory is left.
func sameDirs(t *testing.T, single, sharded string) {
	t.Helper()
	err := filepath.WalkDir(sharded, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(sharded, p)
		if strings.HasPrefix(d.Name(), ".cvv-shard-") {
			t.Errorf("%s: the job's state directory is left", rel)
		}
		if rel == "ascmhl" || strings.HasPrefix(d.Name(), ".cvv-shard-") {
			return fs.SkipDir
		}
		a, err := os.Lstat(filepath.Join(single, rel))
		if err != nil {
			return err
		}
		b, _ := d.Info()
		if a.Mode() != b.Mode() || !a.ModTime().Equal(b.ModTime()) {
			t.Errorf("%s: single run %v %v, sharded %v %v", rel, a.Mode(), a.ModTime(), b.Mode(), b.ModTime())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
