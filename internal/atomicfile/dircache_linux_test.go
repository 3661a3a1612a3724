package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestCheckPath: a root's path leads to it until the directory there is
// another one.
func TestCheckPath(t *testing.T) {
	base := t.TempDir()
	p := filepath.Join(base, "root")
	if err := os.Mkdir(p, 0o755); err != nil {
		t.Fatal(err)
	}
	root, err := OpenRoot(p)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	for range 2 {
		if err := root.CheckPath(); err != nil {
			t.Fatalf("CheckPath of a root in place: %v", err)
		}
	}
	if err := os.Rename(p, p+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(p, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := root.CheckPath(); !errors.Is(err, errGone) {
		t.Errorf("CheckPath of a replaced root: %v, want errGone", err)
	}
}

// TestDirCache: OpenParent lends the directory a root keeps open again
// while it is where the path leads, and never once it is not: a directory
// swapped for a symlink (to a directory outside, or to the very directory
// moved aside) at any depth fails as a symlink, a replaced directory is
// the new one.
func TestDirCache(t *testing.T) {
	base := t.TempDir()
	rootPath := filepath.Join(base, "root")
	for _, d := range []string{"root/a/b", "outside/b"} {
		if err := os.MkdirAll(filepath.Join(base, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	root, err := OpenRoot(rootPath)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	final := filepath.Join(rootPath, "a", "b", "f")
	parent := func() (*Dir, error) {
		d, name, err := OpenParent(root, final)
		if err == nil && name != "f" {
			t.Fatalf("name %q", name)
		}
		return d, err
	}
	d1, err := parent()
	if err != nil {
		t.Fatal(err)
	}
	fd := d1.fd()
	d1.Close()
	d2, err := parent()
	if err != nil {
		t.Fatal(err)
	}
	if d2.fd() != fd {
		t.Errorf("the directory was opened again (fd %d, kept %d)", d2.fd(), fd)
	}
	d2.Close()

	a := filepath.Join(rootPath, "a")
	for _, target := range []string{filepath.Join(base, "outside"), "a.hold"} {
		if err := os.Rename(a, a+".hold"); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, a); err != nil {
			t.Fatal(err)
		}
		if d, err := parent(); !errors.Is(err, ErrSymlink) {
			t.Errorf("a swapped for a symlink to %s: %v, %v; want ErrSymlink", target, d, err)
		}
		if err := os.Remove(a); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(a+".hold", a); err != nil {
			t.Fatal(err)
		}
	}

	b := filepath.Join(a, "b")
	if err := os.Rename(b, b+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(b, 0o755); err != nil {
		t.Fatal(err)
	}
	d3, err := parent()
	if err != nil {
		t.Fatal(err)
	}
	defer d3.Close()
	got, err := d3.Stat()
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.Lstat(b)
	if err != nil {
		t.Fatal(err)
	}
	if !SameFile(got, want) {
		t.Errorf("a replaced directory: lent the old one")
	}
}

// TestDirCacheConcurrent: many users of a few directories at once; once
// the root is closed no descriptor is left open, and a Dir's names can be
// read while others use it.
func TestDirCacheConcurrent(t *testing.T) {
	base := t.TempDir()
	for i := range 40 {
		if err := os.MkdirAll(filepath.Join(base, "root", "d", string(rune('a'+i%26))+string(rune('a'+i/26))), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	before := openFDs(t)
	root, err := OpenRoot(filepath.Join(base, "root"))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for k := range 200 {
				i := (g*7 + k) % 40
				final := filepath.Join(base, "root", "d", string(rune('a'+i%26))+string(rune('a'+i/26)), "f")
				d, _, err := OpenParent(root, final)
				if err != nil {
					t.Error(err)
					return
				}
				if k%50 == 0 {
					if _, err := d.ReadNames(); err != nil {
						t.Error(err)
					}
				}
				if err := d.Close(); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if err := root.Close(); err != nil {
		t.Fatal(err)
	}
	if after := openFDs(t); after != before {
		t.Errorf("%d descriptors open after, %d before", after, before)
	}
}

func openFDs(t *testing.T) int {
	procFDDir() // the process keeps it open: counted before and after alike
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(ents)
}

// BenchmarkLend: OpenParent of a directory the root keeps open, and its
// Close: the lend's check of where the directory is.
func BenchmarkLend(b *testing.B) {
	base := b.TempDir()
	if err := os.MkdirAll(filepath.Join(base, "root", "a", "b"), 0o755); err != nil {
		b.Fatal(err)
	}
	root, err := OpenRoot(filepath.Join(base, "root"))
	if err != nil {
		b.Fatal(err)
	}
	defer root.Close()
	final := filepath.Join(base, "root", "a", "b", "f")
	for b.Loop() {
		d, _, err := OpenParent(root, final)
		if err != nil {
			b.Fatal(err)
		}
		d.Close()
	}
}
