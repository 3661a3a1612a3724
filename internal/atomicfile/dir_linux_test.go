package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// withoutOpenat2 makes openat2 fail with ENOSYS, as on kernels before 5.6,
// until the test ends.
func withoutOpenat2(t *testing.T) {
	old := openat2
	openat2 = func(int, string, *unix.OpenHow) (int, error) { return -1, unix.ENOSYS }
	t.Cleanup(func() {
		openat2 = old
		noOpenat2.Store(false)
	})
}

// TestDirBeneath: below a root, directories are reached only through real
// directories below it: a symlink at any depth (to a directory inside or
// outside the root), "..", an absolute path and a path outside the root
// are refused, with openat2 and with the per-component walk alike.
func TestDirBeneath(t *testing.T) {
	for _, mode := range []string{"openat2", "per-component"} {
		t.Run(mode, func(t *testing.T) {
			if mode == "per-component" {
				withoutOpenat2(t)
			}
			base := t.TempDir()
			rootPath := filepath.Join(base, "root")
			for _, d := range []string{"root/a/b/c", "outside"} {
				if err := os.MkdirAll(filepath.Join(base, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			for link, target := range map[string]string{"root/out": "../outside", "root/a/in": "b", "root/a/b/abs": filepath.Join(base, "outside")} {
				if err := os.Symlink(target, filepath.Join(base, link)); err != nil {
					t.Fatal(err)
				}
			}
			root, err := OpenRoot(rootPath)
			if err != nil {
				t.Fatal(err)
			}
			defer root.Close()
			for _, rel := range []string{"", ".", "a", "a/b", "a/b/c", "a/./b/"} {
				d, err := root.OpenDir(rel)
				if err != nil {
					t.Errorf("OpenDir(%q): %v", rel, err)
					continue
				}
				d.Close()
			}
			for _, rel := range []string{"out", "a/in", "a/in/c", "a/b/abs", "out/x"} {
				if d, err := root.OpenDir(rel); !errors.Is(err, ErrSymlink) {
					t.Errorf("OpenDir(%q) = %v, %v; want ErrSymlink", rel, d, err)
				}
			}
			for _, rel := range []string{"..", "../outside", "a/../../outside", filepath.Join(base, "outside")} {
				if d, err := root.OpenDir(rel); err == nil {
					d.Close()
					t.Errorf("OpenDir(%q) succeeded", rel)
				}
			}
			if _, err := CreatePending(root, filepath.Join(rootPath, "out", "f"), 0); !errors.Is(err, ErrSymlink) {
				t.Errorf("CreatePending through a symlink: %v", err)
			}
			if _, err := CreatePending(root, filepath.Join(base, "outside", "f"), 0); err == nil {
				t.Errorf("CreatePending outside the root succeeded")
			}
			if ents, _ := os.ReadDir(filepath.Join(base, "outside")); len(ents) != 0 {
				t.Errorf("written outside the root: %v", ents)
			}
		})
	}
}

// TestPendingFileBeneath: a pending file below a root is committed
// relative to its directory: a symlink at the final name is replaced
// itself; its target keeps its bytes, mode and time.
func TestPendingFileBeneath(t *testing.T) {
	for _, mode := range []string{"openat2", "per-component"} {
		t.Run(mode, func(t *testing.T) {
			if mode == "per-component" {
				withoutOpenat2(t)
			}
			base := t.TempDir()
			if err := os.MkdirAll(filepath.Join(base, "root", "a"), 0o755); err != nil {
				t.Fatal(err)
			}
			victim := filepath.Join(base, "victim")
			if err := os.WriteFile(victim, []byte("keep"), 0o600); err != nil {
				t.Fatal(err)
			}
			before, _ := os.Stat(victim)
			final := filepath.Join(base, "root", "a", "f")
			if err := os.Symlink(victim, final); err != nil {
				t.Fatal(err)
			}
			root, err := OpenRoot(filepath.Join(base, "root"))
			if err != nil {
				t.Fatal(err)
			}
			defer root.Close()
			pf, err := CreatePending(root, final, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := pf.File.WriteString("new"); err != nil {
				t.Fatal(err)
			}
			if err := pf.Commit(&SourceAttrs{Mode: 0o644, ModTime: before.ModTime().Add(-1e9)}, SyncFull); err != nil {
				t.Fatal(err)
			}
			if b, err := os.ReadFile(final); err != nil || string(b) != "new" {
				t.Errorf("final = %q, %v", b, err)
			}
			after, _ := os.Stat(victim)
			if b, _ := os.ReadFile(victim); string(b) != "keep" || after.Mode() != before.Mode() || !after.ModTime().Equal(before.ModTime()) {
				t.Errorf("the link's target changed: %q %v %v", b, after.Mode(), after.ModTime())
			}
		})
	}
}

// TestDirAttrsNotFollowed: Chmod and Chtimes of a name that is a symlink
// never reach the link's target.
func TestDirAttrsNotFollowed(t *testing.T) {
	base := t.TempDir()
	victim := filepath.Join(base, "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(victim)
	if err := os.Mkdir(filepath.Join(base, "root"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(base, "root", "l")); err != nil {
		t.Fatal(err)
	}
	root, err := OpenRoot(filepath.Join(base, "root"))
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if err := root.Chmod("l", 0o777); err == nil {
		t.Errorf("Chmod of a symlink succeeded")
	}
	if err := root.Chtimes("l", before.ModTime().Add(-3600e9)); err != nil {
		t.Errorf("Chtimes of the symlink itself: %v", err)
	}
	after, _ := os.Stat(victim)
	if after.Mode() != before.Mode() || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("the link's target changed: %v %v, was %v %v", after.Mode(), after.ModTime(), before.Mode(), before.ModTime())
	}
	if err := os.WriteFile(filepath.Join(base, "root", "f"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := root.Chmod("f", 0o640); err != nil {
		t.Errorf("Chmod of a file: %v", err)
	}
	if fi, _ := os.Stat(filepath.Join(base, "root", "f")); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", fi.Mode().Perm())
	}
}

// TestDirOpenFile: Dir.OpenFile opens a regular file for reading and
// refuses a symlink in its place (ErrSymlink, the target unread) and a
// FIFO (without blocking); FilePath and NamePath name the open file and the
// name in the directory whatever happens to the directory's path after.
func TestDirOpenFile(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "root")
	for _, d := range []string{root, filepath.Join(base, "outside")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for p, data := range map[string]string{"root/f": "in", "outside/f": "out"} {
		if err := os.WriteFile(filepath.Join(base, p), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("../outside/f", filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.OpenFile("link"); !errors.Is(err, ErrSymlink) {
		t.Errorf("OpenFile(link): %v, want ErrSymlink", err)
	}
	if _, err := d.OpenFile("fifo"); err == nil {
		t.Error("OpenFile(fifo) opened a FIFO")
	}
	f, err := d.OpenFile("f")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// The root's path now leads elsewhere: the open file and the
	// directory's descriptor still name what they named.
	if err := os.Rename(root, filepath.Join(base, "moved")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("outside", root); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(FilePath(f)); err != nil || string(b) != "in" {
		t.Errorf("read through FilePath: %q, %v, want \"in\"", b, err)
	}
	if _, err := os.Lstat(d.NamePath("f")); err != nil {
		t.Errorf("lstat through NamePath: %v", err)
	}
	if b, err := os.ReadFile(d.NamePath("f")); err != nil || string(b) != "in" {
		t.Errorf("read through NamePath: %q, %v, want \"in\"", b, err)
	}
}

// TestDirCloseOnce checks that a directory's descriptor is closed once
// even when close(2) returns EINTR: on Linux it is gone by then, and a
// second close could close another goroutine's new descriptor.
func TestDirCloseOnce(t *testing.T) {
	calls := 0
	old := closeFD
	closeFD = func(int) error {
		calls++
		if calls == 1 {
			return unix.EINTR
		}
		return nil
	}
	defer func() { closeFD = old }()
	if err := (dirSys{fd: -1}).close(); err != nil || calls != 1 {
		t.Fatalf("close: %v after %d close calls, want nil after 1", err, calls)
	}
}
