package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestTempName(t *testing.T) {
	a, b := TempName(), TempName()
	if a == b {
		t.Errorf("two temp names are equal: %s", a)
	}
	if filepath.Base(a) != a {
		t.Errorf("temp name %s is not a base name", a)
	}
	if !IsTempName(filepath.Base(a)) {
		t.Errorf("IsTempName(%q) = false", filepath.Base(a))
	}
	if n := len(filepath.Base(a)); n > 40 {
		t.Errorf("temp name is %d bytes: a 255-byte final name must still fit", n)
	}
	for _, name := range []string{"", ".cvv-.partial", ".cvv-0123456789abcdeg.partial", ".cvv-0123456789abcdef.partia", "x.cvv-0123456789abcdef.partial", "footage.mov"} {
		if IsTempName(name) {
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
	pf, err := CreatePending(nil, final, 0)
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
	if err := pf.Commit(&SourceAttrs{Mode: 0o640, ModTime: mtime}, SyncFull); err != nil {
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
	pf, err := CreatePending(nil, final, 0)
	if err != nil {
		t.Fatal(err)
	}
	tmp := pf.TempPath()
	if err := pf.Commit(nil, SyncNone); err == nil {
		t.Fatal("Commit onto a non-empty directory succeeded")
	}
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temp left after a failed commit: %v", err)
	}
	if err := pf.Abort(); err != nil {
		t.Errorf("Abort of a removed temp: %v", err)
	}
}
