package atomicfile

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// xattrFixture makes, in a new directory, the files Lsetxattr is tried on
// and returns the directory: "file" (with VerifiedAttr "old"), "bare"
// (without), "link" (a symlink to file) and "dangling" (a symlink to
// nothing). It skips the test where the filesystem keeps no user
// extended attributes.
func xattrFixture(t *testing.T) string {
	t.Helper()
	base := t.TempDir()
	for _, n := range []string{"file", "bare"} {
		if err := os.WriteFile(filepath.Join(base, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Lsetxattr(filepath.Join(base, "file"), VerifiedAttr, []byte("old"), 0); err != nil {
		t.Skipf("no user extended attributes in %s: %v", base, err)
	}
	if err := os.Symlink("file", filepath.Join(base, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("nothing", filepath.Join(base, "dangling")); err != nil {
		t.Fatal(err)
	}
	return base
}

// xattrOf returns the value of attr on name in base (not following a
// symlink), or the error reading it gives.
func xattrOf(base, name, attr string) string {
	buf := make([]byte, 256)
	n, err := unix.Lgetxattr(filepath.Join(base, name), attr, buf)
	if err != nil {
		return "error " + err.Error()
	}
	return string(buf[:n])
}

// errnoOf returns the errno under err, nil for nil.
func errnoOf(err error) error {
	var e unix.Errno
	if errors.As(err, &e) {
		return e
	}
	return err
}

// TestLsetxattr: Dir.Lsetxattr does what lsetxattr on the joined path
// does, with setxattrat and without it: on a file it sets the value
// (XATTR_CREATE and XATTR_REPLACE as lsetxattr has them), on a symlink
// it acts on the link itself, never on its target (EPERM for a user.*
// attribute), on a missing name it gives ENOENT; a name of more than one
// component is refused. A genuine EPERM (the symlink) does not make it
// give setxattrat up.
func TestLsetxattr(t *testing.T) {
	cases := []struct {
		name, attr, value string
		flags             int
	}{
		{"file", VerifiedAttr, "1 transfer xxh3 ab 0 1", 0},
		{"file", VerifiedAttr, "created", unix.XATTR_CREATE},
		{"file", VerifiedAttr, "", unix.XATTR_REPLACE},
		{"bare", VerifiedAttr, "replaced", unix.XATTR_REPLACE},
		{"bare", VerifiedAttr, "new", unix.XATTR_CREATE},
		{"link", VerifiedAttr, "on the link", 0},
		{"dangling", VerifiedAttr, "on the link", 0},
		{"missing", VerifiedAttr, "x", 0},
		{"file", "nouser.attr", "x", 0},
		{"file", VerifiedAttr, "x", -1},
	}
	for _, mode := range []string{"setxattrat", "lsetxattr"} {
		t.Run(mode, func(t *testing.T) {
			want, got := xattrFixture(t), xattrFixture(t)
			d, err := OpenRoot(got)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if mode == "lsetxattr" {
				noSetxattrat.Store(true)
				t.Cleanup(func() { noSetxattrat.Store(false) })
			} else if err := setxattrat(d.fd(), "missing", VerifiedAttr, nil, 0); err == unix.ENOSYS {
				t.Skip("no setxattrat on this kernel")
			}
			for _, c := range cases {
				werr := unix.Lsetxattr(filepath.Join(want, c.name), c.attr, []byte(c.value), c.flags)
				gerr := d.Lsetxattr(c.name, c.attr, []byte(c.value), c.flags)
				if errnoOf(gerr) != werr {
					t.Errorf("Lsetxattr(%q, %q, %q, %d) = %v; lsetxattr gives %v", c.name, c.attr, c.value, c.flags, gerr, werr)
				}
				var pe *os.PathError
				if gerr != nil && (!errors.As(gerr, &pe) || pe.Path != filepath.Join(got, c.name) || pe.Op != "setxattr") {
					t.Errorf("Lsetxattr(%q): %#v, want a setxattr *os.PathError on %s", c.name, gerr, filepath.Join(got, c.name))
				}
				for _, n := range []string{"file", "bare", "link", "dangling"} {
					if w, g := xattrOf(want, n, c.attr), xattrOf(got, n, c.attr); g != w {
						t.Errorf("after Lsetxattr(%q, %q, %q, %d): %s has %q, lsetxattr leaves %q", c.name, c.attr, c.value, c.flags, n, g, w)
					}
				}
			}
			for _, n := range []string{"", ".", "..", "a/file", "../" + filepath.Base(got) + "/file"} {
				if err := d.Lsetxattr(n, VerifiedAttr, []byte("x"), 0); err == nil || errnoOf(err) == unix.EPERM {
					t.Errorf("Lsetxattr(%q) = %v, want refused", n, err)
				}
			}
			if xattrOf(got, "file", VerifiedAttr) == "x" {
				t.Errorf("a name of two components was written")
			}
			if noSetxattrat.Load() != (mode == "lsetxattr") {
				t.Errorf("setxattrat given up: %v", noSetxattrat.Load())
			}
		})
	}
}

// TestLsetxattrFiltered: where setxattrat is missing (ENOSYS) or refused
// by a filter (EPERM, EINVAL, while lsetxattr does the same write),
// Lsetxattr writes with lsetxattr and gives setxattrat up for good; where
// both refuse, lsetxattr's error is the answer and setxattrat is asked
// again next time.
func TestLsetxattrFiltered(t *testing.T) {
	for _, c := range []struct {
		sysErr error
		name   string
		want   error // errno
		latch  bool
	}{
		{unix.ENOSYS, "file", nil, true},
		{unix.ENOSYS, "link", unix.EPERM, true},
		{unix.EPERM, "file", nil, true},
		{unix.EINVAL, "file", nil, true},
		{unix.EPERM, "link", unix.EPERM, false},
		{unix.EPERM, "missing", unix.ENOENT, false},
		{unix.EINVAL, "missing", unix.ENOENT, false},
	} {
		base := xattrFixture(t)
		d, err := OpenRoot(base)
		if err != nil {
			t.Fatal(err)
		}
		calls := 0
		sysSetxattrat = func(int, string, string, []byte, int) error { calls++; return c.sysErr }
		err = d.Lsetxattr(c.name, VerifiedAttr, []byte("new"), 0)
		latched := noSetxattrat.Load()
		sysSetxattrat = setxattrat
		noSetxattrat.Store(false)
		d.Close()
		if calls != 1 || errnoOf(err) != c.want || latched != c.latch {
			t.Errorf("setxattrat giving %v, Lsetxattr(%q) = %v (setxattrat called %d times), given up %v; want %v, given up %v",
				c.sysErr, c.name, err, calls, latched, c.want, c.latch)
		}
		if want := map[bool]string{true: "new", false: "old"}[c.want == nil]; xattrOf(base, "file", VerifiedAttr) != want {
			t.Errorf("setxattrat giving %v, Lsetxattr(%q): file has %q, want %q", c.sysErr, c.name, xattrOf(base, "file", VerifiedAttr), want)
		}
	}
}

// TestLsetxattrSeccomp is TestLsetxattrFiltered with a real filter: in a
// child process whose seccomp filter refuses setxattrat with EPERM (as
// container runtimes that do not know a call may), a symlink still gets
// lsetxattr's EPERM and setxattrat is kept, then a file gets its record
// through lsetxattr and setxattrat is given up.
func TestLsetxattrSeccomp(t *testing.T) {
	if os.Getenv("CVV_TEST_SETXATTRAT_FILTERED") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestLsetxattrSeccomp$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), "CVV_TEST_SETXATTRAT_FILTERED=1")
		out, err := cmd.CombinedOutput()
		switch {
		case err != nil:
			t.Fatalf("the filtered child: %v\n%s", err, out)
		case strings.Contains(string(out), "--- SKIP"):
			t.Skipf("the filtered child skipped:\n%s", out)
		case !strings.Contains(string(out), "--- PASS: TestLsetxattrSeccomp"):
			t.Fatalf("the filtered child ran no test:\n%s", out)
		}
		return
	}
	base := xattrFixture(t)
	d, err := OpenRoot(base)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := setxattrat(d.fd(), "missing", VerifiedAttr, nil, 0); err == unix.ENOSYS {
		t.Skip("no setxattrat on this kernel")
	}
	if err := refuseSetxattrat(); err != nil {
		t.Skipf("no seccomp filter: %v", err)
	}
	if err := setxattrat(d.fd(), "file", VerifiedAttr, []byte("x"), 0); err != unix.EPERM {
		t.Fatalf("setxattrat under the filter: %v, want EPERM", err)
	}
	if err := d.Lsetxattr("link", VerifiedAttr, []byte("new"), 0); errnoOf(err) != unix.EPERM || noSetxattrat.Load() {
		t.Errorf("Lsetxattr(link) = %v, given up %v; want EPERM, kept", err, noSetxattrat.Load())
	}
	if err := d.Lsetxattr("file", VerifiedAttr, []byte("new"), 0); err != nil || !noSetxattrat.Load() {
		t.Errorf("Lsetxattr(file) = %v, given up %v; want written, given up", err, noSetxattrat.Load())
	}
	if got := xattrOf(base, "file", VerifiedAttr); got != "new" {
		t.Errorf("file has %q, want %q", got, "new")
	}
}

// refuseSetxattrat installs, on every thread of the process, a seccomp
// filter that makes setxattrat fail with EPERM (the architecture is not
// checked: only this test binary's own calls go through it).
func refuseSetxattrat() error {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return err
	}
	filter := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0}, // seccomp_data.nr
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 1, K: unix.SYS_SETXATTRAT},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog)))
	if errno != 0 {
		return errno
	}
	return nil
}

// BenchmarkLsetxattr: the record of one file written from its directory's
// descriptor (setxattrat), and as before it, lsetxattr on NamePath (a walk
// through /proc/self/fd).
func BenchmarkLsetxattr(b *testing.B) {
	base := b.TempDir()
	if err := os.WriteFile(filepath.Join(base, "file"), nil, 0o644); err != nil {
		b.Fatal(err)
	}
	d, err := OpenRoot(base)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	value := []byte("1 transfer xxh3 63480523ddca6591 4096 1796193382761294468")
	for _, mode := range []string{"setxattrat", "lsetxattr"} {
		b.Run(mode, func(b *testing.B) {
			if mode == "lsetxattr" {
				noSetxattrat.Store(true)
				defer noSetxattrat.Store(false)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := d.Lsetxattr("file", VerifiedAttr, value, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
