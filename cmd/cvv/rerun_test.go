//go:build linux

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

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
