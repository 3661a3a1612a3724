package faults

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cvv-project/cvv/cmd/internal/report"
	"github.com/cvv-project/cvv/hashing"
	"github.com/cvv-project/cvv/hashing/manifest"
	"github.com/cvv-project/cvv/internal/atomicfile"
)

// cutScenario is one kind of run a power cut lands in.
type cutScenario struct {
	file        bool   // a single file source, not a tree
	mode        string // transfer, source or full
	verifyAfter bool
	replace     bool   // older versions exist and --overwrite replaces them
	hashFiles   bool   // --hash-file sums,xxh,mhl
	fallback    bool   // --engine fallback
	directIO    bool   // the FUSE mount uses FOPEN_DIRECT_IO
	write       string // --write direct or buffered; "" leaves auto's choice
	jobs        int    // --jobs, 0 for the default
}

func (s cutScenario) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s-%s", map[bool]string{false: "tree", true: "file"}[s.file], s.mode)
	for _, f := range []struct {
		on   bool
		name string
	}{{s.verifyAfter, "verify-after"}, {s.replace, "overwrite"}, {s.hashFiles, "hash-file"}, {s.fallback, "fallback"}, {s.directIO, "direct_io"}} {
		if f.on {
			b.WriteString("+" + f.name)
		}
	}
	if s.write != "" {
		b.WriteString("+write-" + s.write)
	}
	if s.jobs != 0 {
		fmt.Fprintf(&b, "+j%d", s.jobs)
	}
	return b.String()
}

// args returns the command line copying src to dst.
func (s cutScenario) args(src, dst string) []string {
	args := []string{"--json", "-m", s.mode}
	if s.verifyAfter {
		args = append(args, "--verify-after")
	}
	if s.replace {
		args = append(args, "--overwrite")
	}
	if s.hashFiles {
		args = append(args, "--hash-file", "sums,xxh,mhl")
	}
	if s.fallback {
		args = append(args, "--engine", "fallback")
	}
	if s.write != "" {
		args = append(args, "--write", s.write)
	}
	if s.jobs != 0 {
		args = append(args, "--jobs", fmt.Sprint(s.jobs))
	}
	if s.file {
		return append(args, src, dst+"/")
	}
	return append(args, src, dst)
}

// cutSources is the data the trials copy: a tree and a single file, with
// the sha256 of each file by its path relative to the destination root
// and, where set, its xxh3 (what the hash lists must say).
type cutSources struct {
	tree, file         string
	treeWant, fileWant map[string]string
	treeXXH, fileXXH   map[string]string
}

func (c *cutSources) src(s cutScenario) (string, map[string]string) {
	if s.file {
		return c.file, c.fileWant
	}
	return c.tree, c.treeWant
}

// xxh returns the xxh3 of the files of s's source, nil if not set.
func (c *cutSources) xxh(s cutScenario) map[string]string {
	if s.file {
		return c.fileXXH
	}
	return c.treeXXH
}

