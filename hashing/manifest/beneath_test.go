package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/hashing"
)

// TestWriteNotThroughSymlink: an ascmhl folder that is a symlink to a
// directory outside the root (planted in a shared destination) is not
// written through: the old code wrote the generation and the chain into
// ../victim. The write now fails with cvv.ErrSymlink and the directory
// outside stays empty.
func TestWriteNotThroughSymlink(t *testing.T) {
	root, rec := tree(t, "footage", hashing.XXH64, map[string]string{"a": "a"})
	victim := filepath.Join(filepath.Dir(root), "victim")
	if err := os.Mkdir(victim, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../victim", filepath.Join(root, HistoryDir)); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(rec, []Format{MHL}); !errors.Is(err, cvv.ErrSymlink) {
		t.Errorf("Write through a symlinked %s: %v, want ErrSymlink", HistoryDir, err)
	}
	if ents, _ := os.ReadDir(victim); len(ents) != 0 {
		t.Errorf("written outside the root: %v", ents)
	}
}

// TestListsNotThroughSymlink: a symlink planted in a root under the name
// of a list cvv writes there is never written through: the sums and xxh
// lists replace the link itself (a rename), the classic MHL list, which
// never replaces a file, refuses; the file outside the root keeps its
// bytes.
func TestListsNotThroughSymlink(t *testing.T) {
	for _, f := range []Format{Sums, XXH, MHL1} {
		t.Run(f.String(), func(t *testing.T) {
			root, rec := tree(t, "footage", hashing.XXH64, map[string]string{"a": "a"})
			victim := filepath.Join(filepath.Dir(root), "victim")
			if err := os.WriteFile(victim, []byte("the victim's own file"), 0o644); err != nil {
				t.Fatal(err)
			}
			name := FileName(root, f, rec.Alg)
			if f == MHL1 {
				name = ClassicFileName(root, rec.Start)
			}
			if err := os.Symlink("../victim", name); err != nil {
				t.Fatal(err)
			}
			_, err := Write(rec, []Format{f})
			if f == MHL1 {
				if !errors.Is(err, os.ErrExist) {
					t.Errorf("Write: %v, want the existing name refused", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if b, err := os.ReadFile(victim); err != nil || string(b) != "the victim's own file" {
				t.Errorf("written through the symlink: the file outside holds %q, %v", b, err)
			}
			if fi, err := os.Lstat(name); f != MHL1 && (err != nil || !fi.Mode().IsRegular()) {
				t.Errorf("%s: %v, %v: want the list, a regular file, in place of the link", name, fi, err)
			}
		})
	}
}
