package cvv_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/cvv-project/cvv"
)

func TestTempName(t *testing.T) {
	a, b := cvv.TempName(), cvv.TempName()
	if a == b {
		t.Errorf("two temp names are equal: %s", a)
	}
	if filepath.Base(a) != a {
		t.Errorf("temp name %s is not a base name", a)
	}
	if !cvv.IsTempName(filepath.Base(a)) {
		t.Errorf("IsTempName(%q) = false", filepath.Base(a))
	}
	if n := len(filepath.Base(a)); n > 40 {
		t.Errorf("temp name is %d bytes: a 255-byte final name must still fit", n)
	}
	for _, name := range []string{"", ".cvv-.partial", ".cvv-0123456789abcdeg.partial", ".cvv-0123456789abcdef.partia", "x.cvv-0123456789abcdef.partial", "footage.mov"} {
		if cvv.IsTempName(name) {
			t.Errorf("IsTempName(%q) = true", name)
		}
	}
}

func TestCommit(t *testing.T) {
	dir := t.TempDir()
	final := filepath.Join(dir, "final")
	if err := os.WriteFile(final, []byte("old, longer content"), 0o600); err != nil {
		t.Fatal(err)
	}
	pf, err := cvv.CreatePending(nil, final, 0)
	if err != nil {
		t.Fatal(err)
	}
	tmp := pf.TempPath()
	if filepath.Dir(tmp) != dir {
		t.Errorf("temp %s not in the destination's directory", tmp)
	}
	if _, err := pf.File.Write([]byte("new")); err != nil {
		t.Fatal(err)
	}
	// Until the commit the final name holds the old file.
	if b, _ := os.ReadFile(final); string(b) != "old, longer content" {
		t.Fatalf("final changed before commit: %q", b)
	}
	mtime := time.Date(2020, 1, 2, 3, 4, 5, 6, time.UTC)
	if err := pf.Commit(&cvv.SourceAttrs{Mode: 0o640, ModTime: mtime}, cvv.SyncFull); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(final)
	if err != nil || string(b) != "new" {
		t.Errorf("final = %q, %v", b, err)
	}
	fi, err := os.Stat(final)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o640 || !fi.ModTime().Equal(mtime) {
		t.Errorf("attrs %v %v, want 0640 %v", fi.Mode().Perm(), fi.ModTime(), mtime)
	}
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temp still there after commit: %v", err)
	}
}

func TestCommitFailureRemovesTemp(t *testing.T) {
	dir := t.TempDir()
	// The final name is a non-empty directory: rename must fail.
	final := filepath.Join(dir, "final")
	if err := os.MkdirAll(filepath.Join(final, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	pf, err := cvv.CreatePending(nil, final, 0)
	if err != nil {
		t.Fatal(err)
	}
	tmp := pf.TempPath()
	if err := pf.Commit(nil, cvv.SyncNone); err == nil {
		t.Fatal("Commit onto a non-empty directory succeeded")
	}
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temp left after a failed commit: %v", err)
	}
	if err := pf.Abort(); err != nil {
		t.Errorf("Abort of a removed temp: %v", err)
	}
}

func TestDestError(t *testing.T) {
	pe := &os.PathError{Op: "write", Path: "/d/f", Err: syscall.ENOSPC}
	err := cvv.DestError(pe)
	if !errors.Is(err, cvv.ErrDiskFull) || !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("DestError(ENOSPC) = %v: want ErrDiskFull and ENOSPC", err)
	}
	if again := cvv.DestError(err); again != err {
		t.Errorf("DestError wrapped twice: %v", again)
	}
	eio := &os.PathError{Op: "write", Path: "/d/f", Err: syscall.EIO}
	if err := cvv.DestError(eio); errors.Is(err, cvv.ErrDiskFull) || !errors.Is(err, syscall.EIO) {
		t.Errorf("DestError(EIO) = %v", err)
	}
	if cvv.DestError(nil) != nil {
		t.Errorf("DestError(nil) != nil")
	}
}

func TestJobValidate(t *testing.T) {
	for _, tc := range []struct {
		job cvv.Job
		ok  bool
	}{
		{cvv.Job{Source: "s", Dests: []string{"a", "b"}}, true},
		{cvv.Job{Source: "", Dests: []string{"a"}}, false},
		{cvv.Job{Source: "s"}, false},
		{cvv.Job{Source: "s", Dests: []string{"a", "a"}}, false},
		{cvv.Job{Source: "s", Dests: []string{"s"}}, false},
		{cvv.Job{Source: "s", Dests: []string{""}}, false},
		{cvv.Job{Source: "s", Dests: []string{"a", "b"}, Write: []cvv.WritePath{cvv.WriteBuffered, cvv.WriteDirect}}, true},
		{cvv.Job{Source: "s", Dests: []string{"a", "b"}, Write: []cvv.WritePath{cvv.WriteBuffered}}, false},
	} {
		err := tc.job.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("Validate(%+v) = %v", tc.job, err)
		}
		if err != nil && !errors.Is(err, cvv.ErrInvalidJob) {
			t.Errorf("Validate error %v does not wrap ErrInvalidJob", err)
		}
	}
}

func TestEngineKind(t *testing.T) {
	for _, k := range []cvv.EngineKind{cvv.EngineAuto, cvv.EngineUring, cvv.EngineFallback} {
		got, err := cvv.ParseEngineKind(k.String())
		if err != nil || got != k {
			t.Errorf("ParseEngineKind(%q) = %v, %v", k.String(), got, err)
		}
	}
	if _, err := cvv.ParseEngineKind("spdk"); !errors.Is(err, cvv.ErrUsage) {
		t.Errorf("unknown engine: %v, want ErrUsage", err)
	}
}

func TestWritePath(t *testing.T) {
	for _, p := range []cvv.WritePath{cvv.WriteAuto, cvv.WriteDirect, cvv.WriteBuffered} {
		got, err := cvv.ParseWritePath(p.String())
		if err != nil || got != p {
			t.Errorf("ParseWritePath(%q) = %v, %v", p.String(), got, err)
		}
	}
	if _, err := cvv.ParseWritePath("mmap"); !errors.Is(err, cvv.ErrUsage) {
		t.Errorf("unknown write path: %v, want ErrUsage", err)
	}
	j := cvv.Job{Dests: []string{"a", "b"}, Write: []cvv.WritePath{cvv.WriteDirect, cvv.WriteBuffered}}
	if j.WritePath(1) != cvv.WriteBuffered || (&cvv.Job{}).WritePath(0) != cvv.WriteAuto {
		t.Errorf("Job.WritePath: %v, %v", j.WritePath(1), (&cvv.Job{}).WritePath(0))
	}
}

func TestSyncMode(t *testing.T) {
	for _, tc := range []struct {
		job  cvv.Job
		want cvv.Sync
	}{
		{cvv.Job{}, cvv.SyncFull},
		{cvv.Job{DeferDirSync: true}, cvv.SyncData},
		{cvv.Job{NoFsync: true}, cvv.SyncNone},
		{cvv.Job{NoFsync: true, DeferDirSync: true}, cvv.SyncNone},
	} {
		if got := tc.job.SyncMode(); got != tc.want {
			t.Errorf("%+v.SyncMode() = %v, want %v", tc.job, got, tc.want)
		}
	}
}