// xxh3Files maps the relative path (slash-separated; for a file, its
// name) of every regular file of src, a tree or a file, to its xxh3.
func xxh3Files(t testing.TB, src string) map[string]string {
	t.Helper()
	m := map[string]string{}
	fi, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	root := src
	if !fi.IsDir() {
		root = filepath.Dir(src)
	}
	err = filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		h := hashing.XXH3.New()
		if _, err := io.Copy(h, f); err != nil {
			return err
		}
		m[filepath.ToSlash(rel)] = h.Hex()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// cutTrialCount is the number of power cuts TestPowerCut makes.
func cutTrialCount() int {
	if fullRun() {
		return 120
	}
	return 6
}

// TestPowerCut cuts the power (PowerFS) at random moments of runs over
// trees and single files, in every verification mode, with
// --verify-after, replacing older versions, writing hash lists, and with
// destinations written through the page cache and with O_DIRECT. After
// each cut the durable state must hold, under every final name, the source
// or the older version it replaced; everything cvv reported done (its
// NDJSON file and verify events) must be there and correct; an ASC MHL
// generation and chain must be complete and schema-valid, or absent; and
// the same command must then finish and verify everything.
func TestPowerCut(t *testing.T) {
	requireFUSE(t)
	requireTool(t, "xmllint")
	work := workDir(t, 256<<20)
	srcs := &cutSources{tree: filepath.Join(work, "tree"), file: filepath.Join(work, "single", "clip.mov")}
	srcs.treeWant = buildTree(t, srcs.tree, treeSpec{Large: 2, LargeSize: 3 << 20, Small: 30})
	writeRandom(t, srcs.file, 8<<20+17, 77)
	srcs.fileWant = map[string]string{"clip.mov": fileHash(t, srcs.file)}
	srcs.treeXXH, srcs.fileXXH = xxh3Files(t, srcs.tree), xxh3Files(t, srcs.file)

	// The window the cuts land in: one uncut run of each shape and mode,
	// throttled so that a run lasts long enough for the cut to land
	// anywhere in it. Each mode has its own: a transfer ends long before
	// a full run, and cuts aimed at the full run's window missed half of
	// the transfers (2 of the 6 cuts of the quick run landed on a quiet
	// machine).
	env := []string{"CVV_TEST_THROTTLE=2ms"}
	type shape struct {
		file bool
		mode string
	}
	span := map[shape]time.Duration{}
	for _, file := range []bool{false, true} {
		for _, mode := range []string{"transfer", "source", "full"} {
			span[shape{file, mode}] = calibrateCut(t, srcs, cutScenario{file: file, mode: mode}, env)
		}
	}
	t.Logf("an uncut run takes %v", span)

	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 10))
	n := cutTrialCount()
	var midRun int
	found := map[string]int{}
	for k := range n {
		sc := cutScenario{
			file: k%4 == 3, mode: []string{"transfer", "source", "full"}[k%3],
			verifyAfter: k%3 != 0 && rng.IntN(3) == 0, replace: rng.IntN(3) == 0, hashFiles: rng.IntN(2) == 0,
			fallback: rng.IntN(2) == 0, directIO: rng.IntN(2) == 0,
		}
		if !sc.fallback {
			// Each write path of the io_uring engine gets its share of
			// cuts, whatever auto would pick for the FUSE destination.
			sc.write = []string{"buffered", "direct", ""}[k/3%3]
		}
		// (--verify-after needs a mode that reads something.)
		sh := shape{sc.file, sc.mode}
		delay := time.Duration(rng.Int64N(int64(span[sh] * 11 / 10)))
		running, elapsed, problems := cutTrial(t, srcs, sc, env, cutMoment{delay: delay})
		if !running && elapsed < span[sh] {
			// The machine is shared: aim at the fastest run seen.
			span[sh] = elapsed
		}
		if running {
			midRun++
		}
		for _, p := range problems {
			t.Errorf("cut %d (%v, after %v, seed %d): %s", k, sc, delay, seed, p)
			found[firstWords(p)]++
		}
	}
	t.Logf("%d power cuts, %d while cvv ran; problems by kind: %v", n, midRun, found)
	if midRun < n/2 {
		t.Errorf("only %d of %d cuts landed while cvv ran: the window misses the run", midRun, n)
	}
}

