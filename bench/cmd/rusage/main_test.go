//go:build unix

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain lets the test binary act as a child that holds memory.
func TestMain(m *testing.M) {
	if os.Getenv("RUSAGE_TEST_ALLOC_MIB") != "" {
		buf := make([]byte, 96<<20)
		for i := range buf {
			if i%4096 == 0 {
				buf[i] = 1 // touch every page so it is resident
			}
		}
		os.Exit(int(buf[4096]) + 4) // exit 5, and keep buf alive
	}
	os.Exit(m.Run())
}

func readRecords(t *testing.T, path string) []record {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rs []record
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		rs = append(rs, r)
	}
	return rs
}

func TestRecordsChildMemoryAndExit(t *testing.T) {
	out := filepath.Join(t.TempDir(), "r.jsonl")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("RUSAGE_TEST_ALLOC_MIB", "96")
	// Through sh -c, so the memory is a grandchild's: it must still count.
	code, err := run([]string{"-o", out, "-label", "alloc", "--", exe + " -test.run=none"})
	if err != nil {
		t.Fatal(err)
	}
	if code != 5 {
		t.Errorf("exit %d, want the child's 5", code)
	}
	t.Setenv("RUSAGE_TEST_ALLOC_MIB", "")
	if code, err := run([]string{"-o", out, "--", "true"}); err != nil || code != 0 {
		t.Fatalf("true: %d, %v", code, err)
	}
	rs := readRecords(t, out)
	if len(rs) != 2 {
		t.Fatalf("%d records, want 2 appended", len(rs))
	}
	a := rs[0]
	if a.Label != "alloc" || a.Exit != 5 {
		t.Errorf("record %+v", a)
	}
	if a.MaxRSSKiB < 96<<10 || a.MaxRSSKiB > 1<<20 {
		t.Errorf("maxrss %d KiB, want at least 96 MiB", a.MaxRSSKiB)
	}
	if a.Wall <= 0 || a.User+a.Sys <= 0 || a.User+a.Sys > 60 {
		t.Errorf("wall %v cpu %v+%v", a.Wall, a.User, a.Sys)
	}
	if rs[1].Exit != 0 || rs[1].MaxRSSKiB >= a.MaxRSSKiB {
		t.Errorf("second record %+v", rs[1])
	}
}

func TestSignalAndErrors(t *testing.T) {
	out := filepath.Join(t.TempDir(), "r.jsonl")
	code, err := run([]string{"-o", out, "--", "kill -TERM $$"})
	if err != nil || code != 128+15 {
		t.Errorf("killed child: code %d, %v; want 143", code, err)
	}
	if rs := readRecords(t, out); rs[0].Exit != 143 {
		t.Errorf("recorded exit %d", rs[0].Exit)
	}
	if code, err := run([]string{"--", "true"}); err == nil || code != 2 {
		t.Errorf("without -o: %d, %v", code, err)
	}
	if code, err := run([]string{"-o", out, "--", "/nonexistent/prog", "x"}); err == nil || code != 127 {
		t.Errorf("missing program: %d, %v", code, err)
	}
	if code, err := run([]string{"-o", filepath.Join(out, "sub", "x"), "--", "true"}); err == nil || code != 1 {
		t.Errorf("unwritable record: %d, %v", code, err)
	}
}
