package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for rel, data := range files {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// smokeRaw writes a complete one-run raw directory for tools on disk.
func smokeRaw(t *testing.T, tools ...string) string {
	t.Helper()
	raw := filepath.Join(t.TempDir(), "raw")
	quoted := make([]string, len(tools))
	files := map[string]string{
		"workloads/big.json": `{"name":"big","bytes":1073741824,"files":1}`,
	}
	for i, tool := range tools {
		quoted[i] = fmt.Sprintf("%q", tool)
		cell := "disk/big/d1/" + tool + "/"
		wall := 1.0 + float64(i)
		files[cell+"run1.json"] = fmt.Sprintf(`{"results":[{"command":%q,"times":[%g],"user":0.1,"system":0.2,"exit_codes":[0]}]}`, tool, wall)
		files[cell+"rusage.jsonl"] = fmt.Sprintf(`{"wall_s":%g,"user_s":0.1,"sys_s":0.2,"maxrss_kib":20480,"exit":0}`+"\n", wall)
	}
	files["plan.json"] = fmt.Sprintf(`{"profile":"smoke","runs":1,"targets":["disk"],"workloads":["big"],"dests":[1],"tools":[%s]}`, strings.Join(quoted, ","))
	writeFiles(t, raw, files)
	return raw
}

func TestReport(t *testing.T) {
	raw := smokeRaw(t, "cvv-transfer", "cp")
	out := filepath.Join(filepath.Dir(raw), "out")
	var stdout bytes.Buffer
	if err := run([]string{"report", "-raw", raw, "-out", out, "-link", "bench/results/x", "-reproduce", "make bench"}, &stdout); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"report.md", "summary.md", "results.csv", "targets.csv", "throughput.png"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if !strings.Contains(stdout.String(), "goal 1 PASS  cvv transfer / cp (wall)") {
		t.Errorf("stdout lacks the goal 1 verdict:\n%s", stdout.String())
	}
	md, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "| big | 1 | cvv-transfer | 1 | 1074 | 1074-1074 | 0.30 | 20.0 | 0.50x | - | - |") {
		t.Errorf("report.md lacks the cvv row:\n%s", md)
	}
	sum, err := os.ReadFile(filepath.Join(out, "summary.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"![source MB/s by workload, destinations and tool](bench/results/x/throughput.png)",
		"| target | workload | dests | cvv-transfer | cp | cvv/cp | cvv/rsync |",
		"| disk | big | 1 | 1074 | 537 | 0.50x | - |",
		"[bench/results/x/report.md](bench/results/x/report.md)",
		"Reproduce with `make bench`.",
	} {
		if !strings.Contains(string(sum), want) {
			t.Errorf("summary.md lacks %q:\n%s", want, sum)
		}
	}
	// The default output directory is the parent of raw.
	if err := run([]string{"report", "-raw", raw}, &stdout); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(raw), "report.md")); err != nil {
		t.Error(err)
	}
}

func TestReportFailsWhenIncomplete(t *testing.T) {
	raw := smokeRaw(t, "cvv-transfer", "cp")
	// A contender that never ran and one that failed.
	plan := `{"profile":"smoke","runs":1,"targets":["disk"],"workloads":["big"],"dests":[1],"tools":["cvv-transfer","cp","rsync"]}`
	writeFiles(t, raw, map[string]string{
		"plan.json":                      plan,
		"disk/big/d1/cp/rusage.jsonl":    `{"wall_s":2,"user_s":0.1,"sys_s":0.2,"maxrss_kib":2048,"exit":1}` + "\n",
		"disk/big/d1/cp/run1.json":       `{"results":[{"command":"cp","times":[2],"user":0.1,"system":0.2,"exit_codes":[1]}]}`,
		"disk/big/d1/cvv-transfer/x.txt": "ignored",
	})
	out := t.TempDir()
	err := run([]string{"report", "-raw", raw, "-out", out}, new(bytes.Buffer))
	if err == nil {
		t.Fatal("report of an incomplete run succeeded")
	}
	for _, want := range []string{"disk/big/d1/rsync: no measurement", "disk/big/d1/cp: 1 failed run(s)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	// What could be written is written, for the post-mortem.
	if _, err := os.Stat(filepath.Join(out, "report.md")); err != nil {
		t.Error(err)
	}
}

func TestSweepAndUsage(t *testing.T) {
	raw := smokeRaw(t, "cvv-bs1M-qd8", "cvv-bs4M-qd8", "cvv-bs1M-qd32")
	out := t.TempDir()
	var stdout bytes.Buffer
	if err := run([]string{"sweep", "-raw", raw, "-out", out}, &stdout); err != nil {
		t.Fatal(err)
	}
	// cvv-bs1M-qd8 has the shortest wall time (1 s).
	if !strings.Contains(stdout.String(), "best: block 1M, queue depth 8, 1074 MB/s") {
		t.Errorf("sweep output:\n%s", stdout.String())
	}
	if _, err := os.Stat(filepath.Join(out, "sweep.md")); err != nil {
		t.Error(err)
	}
	if err := run([]string{"sweep", "-raw", smokeRaw(t, "cp")}, &stdout); err == nil {
		t.Error("sweep without sweep cells succeeded")
	}
	for _, args := range [][]string{nil, {"report"}, {"bogus", "-raw", raw}, {"report", "-raw", t.TempDir()}} {
		if err := run(args, &stdout); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}
