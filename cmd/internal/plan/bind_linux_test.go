package plan

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cvv-project/cvv/cmd/internal/usage"
	"golang.org/x/sys/unix"
)

// bindMount mounts dir on at (created) until the test ends. Root only.
func bindMount(t *testing.T, dir, at string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("bind mounts need root")
	}
	if err := os.MkdirAll(at, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(dir, at, "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("mount --bind %s %s: %v", dir, at, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(at, unix.MNT_DETACH); err != nil {
			t.Errorf("umount %s: %v", at, err)
		}
	})
}

// Overlaps that only the device and inode numbers show: the paths reach the
// source, or a destination, through a bind mount.
func TestResolveBindMounts(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "top", "src")
	write(t, filepath.Join(src, "sub", "g"), "x")
	other := t.TempDir()
	bindMount(t, src, filepath.Join(other, "srcbind"))
	bindMount(t, filepath.Join(src, "sub"), filepath.Join(other, "subbind"))
	bindMount(t, filepath.Join(dir, "top"), filepath.Join(other, "topbind"))
	cases := []struct {
		name, src, dest, msg string
	}{
		{"dest is source", src, filepath.Join(other, "srcbind"), "is the source"},
		{"dest inside source", src, filepath.Join(other, "srcbind", "new"), "inside the source"},
		{"dest in source subdir", src, filepath.Join(other, "subbind", "new"), "inside the source"},
		{"dest holds source", src, filepath.Join(other, "topbind"), "holds the source"},
		// The source reached through a bind mount of its parent: only the
		// filesystem's own ancestors (mountinfo) show that dir holds it.
		{"source through a bind", filepath.Join(other, "topbind", "src"), dir, "holds the source"},
	}
	for _, c := range cases {
		_, err := Resolve(c.src, []string{c.dest}, ResolveOptions{})
		if !errors.Is(err, usage.ErrUsage) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: err = %v, want one containing %q", c.name, err, c.msg)
		}
	}
}

// A destination mounted inside the source is found by the walk.
func TestCheckTreeBindMount(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	write(t, filepath.Join(src, "f"), "x")
	dest := filepath.Join(dir, "dest")
	if err := os.Mkdir(dest, 0o755); err != nil {
		t.Fatal(err)
	}
	bindMount(t, dest, filepath.Join(src, "m"))
	p, err := Resolve(src, []string{dest}, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := Walk(context.Background(), p.Source)
	if err != nil {
		t.Fatal(err)
	}
	err = p.CheckTree(tr)
	if !errors.Is(err, usage.ErrUsage) || !strings.Contains(err.Error(), "inside the source") || !strings.Contains(err.Error(), `"src/m"`) {
		t.Fatalf("CheckTree = %v", err)
	}
}
