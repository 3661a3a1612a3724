//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/sys/unix"

	"github.com/cvv-project/cvv/cmd/internal/command"
)

// roSourceEnv names the directory where cvvMain logs each run it made with a
// read-only source; when it is set, every copy run sees its source through a
// read-only bind mount.
const roSourceEnv = "CVV_TEST_RO_SOURCE"

// cvvMain is the cvv the scripts run. With $CVV_TEST_RO_SOURCE set, a copy
// run gets its source bind-mounted read-only onto itself for the length of
// the run, so that any write cvv attempts under the source fails (EROFS) and
// the script that made it fails.
func cvvMain() {
	if log := os.Getenv(roSourceEnv); log != "" {
		if undo := readOnlySource(log, os.Args[1:]); undo != nil {
			code := command.Run(context.Background(), os.Args)
			undo()
			os.Exit(code)
		}
	}
	main()
}

// valueFlags are the copy flags that take a value as the next argument.
var valueFlags = map[string]bool{
	"-m": true, "--mode": true, "--hash": true, "--hash-file": true, "--hash-file-dest": true,
	"--engine": true, "--block-size": true, "--queue-depth": true, "-j": true, "--jobs": true,
	"--on-conflict": true, "--exclude": true, "--shard": true, "--report": true,
}

// sourceArg returns the SOURCE of a copy command line ("" for a
// subcommand, or when none is found).
func sourceArg(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "verify" || a == "hash" || a == "help" || a == "version":
			return ""
		case strings.HasPrefix(a, "-") && a != "-":
			if valueFlags[a] {
				i++
			}
			continue
		}
		return a
	}
	return ""
}

// readOnlySource bind-mounts the source of the command line args read-only
// onto itself and returns what undoes it; nil when the run is left alone: no
// copy, a source that does not exist, manifests asked for in the source
// (--hash-file-dest source or both), or a test hook that changes the source
// on purpose. The mount is checked: a file cannot be created under it.
func readOnlySource(logDir string, args []string) (undo func()) {
	if os.Getenv("CVV_TEST_BEFORE_VERIFY") != "" {
		return nil
	}
	for i, a := range args {
		if (a == "--hash-file-dest" && i+1 < len(args) && args[i+1] != "dest") || strings.HasPrefix(a, "--hash-file-dest=") && !strings.HasSuffix(a, "=dest") {
			return nil
		}
	}
	src := sourceArg(args)
	if src == "" {
		return nil
	}
	real, err := filepath.EvalSymlinks(src)
	if err != nil {
		return nil
	}
	real, _ = filepath.Abs(real)
	fail := func(format string, a ...any) {
		fmt.Fprintf(os.Stderr, "cvv test: read-only source: "+format+"\n", a...)
		os.Exit(99)
	}
	if err := unix.Mount(real, real, "", unix.MS_BIND, ""); err != nil {
		fail("mount --bind %s: %v", real, err)
	}
	if err := unix.Mount("", real, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		unix.Unmount(real, unix.MNT_DETACH)
		fail("remount %s read-only: %v", real, err)
	}
	probe := filepath.Join(real, ".cvv-ro-probe")
	if fi, err := os.Stat(real); err == nil && !fi.IsDir() {
		probe = real
	}
	if f, err := os.OpenFile(probe, os.O_WRONLY|os.O_CREATE, 0o600); err == nil {
		f.Close()
		fail("%s is writable", probe)
	}
	if f, err := os.OpenFile(filepath.Join(logDir, "runs"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600); err == nil {
		fmt.Fprintln(f, real)
		f.Close()
	}
	return func() {
		if err := unix.Unmount(real, unix.MNT_DETACH); err != nil {
			fmt.Fprintf(os.Stderr, "cvv test: umount %s: %v\n", real, err)
		}
	}
}

// TestScriptReadOnlySource runs the scripts again with every copy's source
// behind a read-only bind mount (issue 9: the source is read-only to cvv).
// A write under a source, by either engine, fails the script that caused it.
func TestScriptReadOnlySource(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("bind mounts need root")
	}
	es := engines(t)
	if testing.Short() {
		es = es[len(es)-1:]
	}
	for _, eng := range es {
		t.Run(eng, func(t *testing.T) {
			logDir := t.TempDir()
			p := scriptParams(eng)
			setup := p.Setup
			p.Setup = func(env *testscript.Env) error {
				env.Setenv(roSourceEnv, logDir)
				return setup(env)
			}
			// The scripts run as parallel subtests: count once they are done.
			t.Cleanup(func() {
				data, _ := os.ReadFile(filepath.Join(logDir, "runs"))
				runs := strings.Count(string(data), "\n")
				t.Logf("%d runs had a read-only source", runs)
				if runs == 0 && !t.Failed() {
					t.Errorf("no run had a read-only source: the wrapper does not see the scripts' sources")
				}
			})
			testscript.Run(t, p)
		})
	}
}
