//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cvv-project/cvv/internal/atomicfile"
	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/sys/unix"
)

// TestMain makes the test binary act as the real cvv command when the
// scripts (and the Go tests) run "cvv".
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"cvv": cvvMain})
}

// engines are the engines the scripts run with: the portable one always,
// the io_uring one when the kernel offers it. CVV_ENGINE in the test's
// environment narrows the set to one.
func engines(t *testing.T) []string {
	if e := os.Getenv("CVV_ENGINE"); e != "" {
		return []string{e}
	}
	es := []string{"fallback"}
	if uringAvailable() {
		es = append(es, "uring")
	} else {
		t.Log("io_uring is not available: the scripts run with the portable engine only")
	}
	return es
}

func uringAvailable() bool {
	eng, _, err := openProbe()
	if err != nil {
		return false
	}
	eng.Close()
	return true
}

// TestScript runs the scripts in testdata/script with every engine.
func TestScript(t *testing.T) {
	for _, eng := range engines(t) {
		t.Run(eng, func(t *testing.T) {
			testscript.Run(t, scriptParams(eng))
		})
	}
}

func scriptParams(engine string) testscript.Params {
	return testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("CVV_ENGINE", engine)
			env.Setenv("NO_COLOR", "1")
			return nil
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "root":
				return os.Geteuid() == 0, nil
			case "testhooks":
				return testHooks, nil
			case "uring":
				return engine == "uring", nil
			case "shareddisk":
				return onBlockDevice(os.TempDir()), nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"mkdata":     cmdMkdata,
			"cmptree":    cmdCmptree,
			"checkjson":  cmdCheckjson,
			"mounttmpfs": cmdMountTmpfs,
			"notemps":    cmdNotemps,
			"robind":     cmdRobind,
		},
	}
}

// onBlockDevice reports whether dir's filesystem sits on a block device,
// so that destinations made side by side in a script's $WORK below it are
// on the same device (and cvv warns that they are).
func onBlockDevice(dir string) bool {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return false
	}
	dev := uint64(st.Dev)
	_, err := os.Stat(fmt.Sprintf("/sys/dev/block/%d:%d", unix.Major(dev), unix.Minor(dev)))
	return err == nil
}

// mkdata PATH SIZE [SEED] writes SIZE (K/M suffixes allowed) pseudo-random
// bytes to PATH, creating its parents.
func cmdMkdata(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 || len(args) > 3 {
		ts.Fatalf("usage: mkdata PATH SIZE [SEED]")
	}
	size := parseScriptSize(ts, args[1])
	seed := uint64(1)
	if len(args) == 3 {
		s, err := strconv.ParseUint(args[2], 10, 64)
		ts.Check(err)
		seed = s
	}
	rng := rand.New(rand.NewPCG(seed, size))
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	p := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(filepath.Dir(p), 0o755))
	ts.Check(os.WriteFile(p, b, 0o644))
}

func parseScriptSize(ts *testscript.TestScript, s string) uint64 {
	mult := uint64(1)
	switch {
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, strings.TrimSuffix(s, "K")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	}
	n, err := strconv.ParseUint(s, 10, 64)
	ts.Check(err)
	return n * mult
}

// cmptree [-nomtime] [-extra] SRC DST checks that DST holds a faithful copy
// of SRC: the same regular files (content, permissions, mtime), directories
// (permissions, mtime), symlinks (targets); FIFOs, sockets and devices in
// SRC must be absent from DST. -nomtime skips modes and times (for
// --no-preserve); -extra allows entries in DST that SRC lacks (manifests).
func cmdCmptree(ts *testscript.TestScript, neg bool, args []string) {
	checkMeta, allowExtra := true, false
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "-nomtime":
			checkMeta = false
		case "-extra":
			allowExtra = true
		default:
			ts.Fatalf("cmptree: unknown flag %s", args[0])
		}
		args = args[1:]
	}
	if len(args) != 2 {
		ts.Fatalf("usage: cmptree [-nomtime] [-extra] SRC DST")
	}
	diffs := compareTrees(ts.MkAbs(args[0]), ts.MkAbs(args[1]), checkMeta, allowExtra)
	if neg {
		if len(diffs) == 0 {
			ts.Fatalf("trees are identical")
		}
		return
	}
	if len(diffs) > 0 {
		ts.Fatalf("trees differ:\n%s", strings.Join(diffs, "\n"))
	}
}