// TestPowerCutAfterReport cuts the power the moment cvv reports something
// done, which the random cuts of TestPowerCut hit only by chance: the first
// verified file of a directory whose other files are still being copied,
// the end of a file copy into directories cvv created, and a hash list
// written into the ascmhl folder cvv created.
func TestPowerCutAfterReport(t *testing.T) {
	requireFUSE(t)
	requireTool(t, "xmllint")
	work := workDir(t, 64<<20)
	srcs := &cutSources{tree: filepath.Join(work, "tree"), file: filepath.Join(work, "single", "clip.mov")}
	for i := range 24 {
		writeRandom(t, filepath.Join(srcs.tree, "one-dir", fmt.Sprintf("f%02d.dat", i)), 256<<10+int64(i), uint64(i))
	}
	srcs.treeWant = treeFiles(t, srcs.tree)
	// Modes and mtimes that cvv must give the directories at the end of
	// the run, and make durable.
	for dir, mode := range map[string]os.FileMode{"one-dir": 0o750, "": 0o705} {
		p := filepath.Join(srcs.tree, dir)
		past := time.Now().Add(-30 * time.Hour).Truncate(time.Second).Add(123456789)
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, past, past); err != nil {
			t.Fatal(err)
		}
	}
	writeRandom(t, srcs.file, 2<<20, 3)
	srcs.fileWant = map[string]string{"clip.mov": fileHash(t, srcs.file)}
	env := []string{"CVV_TEST_THROTTLE=2ms"}
	for _, c := range []struct {
		sc    cutScenario
		event string
	}{
		{cutScenario{mode: "full"}, "verify"},
		{cutScenario{mode: "source", verifyAfter: true}, "file"},
		{cutScenario{file: true, mode: "full"}, "summary"},
		{cutScenario{mode: "full"}, "summary"},
		{cutScenario{mode: "source", verifyAfter: true, hashFiles: true}, "summary"},
		{cutScenario{mode: "full", hashFiles: true}, "hashfile"},
		{cutScenario{file: true, mode: "full", hashFiles: true}, "hashfile"},
	} {
		t.Run(c.sc.String()+"@"+c.event, func(t *testing.T) {
			_, _, problems := cutTrial(t, srcs, c.sc, env, cutMoment{event: c.event})
			for _, p := range problems {
				t.Error(p)
			}
		})
	}
}

// firstWords is the kind of a problem: its text up to the first colon.
func firstWords(p string) string {
	kind, _, _ := strings.Cut(p, ":")
	return kind
}

// calibrateCut runs sc once on a PowerFS without a cut and returns how
// long it took. It also checks that cvv writes its events as they happen:
// in a tree, the first file event must come well before the summary.
func calibrateCut(t *testing.T, srcs *cutSources, sc cutScenario, env []string) time.Duration {
	t.Helper()
	p := mountPowerFS(t, PowerFSOptions{}, nil)
	src, _ := srcs.src(sc)
	var out eventLog
	cmd := cvvCmd(t, runOpts{Env: env}, sc.args(src, filepath.Join(p.Mountpoint, "dst"))...)
	cmd.Stdout = &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("uncut run %v: %v\n%s", sc, err, out.text())
	}
	elapsed := time.Since(start)
	// (A tree: its small directories are done long before its large
	// files; a single file is reported at its end.) Events held back to
	// the end arrive within a millisecond of each other, so a gap of
	// 10 ms proves them written as they happen even when the machine
	// stalled cvv before its first file: CI once saw a 653 ms run whose
	// first file event came at 617 ms, 32 ms before its summary, just
	// short of a twentieth of the run.
	first, last := out.firstTime("file"), out.firstTime("summary")
	if !sc.file && (first.IsZero() || last.IsZero() || last.Sub(first) < min(elapsed/20, 10*time.Millisecond)) {
		t.Errorf("events not written as they happen: first file event at %v, summary at %v of a %v run", first.Sub(start), last.Sub(start), elapsed)
	}
	if err := p.Unmount(); err != nil {
		t.Fatal(err)
	}
	return elapsed
}

// cutMoment says when a trial cuts the power: after delay, or as soon as
// cvv writes an event of kind event (or exits), whichever comes first; or,
// with after set, the moment the afterN-th operation of kind after takes
// effect in the filesystem (PowerFSOptions.CutAfter).
type cutMoment struct {
	delay  time.Duration
	event  string
	after  string
	afterN int
}

func (m cutMoment) String() string {
	if m.after != "" {
		return fmt.Sprintf("%s #%d", m.after, m.afterN)
	}
	if m.event != "" {
		return "the first " + m.event + " event"
	}
	return m.delay.String()
}

