package command

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/cmd/internal/usage"
	"github.com/cvv-project/cvv/hashing/manifest"
)

func TestParseSize(t *testing.T) {
	good := map[string]int64{
		"4096": 4096, "1K": 1 << 10, "256K": 256 << 10, "256k": 256 << 10, "256KiB": 256 << 10,
		"1M": 1 << 20, "1m": 1 << 20, "1MB": 1 << 20, "4MiB": 4 << 20, "2G": 2 << 30, " 8M ": 8 << 20,
	}
	for in, want := range good {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "M", "0", "-1M", "1.5M", "12Q", "1T", "99999999999G"} {
		if _, err := ParseSize(in); !errors.Is(err, usage.ErrUsage) {
			t.Errorf("ParseSize(%q) error = %v, want a usage error", in, err)
		}
	}
}

func TestParseVerifyMode(t *testing.T) {
	for _, m := range []VerifyMode{VerifyTransfer, VerifySource, VerifyFull} {
		got, err := ParseVerifyMode(m.String())
		if err != nil || got != m {
			t.Errorf("ParseVerifyMode(%q) = %v, %v", m, got, err)
		}
	}
	if _, err := ParseVerifyMode("paranoid"); !errors.Is(err, usage.ErrUsage) {
		t.Errorf("ParseVerifyMode(paranoid) error = %v, want a usage error", err)
	}
}

func TestExitStatus(t *testing.T) {
	cases := []struct {
		name string
		err  error
		sig  os.Signal
		want int
	}{
		{"ok", nil, nil, ExitOK},
		{"failures", errFailures, nil, ExitFailure},
		{"disk full", fmt.Errorf("%w: short", cvv.ErrDiskFull), nil, ExitFailure},
		{"usage", usage.Errorf("bad"), nil, ExitUsage},
		{"corrupt manifest", fmt.Errorf("day1.md5: %w: line 3", manifest.ErrCorrupt), nil, ExitUsage},
		{"manifest request refused", fmt.Errorf("hash files: %w", manifest.ErrInvalid), nil, ExitUsage},
		{"wrapped usage", fmt.Errorf("layer: %w", fmt.Errorf("%w: x", usage.ErrUsage)), nil, ExitUsage},
		{"canceled", fmt.Errorf("copy: %w", context.Canceled), nil, ExitSIGINT},
		{"SIGINT", fmt.Errorf("copy: %w", context.Canceled), os.Interrupt, ExitSIGINT},
		{"SIGTERM", fmt.Errorf("copy: %w", context.Canceled), syscall.SIGTERM, ExitSIGTERM},
		{"SIGTERM after success", nil, syscall.SIGTERM, ExitSIGTERM},
	}
	for _, c := range cases {
		if got := exitStatus(c.err, c.sig); got != c.want {
			t.Errorf("%s: exitStatus = %d, want %d", c.name, got, c.want)
		}
	}
}

func TestDisplayName(t *testing.T) {
	cases := map[string]string{
		"a/b.mov":         "a/b.mov",
		"name with space": "name with space",
		"ünïcødé ☃":       "ünïcødé ☃",
		"new\nline":       `"new\nline"`,
		"tab\there":       `"tab\there"`,
		"":                ".",
	}
	for in, want := range cases {
		if got := displayName(in); got != want {
			t.Errorf("displayName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEngineKind(t *testing.T) {
	for _, k := range []EngineKind{EngineAuto, EngineUring, EngineFallback} {
		got, err := ParseEngineKind(k.String())
		if err != nil || got != k {
			t.Errorf("ParseEngineKind(%q) = %v, %v", k.String(), got, err)
		}
	}
	if _, err := ParseEngineKind("spdk"); !errors.Is(err, usage.ErrUsage) {
		t.Errorf("unknown engine: %v, want ErrUsage", err)
	}
}

func TestParseWritePath(t *testing.T) {
	for _, p := range []cvv.WritePath{cvv.WriteAuto, cvv.WriteDirect, cvv.WriteBuffered} {
		got, err := parseWritePath(p.String())
		if err != nil || got != p {
			t.Errorf("parseWritePath(%q) = %v, %v", p.String(), got, err)
		}
	}
	if _, err := parseWritePath("mmap"); !errors.Is(err, usage.ErrUsage) {
		t.Errorf("unknown write path: %v, want ErrUsage", err)
	}
}