func compareTrees(src, dst string, checkMeta, allowExtra bool) []string {
	var diffs []string
	add := func(format string, a ...any) { diffs = append(diffs, fmt.Sprintf(format, a...)) }
	seen := map[string]bool{}
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		seen[rel] = true
		q := filepath.Join(dst, rel)
		si, err := os.Lstat(p)
		if err != nil {
			return err
		}
		di, err := os.Lstat(q)
		if si.Mode()&(fs.ModeNamedPipe|fs.ModeSocket|fs.ModeDevice|fs.ModeCharDevice) != 0 {
			if err == nil {
				add("%q: special file was copied", rel)
			}
			return nil
		}
		if err != nil {
			add("%q: missing in copy: %v", rel, err)
			if si.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if si.Mode().Type() != di.Mode().Type() {
			add("%q: type %v, copy has %v", rel, si.Mode().Type(), di.Mode().Type())
			return nil
		}
		switch {
		case si.Mode()&fs.ModeSymlink != 0:
			a, _ := os.Readlink(p)
			b, _ := os.Readlink(q)
			if a != b {
				add("%q: link to %q, copy links to %q", rel, a, b)
			}
			return nil
		case si.Mode().IsRegular():
			a, err1 := os.ReadFile(p)
			b, err2 := os.ReadFile(q)
			if err1 != nil || err2 != nil {
				add("%q: read: %v %v", rel, err1, err2)
			} else if string(a) != string(b) {
				add("%q: content differs (%d vs %d bytes)", rel, len(a), len(b))
			}
		}
		if checkMeta {
			if si.Mode().Perm() != di.Mode().Perm() {
				add("%q: mode %v, copy has %v", rel, si.Mode().Perm(), di.Mode().Perm())
			}
			if !si.ModTime().Equal(di.ModTime()) {
				add("%q: mtime %v, copy has %v", rel, si.ModTime(), di.ModTime())
			}
		}
		return nil
	})
	if err != nil {
		add("walking %s: %v", src, err)
	}
	filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(dst, p)
		if atomicfile.IsTempName(d.Name()) {
			add("%q: temp file left behind", rel)
		} else if !seen[rel] && !allowExtra {
			add("%q: in copy only", rel)
		}
		return nil
	})
	return diffs
}

// notemps DIR fails if a cvv temp file is anywhere under DIR.
func cmdNotemps(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: notemps DIR")
	}
	var found []string
	filepath.WalkDir(ts.MkAbs(args[0]), func(p string, d fs.DirEntry, err error) error {
		if err == nil && atomicfile.IsTempName(d.Name()) {
			found = append(found, p)
		}
		return nil
	})
	if neg != (len(found) == 0) {
		return
	}
	if neg {
		ts.Fatalf("no temp files")
	}
	ts.Fatalf("temp files left: %q", found)
}

// mounttmpfs DIR SIZE [ro] mounts a tmpfs of SIZE on DIR (created) for the
// rest of the script. Root only.
func cmdMountTmpfs(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 || len(args) > 3 {
		ts.Fatalf("usage: mounttmpfs DIR SIZE [ro]")
	}
	dir := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(dir, 0o755))
	var flags uintptr
	if len(args) == 3 && args[2] == "ro" {
		flags |= unix.MS_RDONLY
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", flags, "size="+args[1]); err != nil {
		ts.Fatalf("mount tmpfs on %s: %v", dir, err)
	}
	ts.Defer(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			ts.Logf("unmount %s: %v", dir, err)
		}
	})
}

// robind DIR bind-mounts DIR onto itself read-only (as root) until the
// script ends: read-only media, a real EROFS from the kernel.
func cmdRobind(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: robind DIR")
	}
	dir := ts.MkAbs(args[0])
	if err := unix.Mount(dir, dir, "", unix.MS_BIND, ""); err != nil {
		ts.Fatalf("bind mount %s: %v", dir, err)
	}
	ts.Defer(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			ts.Logf("unmount %s: %v", dir, err)
		}
	})
	if err := unix.Mount("", dir, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		ts.Fatalf("remount %s read-only: %v", dir, err)
	}
}