// cutTrial makes one run of sc on a new PowerFS, cuts the power at the
// moment when, and returns whether cvv was still running then (if not, how
// long it ran) and what is wrong with the durable state and the re-run.
func cutTrial(t *testing.T, srcs *cutSources, sc cutScenario, env []string, when cutMoment) (bool, time.Duration, []string) {
	t.Helper()
	src, want := srcs.src(sc)
	old := map[string]string{}
	p := mountPowerFS(t, PowerFSOptions{DirectIO: sc.directIO, CutAfter: when.after, CutAfterN: when.afterN}, func(live string) {
		if sc.replace {
			old = writeOlderVersions(t, want, filepath.Join(live, "dst"))
		}
	})
	dst := filepath.Join(p.Mountpoint, "dst")
	out := eventLog{watch: when.event, seen: make(chan struct{})}
	cmd := cvvCmd(t, runOpts{Env: env}, sc.args(src, dst)...)
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var elapsed time.Duration
	var waitErr error
	done := make(chan struct{})
	go func() { waitErr = cmd.Wait(); elapsed = time.Since(start); close(done) }()
	var timer <-chan time.Time
	switch {
	case when.after != "":
		// The filesystem cuts by itself; the run goes on to its end
		// (every sync after the cut fails).
		timer = time.After(5 * time.Minute)
	case when.event == "":
		timer = time.After(when.delay)
	}
	select {
	case <-done:
	case <-timer:
	case <-out.seen:
	}
	running := true
	select {
	case <-done:
		running = false
	default:
	}
	// The summary is the run's last word: a cut after it is a cut after
	// the end of the run, whether or not the process was seen exiting.
	ended := !running && waitErr == nil || when.event == "summary"
	counts, err := p.Cut()
	if err != nil {
		t.Fatal(err)
	}
	_ = cmd.Process.Kill()
	<-done
	if err := p.Unmount(); err != nil {
		t.Fatal(err)
	}
	if testing.Verbose() {
		t.Logf("%v: cut at %v (running %v): %s", sc, when, running, counts)
	}
	durable := filepath.Join(p.Durable, "dst")
	c := &cutCheck{t: t, want: want, xxh: srcs.xxh(sc), old: old, mnt: p.Mountpoint, durable: p.Durable}
	c.finalFiles(durable)
	c.reported(out.events())
	c.hashLists(durable, false)
	if ended && !sc.file {
		c.dirAttrs(src, durable)
	}
	c.rerun(sc, src, durable)
	if len(c.problems) > 0 {
		t.Logf("%v: output of the run cut at %v:\n%s", sc, when, out.text())
	}
	return running, elapsed, c.problems
}

// writeOlderVersions writes, for every file of want, an older version
// (other bytes, an older mtime) under dst, and returns their sha256.
func writeOlderVersions(t testing.TB, want map[string]string, dst string) map[string]string {
	t.Helper()
	old := map[string]string{}
	for rel := range want {
		p := filepath.Join(dst, rel)
		writeRandom(t, p, int64(len(rel))*1000+5, uint64(len(rel)))
		past := time.Now().Add(-48 * time.Hour)
		if err := os.Chtimes(p, past, past); err != nil {
			t.Fatal(err)
		}
		old[rel] = fileHash(t, p)
	}
	return old
}

// cutCheck collects what is wrong after one cut.
type cutCheck struct {
	t        testing.TB
	want     map[string]string // sha256 of the source files by relative path
	xxh      map[string]string // their xxh3, which the hash lists must say; nil: not checked
	old      map[string]string // sha256 of the older versions replaced
	mnt      string
	durable  string
	problems []string
}

