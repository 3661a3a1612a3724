package faults

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// mountPowerFS mounts a PowerFS over a new tmpfs, after prepare (if not
// nil) has written the state that is durable from the start into the live
// directory. It unmounts everything at cleanup.
func mountPowerFS(t testing.TB, opts PowerFSOptions, prepare func(live string)) *PowerFS {
	t.Helper()
	requireFUSE(t)
	base := t.TempDir()
	live, store, durable, mnt := filepath.Join(base, "live"), filepath.Join(base, "store"), filepath.Join(base, "durable"), filepath.Join(base, "mnt")
	mkdirs(t, live, store, durable, mnt)
	// A tmpfs never reuses an inode number, which the model keys on.
	if err := MountTmpfs(live, 1<<30); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := Unmount(live); err != nil {
			t.Error(err)
		}
	})
	if prepare != nil {
		prepare(live)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p, err := StartPowerFS(exe, live, store, durable, mnt, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Unmount(); err != nil {
			t.Error(err)
		}
	})
	return p
}

// TestPowerFS checks the rig itself: after a cut, exactly what was synced
// survives.
func TestPowerFS(t *testing.T) {
	for _, tc := range []struct {
		name     string
		direct   bool
		syncRoot bool // fsync the root after the unsynced operations
	}{
		{"cached", false, false},
		{"direct_io", true, false},
		{"root-synced", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mountPowerFS(t, PowerFSOptions{DirectIO: tc.direct}, func(live string) {
				writeFile(t, filepath.Join(live, "old"), "old version", time.Now())
			})
			m := func(name string) string { return filepath.Join(p.Mountpoint, name) }
			writeFile(t, m("a"), "never synced", time.Now())
			writeSynced(t, m("b"), "synced", unix.Fdatasync)
			syncPath(t, p.Mountpoint)
			// After the root's fsync: a rename, a directory synced but not
			// its parent, a replacement without its directory's sync, a
			// symlink.
			writeSynced(t, m("c"), "renamed", unix.Fsync)
			if err := os.Rename(m("c"), m("c2")); err != nil {
				t.Fatal(err)
			}
			mkdirs(t, m("d"))
			writeSynced(t, m("d/e"), "in a new directory", unix.Fdatasync)
			syncPath(t, m("d"))
			writeSynced(t, m("t"), "new version", unix.Fdatasync)
			if err := os.Rename(m("t"), m("old")); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("b", m("l")); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"old": "old version", "a": "", "b": "synced"}
			if tc.syncRoot {
				syncPath(t, p.Mountpoint)
				want = map[string]string{"old": "new version", "a": "", "b": "synced", "c2": "renamed", "d/e": "in a new directory", "l": "-> b"}
			}
			counts, err := p.Cut()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("syncs before the cut: %s", counts)
			f, err := os.OpenFile(m("b"), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := unix.Fsync(int(f.Fd())); !errors.Is(err, syscall.EIO) {
				t.Errorf("fsync after the cut: %v, want EIO", err)
			}
			f.Close()
			if err := p.Unmount(); err != nil {
				t.Fatal(err)
			}
			got := describeTree(t, p.Durable)
			for rel, w := range want {
				if got[rel] != w {
					t.Errorf("durable %s: %q, want %q", rel, got[rel], w)
				}
			}
			for rel, g := range got {
				if _, ok := want[rel]; !ok {
					t.Errorf("durable %s: %q, want nothing", rel, g)
				}
			}
		})
	}
}

// writeSynced writes s to path and syncs it with sync (unix.Fsync or
// unix.Fdatasync).
func writeSynced(t testing.TB, path, s string, sync func(int) error) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := sync(int(f.Fd())); err != nil {
		t.Fatalf("sync %s: %v", path, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// syncPath fsyncs the file or directory at path.
func syncPath(t testing.TB, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("fsync %s: %v", path, err)
	}
	f.Close()
}

// describeTree maps every file and symlink under root (by slash-separated
// relative path) to its contents, or "-> target".
func describeTree(t testing.TB, root string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.Type()&os.ModeSymlink != 0 {
			target, err := os.Readlink(p)
			m[filepath.ToSlash(rel)] = "-> " + target
			return err
		}
		b, err := os.ReadFile(p)
		m[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}
