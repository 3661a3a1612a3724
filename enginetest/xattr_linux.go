package enginetest

import (
	"bytes"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/hashing"
	"github.com/cvv-project/cvv/internal/atomicfile"
)

// testXattrs copies a file with user.* attributes, a POSIX ACL, cvv's own
// verification record and (as root) another owner: the copies get all but
// the record, the ACL as getfacl shows it; with NoXattrs none of them; with
// NoPreserve not the owner either.
func testXattrs(t *testing.T, open NewEngine) {
	e := open(t, cvv.Options{BlockSize: suiteBlock, QueueDepth: 4})
	src := WriteFile(t, t.TempDir(), "clip.mov", Data(3*suiteBlock+5, 11))
	attrs := map[string]string{"user.camera": "A", "user.empty": "", "user.big": string(Data(3000, 12))}
	for name, v := range attrs {
		if err := unix.Setxattr(src, name, []byte(v), 0); err != nil {
			t.Skipf("the filesystem of %s keeps no user.* attributes: %v", src, err)
		}
	}
	if err := unix.Setxattr(src, atomicfile.VerifiedAttr, []byte("not to be copied"), 0); err != nil {
		t.Fatal(err)
	}
	acl := setACL(t, src)
	root := os.Geteuid() == 0
	if root {
		if err := os.Chown(src, 1234, 5678); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name                string
		noXattrs, noPreserv bool
	}{{"all", false, false}, {"NoXattrs", true, false}, {"NoPreserve", false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			dests := DestPaths(t, 2, "clip.mov")
			copyOK(t, e, cvv.Job{Source: src, Dests: dests, Hash: hashing.XXH3, NoFsync: true, NoXattrs: tc.noXattrs, NoPreserve: tc.noPreserv})
			keep := !tc.noXattrs && !tc.noPreserv
			for _, d := range dests {
				for name, v := range attrs {
					got, err := getxattr(d, name)
					if keep && (err != nil || !bytes.Equal(got, []byte(v))) {
						t.Errorf("%s: %s = %q, %v; want the source's", d, name, trim(got), err)
					}
					if !keep && err == nil {
						t.Errorf("%s: %s copied", d, name)
					}
				}
				if got, err := getxattr(d, atomicfile.VerifiedAttr); err == nil {
					t.Errorf("%s: the source's %s was copied: %q", d, atomicfile.VerifiedAttr, got)
				}
				if acl != "" {
					if got := getACL(t, d); keep && got != acl {
						t.Errorf("%s: ACL\n%s\nwant the source's\n%s", d, got, acl)
					}
				}
				var st syscall.Stat_t
				if err := syscall.Stat(d, &st); err != nil {
					t.Fatal(err)
				}
				if root && !tc.noPreserv && (st.Uid != 1234 || st.Gid != 5678) {
					t.Errorf("%s: owner %d:%d, want the source's 1234:5678", d, st.Uid, st.Gid)
				}
			}
		})
	}
}

// setACL gives path a POSIX ACL with setfacl and returns it as getfacl
// prints it; "" (and no ACL checks) where setfacl is missing or the
// filesystem keeps no ACL, unless CI is set.
func setACL(t *testing.T, path string) string {
	t.Helper()
	if _, err := exec.LookPath("setfacl"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("setfacl: %v (.ci/run installs acl)", err)
		}
		t.Logf("no ACL checks: %v", err)
		return ""
	}
	if out, err := exec.Command("setfacl", "-m", "u:4321:r--,g:8765:rw-", path).CombinedOutput(); err != nil {
		t.Logf("no ACL checks: setfacl: %v %s", err, out)
		return ""
	}
	return getACL(t, path)
}

// getACL returns path's ACL as getfacl prints it, without the header.
func getACL(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("getfacl", "--omit-header", "--numeric", path).CombinedOutput()
	if err != nil {
		t.Fatalf("getfacl %s: %v %s", path, err, out)
	}
	return string(out)
}

func getxattr(path, name string) ([]byte, error) {
	buf := make([]byte, 64<<10)
	n, err := unix.Getxattr(path, name, buf)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

func trim(b []byte) []byte { return b[:min(len(b), 40)] }