func (c *cutCheck) addf(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

// finalFiles: every file under a final name is the source or the older
// version.
func (c *cutCheck) finalFiles(root string) {
	for rel, h := range treeFiles(c.t, root) {
		if atomicfile.IsTempName(filepath.Base(rel)) || manifest.IsManifest(root, rel) || report.IsReportName(rel) || strings.HasPrefix(rel, ".cvv-shard-") {
			continue
		}
		if h != c.want[rel] && (c.old[rel] == "" || h != c.old[rel]) {
			c.addf("wrong final file: %s is neither the source nor the older version", rel)
		}
	}
}

// reported: every destination a file or verify event reported done (kept,
// or verified ok), and every hash list reported written, is durable, and
// the files are the source.
func (c *cutCheck) reported(events []cutEvent) {
	for _, ev := range events {
		switch ev.Event {
		case "file", "verify":
			for _, d := range ev.Dests {
				// A file event's "copied" is the end of the copy: the copy
				// waits under its temp name until it is verified (with
				// --verify-after, until the verification pass); its verify
				// event says "ok" once it has its name.
				if d.Status != "kept" && d.Status != "ok" {
					continue
				}
				p := c.durablePath(d.Path)
				h, err := hashFile(p)
				switch {
				case err != nil:
					c.addf("reported done, lost: %s event says %s %s, but after the cut: %v", ev.Event, d.Path, d.Status, err)
				case h != c.want[ev.Path]:
					c.addf("reported done, wrong: %s event says %s %s, but after the cut it differs from the source", ev.Event, d.Path, d.Status)
				}
			}
		case "hashfile", "report":
			if _, err := os.Stat(c.durablePath(ev.Path)); err != nil {
				c.addf("reported done, lost: %s %s: %v", ev.Event, ev.Path, err)
			}
		}
	}
}

// complete: every file of the source is under its final name and equal to
// it (after a run that finished).
func (c *cutCheck) complete(root string) {
	got := treeFiles(c.t, root)
	for rel, w := range c.want {
		if got[rel] != w {
			c.addf("lost after the end of the run: %s missing or not the source", rel)
		}
	}
}

// hardLinks: after a run that ended before the cut, the paths of each
// hard-linked file of src are one file under root too.
func (c *cutCheck) hardLinks(src, root string) {
	groups := map[uint64][]string{}
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Nlink > 1 {
			rel, err := filepath.Rel(src, p)
			groups[st.Ino] = append(groups[st.Ino], rel)
			return err
		}
		return nil
	})
	if err != nil {
		c.addf("walking %s: %v", src, err)
	}
	for _, paths := range groups {
		var first os.FileInfo
		for _, rel := range paths {
			fi, err := os.Stat(filepath.Join(root, rel))
			switch {
			case err != nil:
				c.addf("hard link lost after the end of the run: %v", err)
			case first == nil:
				first = fi
			case !os.SameFile(first, fi):
				c.addf("hard link lost after the end of the run: %s is not %s", rel, paths[0])
			}
		}
	}
}

// dirAttrs: after a run that ended before the cut, every directory has its
// source directory's mode and mtime: cvv sets them at the end of the run,
// and what it set must survive the cut.
func (c *cutCheck) dirAttrs(src, root string) {
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		sfi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		dfi, err := os.Lstat(filepath.Join(root, rel))
		switch {
		case err != nil:
			c.addf("directory lost after the end of the run: %v", err)
		case dfi.Mode().Perm() != sfi.Mode().Perm() || !dfi.ModTime().Equal(sfi.ModTime()):
			c.addf("directory mode or mtime lost after the end of the run: %s is %v %v after the cut, the source %v %v",
				rel, dfi.Mode().Perm(), dfi.ModTime().Format(time.RFC3339Nano), sfi.Mode().Perm(), sfi.ModTime().Format(time.RFC3339Nano))
		}
		return nil
	})
	if err != nil {
		c.addf("walking %s: %v", src, err)
	}
}

// durablePath maps a path under the mount to the durable state.
func (c *cutCheck) durablePath(p string) string {
	rel, err := filepath.Rel(c.mnt, p)
	if err != nil || strings.HasPrefix(rel, "..") {
		return p
	}
	return filepath.Join(c.durable, rel)
}

