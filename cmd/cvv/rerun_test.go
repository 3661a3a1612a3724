//go:build linux

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestRerunDecisions: a re-run of 1,000 files to two destinations, with a
// copy deleted, one grown with its mtime kept and one without its record
// on either side of the 256th file (where the looks at the destinations
// ahead of the decision go from one batch to the next) and further on:
// each file is decided on what its own copies are, every other file is
// skipped on both. It runs with 1 and 4 cores, so with 1 and 4 goroutines
// looking at the batches (lookWorkers), which decide must take in order.
func TestRerunDecisions(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	var rels []string
	for k := range 1000 {
		rel := filepath.Join(fmt.Sprintf("d%d", k/300), fmt.Sprintf("f%04d", k))
		p := filepath.Join(src, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(rel), 0o644); err != nil {
			t.Fatal(err)
		}
		rels = append(rels, rel)
	}
	d1, d2 := filepath.Join(dir, "d1"), filepath.Join(dir, "d2")
	for _, engine := range engines(t) {
		for _, procs := range []string{"1", "4"} {
			t.Run(engine+"/procs"+procs, func(t *testing.T) {
				rerunDecisions(t, engine, procs, rels, src, d1, d2)
			})
		}
	}
}

// rerunDecisions is TestRerunDecisions with one engine and GOMAXPROCS
// procs.
func rerunDecisions(t *testing.T, engine, procs string, rels []string, src, d1, d2 string) {
	os.RemoveAll(d1)
	os.RemoveAll(d2)
	run := func() (map[string][]string, error) {
		cmd := cvvCommand(engine, "--json", "-m", "source", "--no-report", src, d1, d2)
		cmd.Env = append(cmd.Env, "CVV_TEST_THROTTLE=0", "GOMAXPROCS="+procs)
		out, err := cmd.Output()
		states := map[string][]string{}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			var kind struct{ Event string }
			if jerr := json.Unmarshal(sc.Bytes(), &kind); jerr != nil {
				t.Fatalf("%v: %s", jerr, sc.Bytes())
			}
			var ev struct {
				Path  string
				Dests []struct{ Status string }
			}
			if kind.Event == "file" {
				if jerr := json.Unmarshal(sc.Bytes(), &ev); jerr != nil {
					t.Fatalf("%v: %s", jerr, sc.Bytes())
				}
				for _, d := range ev.Dests {
					states[ev.Path] = append(states[ev.Path], d.Status)
				}
			}
		}
		return states, err
	}
	if _, err := run(); err != nil {
		t.Fatalf("first copy: %v", err)
	}
	deleted := []int{255, 600, 800}
	grown, unrecorded := 256, 257
	for _, k := range deleted {
		if err := os.Remove(filepath.Join(d1, rels[k])); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(d1, rels[grown])
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(rels[grown]+"+"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if err := unix.Removexattr(filepath.Join(d2, rels[unrecorded]), "user.cvv.verified"); err != nil {
		t.Skipf("no user extended attributes: %v", err)
	}
	states, err := run()
	if exitCode(err) != 1 {
		t.Errorf("re-run: %v, want exit status 1 (the grown copy is a conflict)", err)
	}
	want := map[int][2]string{255: {"copied", "skipped"}, 600: {"copied", "skipped"}, 800: {"copied", "skipped"}, grown: {"failed", "skipped"}, unrecorded: {"skipped", "kept"}}
	for k, rel := range rels {
		w, ok := want[k]
		if !ok {
			w = [2]string{"skipped", "skipped"}
		}
		if got := states[filepath.ToSlash(rel)]; len(got) != 2 || got[0] != w[0] || got[1] != w[1] {
			t.Errorf("%s: %q, want %q", rel, got, w)
		}
	}
}

// TestRerunLeavesDirs: a re-run that finds every copy in place leaves the
// destination's directories as they are (their ctimes, which backup tools
// read as a change, are not moved by their own mode, owner, attributes
// and mtime set again), and still gives a directory what changed in the
// source since: a new mode, a new mtime.
func TestRerunLeavesDirs(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	for _, rel := range []string{"a/b/c/f1", "a/b/f2", "m/f3", "x/f4", "o/f5"} {
		p := filepath.Join(src, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(rel), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(src, "m"), 0o750); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(filepath.Join(src, "o"), 1234, 5678); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Setxattr(filepath.Join(src, "x"), "user.cvv-test", []byte("kept"), 0); err != nil {
		t.Logf("no user extended attributes on the source: %v", err)
	}
	// The directories' mtimes, set last: making the files moved them.
	old := time.Date(2024, 3, 1, 12, 0, 0, 123456789, time.UTC)
	for _, rel := range []string{"a/b/c", "a/b", "a", "m", "x", "o", "."} {
		if err := os.Chtimes(filepath.Join(src, rel), old, old); err != nil {
			t.Fatal(err)
		}
	}
	ctimes := func(root string) map[string]unix.Timespec {
		got := map[string]unix.Timespec{}
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return err
			}
			var st unix.Stat_t
			if err := unix.Lstat(p, &st); err != nil {
				return err
			}
			got[p] = st.Ctim
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	for _, engine := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			dst := filepath.Join(dir, "dst-"+engine)
			run := func() {
				t.Helper()
				cmd := cvvCommand(engine, "-q", "-m", "transfer", "--no-report", src, dst)
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("%v: %s", err, out)
				}
			}
			run()
			before := ctimes(dst)
			time.Sleep(20 * time.Millisecond)
			run()
			after := ctimes(dst)
			for p, c := range before {
				if after[p] != c {
					t.Errorf("%s: ctime moved by a re-run that changed nothing (%v -> %v)", p, c, after[p])
				}
			}
			// What did change in the source reaches the copy.
			newer := old.Add(time.Hour)
			if err := os.Chmod(filepath.Join(src, "m"), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(filepath.Join(src, "a", "b"), newer, newer); err != nil {
				t.Fatal(err)
			}
			run()
			if fi, err := os.Stat(filepath.Join(dst, "m")); err != nil || fi.Mode().Perm() != 0o700 {
				t.Errorf("m: %v, %v; want mode 0700", fi, err)
			}
			if fi, err := os.Stat(filepath.Join(dst, "a", "b")); err != nil || !fi.ModTime().Equal(newer) {
				t.Errorf("a/b: %v, %v; want mtime %v", fi, err, newer)
			}
			for _, rel := range []string{".", "a", "a/b/c", "o", "x"} {
				fi, err := os.Stat(filepath.Join(dst, rel))
				if err != nil || !fi.ModTime().Equal(old) {
					t.Errorf("%s: %v, %v; want mtime %v", rel, fi, err, old)
				}
			}
			if os.Geteuid() == 0 {
				var st unix.Stat_t
				if err := unix.Stat(filepath.Join(dst, "o"), &st); err != nil || st.Uid != 1234 || st.Gid != 5678 {
					t.Errorf("o: owner %d:%d, %v; want 1234:5678", st.Uid, st.Gid, err)
				}
			}
			v := make([]byte, 16)
			if n, err := unix.Getxattr(filepath.Join(src, "x"), "user.cvv-test", v); err == nil && n == 4 {
				n, err = unix.Getxattr(filepath.Join(dst, "x"), "user.cvv-test", v)
				if err != nil || string(v[:max(n, 0)]) != "kept" {
					t.Errorf("x: user.cvv-test %q, %v; want \"kept\"", v[:max(n, 0)], err)
				}
			}
			// Put the source back for the next engine.
			if err := os.Chmod(filepath.Join(src, "m"), 0o750); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(filepath.Join(src, "a", "b"), old, old); err != nil {
				t.Fatal(err)
			}
		})
	}
}
