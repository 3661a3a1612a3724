package atomicfile

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestLgetxattr: Dir.Lgetxattr reads what lgetxattr reads on the joined
// path, with getxattrat and without it: the value of a file's attribute,
// ENODATA for a file without it and for a symlink to a file with it (the
// link itself is read, never its target), ENOENT for a missing name,
// ERANGE for a buffer too small.
func TestLgetxattr(t *testing.T) {
	base := t.TempDir()
	for _, n := range []string{"with", "without"} {
		if err := os.WriteFile(filepath.Join(base, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Lsetxattr(filepath.Join(base, "with"), VerifiedAttr, []byte("1 transfer xxh3 ab 0 1"), 0); err != nil {
		t.Skipf("no user extended attributes in %s: %v", base, err)
	}
	if err := os.Symlink("with", filepath.Join(base, "link")); err != nil {
		t.Fatal(err)
	}
	d, err := OpenRoot(base)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, mode := range []string{"getxattrat", "lgetxattr"} {
		t.Run(mode, func(t *testing.T) {
			if mode == "lgetxattr" {
				noGetxattrat.Store(true)
				t.Cleanup(func() { noGetxattrat.Store(false) })
			} else if _, err := getxattrat(d.fd(), "with", VerifiedAttr, nil); err == unix.ENOSYS {
				t.Skip("no getxattrat on this kernel")
			}
			for _, c := range []struct {
				name string
				size int
			}{{"with", 64}, {"with", 4}, {"with", 0}, {"without", 64}, {"link", 64}, {"missing", 64}} {
				want := make([]byte, c.size)
				wn, werr := unix.Lgetxattr(filepath.Join(base, c.name), VerifiedAttr, want)
				got := make([]byte, c.size)
				gn, gerr := d.Lgetxattr(c.name, VerifiedAttr, got)
				if gn != wn || gerr != werr || string(got) != string(want) {
					t.Errorf("Lgetxattr(%q, %d bytes) = %d, %v, %q; lgetxattr gives %d, %v, %q", c.name, c.size, gn, gerr, got, wn, werr, want)
				}
			}
			if noGetxattrat.Load() != (mode == "lgetxattr") {
				t.Errorf("getxattrat given up: %v", noGetxattrat.Load())
			}
		})
	}
}

// TestCString: a name or attribute is given to getxattrat as
// unix.BytePtrFromString gives it, from a buffer on the stack when it
// fits: NUL-terminated, and EINVAL for a NUL inside.
func TestCString(t *testing.T) {
	var buf [8]byte
	for _, s := range []string{"", "a", "1234567", "12345678", "a much longer name"} {
		p, err := cString(buf[:], s)
		if err != nil {
			t.Fatalf("cString(%q): %v", s, err)
		}
		if got := unix.BytePtrToString(p); got != s {
			t.Errorf("cString(%q) = %q", s, got)
		}
	}
	for _, s := range []string{"a\x00b", "a long name with a \x00 inside"} {
		if _, err := cString(buf[:], s); err != unix.EINVAL {
			t.Errorf("cString(%q): %v, want EINVAL", s, err)
		}
	}
}