// hashLists: each hash list under root (the sums and xxh lists of xxh3,
// the ASC MHL history) is absent, or whole: it parses to its end (an ASC
// MHL generation and chain schema-valid and matching), and lists only
// files that are there and equal to the source, with the source's xxh3
// (where c.xxh is set); the sums and xxh lists list the same files. With
// complete set (a run that finished), every list is there and lists every
// file of the source, and cvv verify finds the tree matching its ASC MHL
// history.
func (c *cutCheck) hashLists(root string, complete bool) {
	if err := validateMHL(root); err != nil {
		c.addf("MHL history incomplete or invalid: %v", err)
	}
	var lists [][]string
	for _, f := range []manifest.Format{manifest.Sums, manifest.XXH} {
		name := manifest.FileName(root, f, hashing.XXH3)
		if listed, ok := c.sumsList(name, complete); ok {
			lists = append(lists, listed)
		}
	}
	if len(lists) == 2 && !slices.Equal(lists[0], lists[1]) {
		c.addf("the sums and xxh lists list different files: %d and %d", len(lists[0]), len(lists[1]))
	}
	h, err := manifest.ReadHistory(root)
	switch {
	case errors.Is(err, manifest.ErrNoHistory):
		if complete && c.xxh != nil {
			c.addf("ASC MHL history missing after the run: %v", err)
		}
		return
	case err != nil:
		return // said by validateMHL
	}
	defer h.Close()
	if c.xxh == nil {
		return
	}
	g := h.Generations[len(h.Generations)-1]
	var listed []string
	for _, e := range g.Files {
		listed = append(listed, e.Path)
		if h, err := hashFile(filepath.Join(root, filepath.FromSlash(e.Path))); err != nil || h != c.want[e.Path] {
			c.addf("ASC MHL generation %s lists %s, which is missing or not the source after the cut (%v)", filepath.Base(g.File), e.Path, err)
		}
		for _, hh := range e.Hashes {
			if hh.Alg == hashing.XXH3 && !strings.EqualFold(hh.Value, c.xxh[e.Path]) {
				c.addf("ASC MHL generation %s lists %s with xxh3 %s, the source's is %q", filepath.Base(g.File), e.Path, hh.Value, c.xxh[e.Path])
			}
		}
	}
	if complete {
		c.listsAll(filepath.Base(g.File), listed)
		if r := runCVV(c.t, runOpts{}, "verify", "--no-record", root); r.Code != 0 {
			c.addf("cvv verify against the ASC MHL history after the run: %v", r)
		}
	}
}

// sumsList checks the sums or xxh list name, if it is there (or must be:
// complete), and returns the paths it lists, sorted, and whether it is
// there.
func (c *cutCheck) sumsList(name string, complete bool) ([]string, bool) {
	data, err := os.ReadFile(name)
	switch {
	case errors.Is(err, os.ErrNotExist) && complete && c.xxh != nil:
		c.addf("hash list %s missing after the run", filepath.Base(name))
		return nil, false
	case errors.Is(err, os.ErrNotExist):
		return nil, false
	case err != nil:
		c.addf("hash list %s: %v", filepath.Base(name), err)
		return nil, false
	}
	root := filepath.Dir(name)
	alg := hashing.XXH3
	list, err := manifest.ParseSums(bytes.NewReader(data), &alg)
	if err == nil && !bytes.HasSuffix(data, []byte("\n")) {
		err = errors.New("its last line has no end")
	}
	if err != nil {
		c.addf("hash list %s cut short or invalid (%d bytes): %v", filepath.Base(name), len(data), err)
		return nil, true
	}
	var listed []string
	for _, s := range list.Sums {
		listed = append(listed, s.Path)
		h, err := hashFile(filepath.Join(root, filepath.FromSlash(s.Path)))
		if err != nil || h != c.want[s.Path] {
			c.addf("%s lists %s, which is missing or not the source after the cut (%v)", filepath.Base(name), s.Path, err)
		}
		if c.xxh != nil && !strings.EqualFold(s.Hash, c.xxh[s.Path]) {
			c.addf("%s lists %s with xxh3 %s, the source's is %q", filepath.Base(name), s.Path, s.Hash, c.xxh[s.Path])
		}
	}
	slices.Sort(listed)
	if complete {
		c.listsAll(filepath.Base(name), listed)
	}
	return listed, true
}

// listsAll: a hash list of a finished run lists every file of the source
// (c.xxh).
func (c *cutCheck) listsAll(name string, listed []string) {
	if c.xxh == nil {
		return
	}
	for rel := range c.xxh {
		if !slices.Contains(listed, rel) {
			c.addf("%s does not list %s after the run (%d files listed of %d)", name, rel, len(listed), len(c.xxh))
		}
	}
}