// event fields every --json event of a kind must carry, with their JSON
// types ("s" string, "n" number, "b" boolean, "a" array, "o" object, "n?"
// number or null).
var eventFields = map[string]map[string]string{
	"start": {"version": "n", "time": "s", "source": "s", "source_is_dir": "b", "dests": "a", "mode": "s",
		"hash": "s", "engine": "s", "jobs": "n", "verify_after": "b", "files": "n", "dirs": "n",
		"symlinks": "n", "bytes": "n", "files_to_copy": "n", "bytes_to_copy": "n", "writes": "a"},
	"progress": {"time": "s", "phase": "s", "bytes_done": "n", "bytes_total": "n", "files_done": "n",
		"files_total": "n", "files_verified": "n", "bytes_per_sec": "n", "eta_seconds": "n?", "current": "a",
		"verify_bytes_done": "n", "verify_bytes_total": "n", "verify_bytes_per_sec": "n", "verify_eta_seconds": "n?"},
	"file": {"time": "s", "path": "s", "size": "n", "hash_alg": "s", "hash": "s", "seconds": "n",
		"bytes_per_sec": "n", "dests": "a", "hash_reused": "b"},
	"verify": {"time": "s", "path": "s", "mode": "s", "hash_alg": "s", "hash": "s", "source": "o",
		"dests": "a", "ok": "b", "hash_reused": "b"},
	"warning":         {"time": "s", "path": "s", "message": "s"},
	"notice":          {"time": "s", "path": "s", "message": "s"},
	"error":           {"time": "s", "path": "s", "dest": "s", "message": "s"},
	"hashfile":        {"time": "s", "path": "s"},
	"report":          {"time": "s", "path": "s"},
	"source_released": {"time": "s", "source": "s", "seconds": "n", "reads": "n", "pending": "a"},
	"cascade": {"time": "s", "path": "s", "size": "n", "mode": "s", "hash_alg": "s", "hash": "s",
		"from": "s", "seconds": "n", "bytes_per_sec": "n", "dests": "a", "ok": "b"},
	"summary": {"time": "s", "files": "n", "files_copied": "n", "files_skipped": "n", "files_failed": "n",
		"files_verified": "n", "symlinks": "n", "dirs": "n", "failures": "n", "warnings": "n", "bytes": "n",
		"bytes_copied": "n", "seconds": "n", "bytes_per_sec": "n", "interrupted": "b", "ok": "b",
		"files_not_verified": "n", "files_not_started": "n", "files_hash_reused": "n", "dests": "a"},
}

var destFields = map[string]string{"path": "s", "status": "s"}

func jsonType(v any) string {
	switch v.(type) {
	case string:
		return "s"
	case float64:
		return "n"
	case bool:
		return "b"
	case []any:
		return "a"
	case map[string]any:
		return "o"
	case nil:
		return "null"
	}
	return "?"
}

// checkjson FILE checks that FILE (usually stdout) is a stream of --json
// events that follow the documented schema (docs/JSON.md): one object a line,
// a known "event", every field of that event with its type, "start" first
// and "summary" last.
func cmdCheckjson(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: checkjson FILE")
	}
	data := ts.ReadFile(args[0])
	lines := strings.Split(strings.TrimSuffix(data, "\n"), "\n")
	if len(lines) < 2 {
		ts.Fatalf("%d events, want at least start and summary", len(lines))
	}
	for i, line := range lines {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			ts.Fatalf("line %d is not a JSON object: %v: %q", i+1, err, line)
		}
		kind, _ := ev["event"].(string)
		fields, ok := eventFields[kind]
		if !ok {
			ts.Fatalf("line %d: unknown event %q", i+1, kind)
		}
		if i == 0 && kind != "start" {
			ts.Fatalf("first event is %q, want start", kind)
		}
		if i == len(lines)-1 && kind != "summary" {
			ts.Fatalf("last event is %q, want summary", kind)
		}
		for name, typ := range fields {
			v, ok := ev[name]
			if !ok {
				ts.Fatalf("line %d (%s): no field %q", i+1, kind, name)
			}
			got := jsonType(v)
			if got != strings.TrimSuffix(typ, "?") && !(strings.HasSuffix(typ, "?") && got == "null") {
				ts.Fatalf("line %d (%s): field %q is %s, want %s", i+1, kind, name, got, typ)
			}
		}
		if kind == "file" || kind == "verify" {
			for _, d := range ev["dests"].([]any) {
				dm, ok := d.(map[string]any)
				if !ok {
					ts.Fatalf("line %d: dest is not an object", i+1)
				}
				for name, typ := range destFields {
					if jsonType(dm[name]) != typ {
						ts.Fatalf("line %d: dest field %q is %s, want %s", i+1, name, jsonType(dm[name]), typ)
					}
				}
			}
		}
	}
}
