package faults

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBadInput: every malformed invocation gets one line of error on
// stderr, status 2, and writes or deletes nothing.
func TestBadInput(t *testing.T) {
	work := t.TempDir()
	src := filepath.Join(work, "src")
	buildTree(t, src, treeSpec{Large: 1, LargeSize: 64 << 10, Small: 5})
	file := filepath.Join(work, "file.txt")
	if err := os.WriteFile(file, []byte("a regular file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	existing := filepath.Join(work, "existing")
	writeRandom(t, filepath.Join(existing, "keep.bin"), 1000, 7)
	one := filepath.Join(src, "large", "clip00.mov")
	d1 := filepath.Join(work, "d1")

	cases := []struct {
		name string
		args []string
	}{
		{"no arguments", nil},
		{"missing source", []string{filepath.Join(work, "nope"), d1}},
		{"missing file source", []string{filepath.Join(src, "nope.mov"), d1}},
		{"no destination", []string{src}},
		{"no destination for a file", []string{one}},
		{"destination is the source", []string{src, src}},
		{"destination is the source, spelled differently", []string{src, src + "/./"}},
		{"destination inside the source", []string{src, filepath.Join(src, "sub")}},
		{"destination deep inside the source", []string{src, d1, filepath.Join(src, "small", "d1", "copy")}},
		{"file source onto itself", []string{one, one}},
		{"file source into its own directory", []string{one, filepath.Dir(one) + "/"}},
		{"same destination twice", []string{src, d1, d1}},
		{"same destination twice, spelled differently", []string{src, d1, d1 + "/"}},
		{"same destination twice via ..", []string{src, d1, filepath.Join(work, "x", "..", "d1")}},
		{"directory source onto an existing file", []string{src, file}},
		{"directory source onto an existing file, second dest", []string{src, d1, file}},
		{"destination parent is a file", []string{src, filepath.Join(file, "sub", "d")}},
		{"file destination parent is a file", []string{one, filepath.Join(file, "x.mov")}},
		{"destination parent cannot be created", []string{src, "/proc/cvv-no/such/dir"}},
		{"unknown hash", []string{"--hash", "crc99", src, d1}},
		{"unknown mode", []string{"-m", "paranoid", src, d1}},
		{"unknown engine", []string{"--engine", "warp", src, d1}},
		{"unknown flag", []string{"--frobnicate", src, d1}},
		{"flag after the operands missing its value", []string{src, d1, "--hash"}},
		{"bad flag value after the operands", []string{src, d1, "--hash", "crc99"}},
		{"bad block size", []string{"--block-size", "0", src, d1}},
		{"bad queue depth", []string{"--queue-depth", "0", src, d1}},
		{"bad jobs", []string{"-j", "0", src, d1}},
		{"ask without verify-after", []string{"--ask", src, d1}},
		{"empty source", []string{"", d1}},
		{"empty destination", []string{src, ""}},
	}
	if os.Geteuid() == 0 {
		ro := filepath.Join(work, "ro")
		mkdirs(t, filepath.Join(work, "rw"), ro)
		if err := BindReadOnly(filepath.Join(work, "rw"), ro); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := Unmount(ro); err != nil {
				t.Error(err)
			}
		})
		cases = append(cases, struct {
			name string
			args []string
		}{"destination parent on a read-only filesystem", []string{src, d1, filepath.Join(ro, "new", "d")}})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := snapshot(t, work)
			r := runCVV(t, runOpts{Dir: work}, tc.args...)
			after := snapshot(t, work)
			if r.Code != 2 {
				t.Errorf("exit %d, want 2\n%v", r.Code, r)
			}
			lines := strings.Split(strings.TrimRight(r.Stderr, "\n"), "\n")
			if len(lines) != 1 || strings.TrimSpace(lines[0]) == "" {
				t.Errorf("stderr has %d lines, want one error line:\n%s", len(lines), r.Stderr)
			}
			if strings.TrimSpace(r.Stdout) != "" {
				t.Errorf("stdout is not empty:\n%s", r.Stdout)
			}
			for _, d := range diffSnapshots(before, after) {
				t.Errorf("the run changed the tree: %s", d)
			}
		})
	}
}