// validateMHL checks root's ASC MHL history, if it has one: every
// generation and the chain are valid against the ASC MHL schemas, and the
// chain lists exactly the generations, with their C4 hashes.
func validateMHL(root string) error {
	dir := filepath.Join(root, manifest.HistoryDir)
	gens, _ := filepath.Glob(filepath.Join(dir, "*.mhl"))
	chain := filepath.Join(dir, manifest.ChainFile)
	if _, err := os.Stat(chain); err == nil {
		gens = append(gens, chain)
	}
	xsd, err := filepath.Abs("../../../hashing/manifest/testdata/xsd")
	if err != nil {
		return err
	}
	for _, g := range gens {
		schema := "ASCMHL.xsd"
		if g == chain {
			schema = "ASCMHLDirectory.xsd"
		}
		if out, err := exec.Command("xmllint", "--noout", "--schema", filepath.Join(xsd, schema), g).CombinedOutput(); err != nil {
			return fmt.Errorf("xmllint rejects %s: %v: %s", g, err, out)
		}
	}
	if _, err := manifest.ReadHistory(root); err != nil && !errors.Is(err, manifest.ErrNoHistory) {
		return err
	}
	return nil
}

// rerun: the same command on the durable state finishes and verifies, and
// leaves the source everywhere.
func (c *cutCheck) rerun(sc cutScenario, src, dst string) {
	r := runCVV(c.t, runOpts{}, sc.args(src, dst)...)
	if r.Code != 0 {
		c.addf("re-run failed: %v", r)
		return
	}
	got := treeFiles(c.t, dst)
	for rel, w := range c.want {
		if got[rel] != w {
			c.addf("re-run: %s missing or not the source", rel)
		}
	}
	for rel := range got {
		if _, ok := c.want[rel]; !ok && !manifest.IsManifest(dst, rel) && !report.IsReportName(rel) {
			c.addf("re-run: unexpected file %s", rel)
		}
	}
	if sc.hashFiles {
		n := len(c.problems)
		c.hashLists(dst, true)
		for i := n; i < len(c.problems); i++ {
			c.problems[i] = "re-run: " + c.problems[i]
		}
	}
}

// cutEvent is what the checks read of cvv's NDJSON events.
type cutEvent struct {
	Event string `json:"event"`
	Path  string `json:"path"`
	Dests []struct {
		Path   string `json:"path"`
		Status string `json:"status"`
	} `json:"dests"`
}

// eventLog records cvv's output with the time each line arrived, and
// closes seen at the first event of kind watch.
type eventLog struct {
	watch string
	seen  chan struct{}

	mu    sync.Mutex
	buf   bytes.Buffer
	lines []string
	times []time.Time
}

func (l *eventLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(b)
	for {
		line, err := l.buf.ReadString('\n')
		if err != nil {
			l.buf.Reset()
			l.buf.WriteString(line) // an incomplete line waits for its end
			return len(b), nil
		}
		l.lines = append(l.lines, line)
		l.times = append(l.times, time.Now())
		if l.watch != "" && strings.Contains(line, `"event":"`+l.watch+`"`) {
			close(l.seen)
			l.watch = ""
		}
	}
}

// events returns the complete JSON lines (an event cut short by the kill
// is not one cvv reported).
func (l *eventLog) events() []cutEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	var evs []cutEvent
	for _, line := range l.lines {
		var ev cutEvent
		if json.Unmarshal([]byte(line), &ev) == nil {
			evs = append(evs, ev)
		}
	}
	return evs
}

// firstTime returns when the first event of kind arrived.
func (l *eventLog) firstTime(kind string) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, line := range l.lines {
		if strings.Contains(line, `"event":"`+kind+`"`) {
			return l.times[i]
		}
	}
	return time.Time{}
}

func (l *eventLog) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := strings.Join(l.lines, "") + l.buf.String()
	if len(s) > 8<<10 {
		s = s[:8<<10] + "..."
	}
	return s
}

// requireTool skips the test when the tool is not installed, unless CI is
// set: CI installs every tool a test needs (.ci/run), so there a missing
// tool fails the test.
func requireTool(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is needed (CI is set): %v", name, err)
		}
		t.Skipf("%s is not installed: %v", name, err)
	}
}
