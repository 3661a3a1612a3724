package command

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/uring"
)

// version and commit are stamped in by the release build (make release):
//
//	-X github.com/cvv-project/cvv/cmd/internal/command.version=$(git describe)
//
// Left empty, they come from the module and VCS data the go command records.
var (
	version string
	commit  string
)

// buildVersion returns the version and the commit of this binary.
func buildVersion() (ver, rev string) {
	ver, rev = version, commit
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return orDefault(ver, "devel"), orDefault(rev, "unknown")
	}
	if ver == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		ver = bi.Main.Version
	}
	if rev == "" {
		modified := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if rev != "" && modified {
			rev += " (modified)"
		}
	}
	return orDefault(ver, "devel"), orDefault(rev, "unknown")
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// uringStatus says whether this kernel offers io_uring to cvv, probing as
// --engine auto does, and why not.
func uringStatus() string {
	e, err := uring.New(cvv.Options{BlockSize: 4096, QueueDepth: 1})
	if err != nil {
		return "unavailable (" + err.Error() + "): --engine auto uses the portable engine"
	}
	if err := e.Close(); err != nil {
		return "available, but closing the probe ring failed: " + err.Error()
	}
	s := "available: --engine auto uses it"
	if env := os.Getenv("CVV_ENGINE"); env != "" {
		s += " (CVV_ENGINE=" + env + " overrides auto)"
	}
	return s
}

// kernelRelease returns the running Linux kernel's release, or "".
func kernelRelease() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// printVersion writes what cvv --version shows.
func printVersion(w io.Writer) {
	ver, rev := buildVersion()
	fmt.Fprintf(w, "cvv %s\n", ver)
	fmt.Fprintf(w, "commit:   %s\n", rev)
	fmt.Fprintf(w, "go:       %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	kern := runtime.GOOS
	if k := kernelRelease(); k != "" {
		kern += " " + k
	}
	fmt.Fprintf(w, "kernel:   %s\n", kern)
	fmt.Fprintf(w, "io_uring: %s\n", uringStatus())
}
