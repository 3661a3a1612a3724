package plan

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/cvv-project/cvv/internal/atomicfile"
)

// TestWriteRecordIn: a record written from the directory's descriptor is
// the one ReadRecord and ReadRecordIn read; a symlink under the name gets
// none (the link itself is refused user attributes: no record, no error)
// and its target keeps its own; a missing name is an error naming the
// joined path.
func TestWriteRecordIn(t *testing.T) {
	base := t.TempDir()
	write(t, filepath.Join(base, "f"), "12345")
	write(t, filepath.Join(base, "target"), "12345")
	if err := os.Symlink("target", filepath.Join(base, "link")); err != nil {
		t.Fatal(err)
	}
	old := Record{Level: LevelTransfer, Alg: "xxh3", Hash: "cd", Size: 5, ModTime: 1}
	if ok, err := WriteRecord(filepath.Join(base, "target"), old); err != nil || !ok {
		t.Skipf("no user xattrs on %s: %v", base, err)
	}
	dir, err := atomicfile.OpenRoot(base)
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	rec := Record{Level: LevelFull, Alg: "xxh3", Hash: "ab", Size: 5, ModTime: 1234567890}
	if ok, err := WriteRecordIn(dir, "f", rec); err != nil || !ok {
		t.Fatalf("WriteRecordIn(f) = %v, %v", ok, err)
	}
	if got, ok := ReadRecord(filepath.Join(base, "f")); !ok || got != rec {
		t.Errorf("ReadRecord(f) = %+v, %v; want %+v", got, ok, rec)
	}
	if got, ok := ReadRecordIn(dir, "f"); !ok || got != rec {
		t.Errorf("ReadRecordIn(f) = %+v, %v; want %+v", got, ok, rec)
	}
	if ok, err := WriteRecordIn(dir, "link", rec); err != nil || ok {
		t.Errorf("WriteRecordIn(link) = %v, %v; want no record and no error", ok, err)
	}
	if got, ok := ReadRecord(filepath.Join(base, "target")); !ok || got != old {
		t.Errorf("the link's target has %+v, %v; want %+v", got, ok, old)
	}
	ok, err := WriteRecordIn(dir, "missing", rec)
	var pe *fs.PathError
	if ok || !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &pe) || pe.Path != filepath.Join(base, "missing") {
		t.Errorf("WriteRecordIn(missing) = %v, %v; want a PathError on %s wrapping ENOENT", ok, err, filepath.Join(base, "missing"))
	}
}
