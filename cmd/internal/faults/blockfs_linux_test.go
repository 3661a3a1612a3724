package faults

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// blockTemplates are the empty filesystem images of each kind, made once
// per test binary (mkfs.xfs takes a while) in a directory removed at exit.
var blockTemplates struct {
	sync.Mutex
	dir  string
	imgs map[DiskFS]string
}

// removeBlockTemplates removes the images blockTemplate made (TestMain
// calls it at the end).
func removeBlockTemplates() {
	blockTemplates.Lock()
	defer blockTemplates.Unlock()
	if blockTemplates.dir != "" {
		os.RemoveAll(blockTemplates.dir)
		blockTemplates.dir, blockTemplates.imgs = "", nil
	}
}

// blockTemplate returns an empty image of kind k, making it the first time.
func blockTemplate(t testing.TB, k DiskFS) string {
	t.Helper()
	requireFUSE(t)
	for _, tool := range k.Tools() {
		requireTool(t, tool)
	}
	blockTemplates.Lock()
	defer blockTemplates.Unlock()
	if img := blockTemplates.imgs[k]; img != "" {
		return img
	}
	if blockTemplates.dir == "" {
		dir, err := os.MkdirTemp("", "cvv-blockfs-templates-")
		if err != nil {
			t.Fatal(err)
		}
		blockTemplates.dir, blockTemplates.imgs = dir, map[DiskFS]string{}
	}
	img := filepath.Join(blockTemplates.dir, string(k)+".img")
	if err := MakeFSImage(k, img, k.MinSize()); err != nil {
		t.Fatal(err)
	}
	blockTemplates.imgs[k] = img
	return img
}

// startBlockDisk starts a BlockDisk of kind k from its template on a new
// tmpfs and closes it at cleanup (if the test has not).
func startBlockDisk(t testing.TB, k DiskFS, mountOpts string, opts BlockFSOptions) *BlockDisk {
	t.Helper()
	tmpl := blockTemplate(t, k)
	base := mountTmpfs(t, 4<<30)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	d, err := StartBlockDisk(exe, k, tmpl, base, mountOpts, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Error(err)
		}
	})
	return d
}

// mountCrashImages mounts each image of a cut (journal replayed, checked
// clean) on a new directory, by image name, and unmounts them at cleanup.
// An image that does not mount or check clean is a problem, not a mount.
func mountCrashImages(t testing.TB, k DiskFS, cut BlockCut) (map[string]string, []string) {
	t.Helper()
	dirs := map[string]string{}
	var problems []string
	names := make([]string, 0, len(cut.Images))
	for name := range cut.Images {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		dir := filepath.Join(t.TempDir(), name)
		mkdirs(t, dir)
		if err := MountCrashImage(k, cut.Images[name], dir); err != nil {
			problems = append(problems, fmt.Sprintf("image %s: %v", name, err))
			continue
		}
		t.Cleanup(func() {
			if err := Unmount(dir); err != nil {
				t.Error(err)
			}
		})
		dirs[name] = dir
	}
	return dirs, problems
}

// TestBlockFS checks the rig itself on a real ext4 and xfs: after a cut,
// a file written with the whole order (data, fdatasync, rename, directory
// fsync) is there; a file renamed into place without any sync is lost or
// empty; a file whose data was synced but whose rename was not followed
// by a directory fsync is not under its final name when no write since
// the last flush survived; blocks overwritten in place and written out to
// the disk but not flushed are lost when none survived, kept when all did,
// and kept or lost one by one in the random subsets; and a sync after the
// cut fails, a syncfs every time, while a second directory fsync returns
// success.
func TestBlockFS(t *testing.T) {
	for _, k := range []DiskFS{Ext4, XFS} {
		t.Run(string(k), func(t *testing.T) { testBlockFS(t, k) })
	}
}

func testBlockFS(t *testing.T, k DiskFS) {
	// A long commit interval: the window between the rename and the cut
	// must not end in ext4's periodic journal commit.
	opts := ""
	if k == Ext4 {
		opts = "commit=600"
	}
	d := startBlockDisk(t, k, opts, BlockFSOptions{Seeds: []uint64{1, 2}})
	dir := filepath.Join(d.Dir, "d")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	syncPath(t, dir)
	syncPath(t, d.Dir)
	overwritten := filepath.Join(d.Dir, "p")
	writeSynced(t, overwritten, strings.Repeat("A", 16*BlockSize), unix.Fsync)
	syncPath(t, d.Dir)
	const synced, unsynced, noDirSync = "synced, renamed, directory synced\n", "never synced\n", "synced, renamed, directory not synced\n"
	writeSynced(t, filepath.Join(dir, "a.tmp"), synced, unix.Fdatasync)
	rename(t, filepath.Join(dir, "a.tmp"), filepath.Join(dir, "a"))
	syncPath(t, dir)
	writeSynced(t, filepath.Join(dir, "c.tmp"), noDirSync, unix.Fdatasync)
	rename(t, filepath.Join(dir, "c.tmp"), filepath.Join(dir, "c"))
	if err := os.WriteFile(filepath.Join(dir, "b.tmp"), []byte(unsynced), 0o644); err != nil {
		t.Fatal(err)
	}
	rename(t, filepath.Join(dir, "b.tmp"), filepath.Join(dir, "b"))

	overwriteUnflushed(t, overwritten, strings.Repeat("B", 16*BlockSize))

	// Descriptors opened before the cut, as cvv's destination root and
	// the directories it keeps open (xfs refuses opens once shut down).
	root, err := os.Open(d.Dir)
	if err != nil {
		t.Fatal(err)
	}
	dirFile, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	cut, err := d.FS.Cut()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %+v", k, cut)
	f, err := os.OpenFile(filepath.Join(dir, "e"), os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	_, werr := f.WriteString("after the cut")
	if serr := unix.Fdatasync(int(f.Fd())); werr == nil && serr == nil {
		t.Errorf("%s: an fdatasync after the cut succeeded", k)
	}
	f.Close()
	// The directory whose renames the cut lost: a directory fsync
	// reports it at most once, a second one returns success (on both
	// ext4 and xfs, Linux 6.18), so cvv cannot rest on directory fsyncs
	// to make names durable there...
	first, second := dirFile.Sync(), dirFile.Sync()
	t.Logf("%s: directory fsyncs after the cut: %v, then %v", k, first, second)
	if second != nil {
		t.Errorf("%s: a second directory fsync after the cut failed (%v): the kernel now reports the lost write every time; cvv's names syncfs (copier/namesync.go) was needed because it did not", k, second)
	}
	// ...while a syncfs keeps failing once the filesystem lost a write,
	// from a descriptor opened before the cut (as cvv's destination root)
	// as well as after (on xfs the open fails): what cvv makes names
	// durable with there.
	for range 2 {
		if err := syncFSFd(int(root.Fd())); err == nil {
			t.Errorf("%s: a syncfs after the cut, on a descriptor opened before it, succeeded", k)
		}
		if err := syncFS(d.Dir); err == nil {
			t.Errorf("%s: a syncfs after the cut succeeded", k)
		}
	}
	dirFile.Close()
	root.Close()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if len(cut.Images) != 4 {
		t.Fatalf("%s: images %v, want none, all, seed-1 and seed-2", k, cut.Images)
	}
	dirs, problems := mountCrashImages(t, k, cut)
	for _, p := range problems {
		t.Error(p)
	}
	if cut.Pending < 16 {
		t.Errorf("%s: %d blocks pending at the cut, want the 16 overwritten", k, cut.Pending)
	}
	for name, root := range dirs {
		checkOverwritten(t, fmt.Sprintf("%s %s", k, name), filepath.Join(root, "p"), name)
		checkBlockFSImage(t, fmt.Sprintf("%s %s", k, name), filepath.Join(root, "d"), name == "none", synced, noDirSync)
	}
}

// checkBlockFSImage checks one image of TestBlockFS's cut.
func checkBlockFSImage(t *testing.T, what, dir string, none bool, synced, noDirSync string) {
	if b, err := os.ReadFile(filepath.Join(dir, "a")); err != nil || string(b) != synced {
		t.Errorf("%s: the fully synced file is %q, %v after the cut", what, b, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "b")); err == nil && len(b) > 0 {
		t.Errorf("%s: the never synced file holds %q after the cut: the rig lost nothing", what, b)
	}
	b, err := os.ReadFile(filepath.Join(dir, "c"))
	switch {
	case none && !errors.Is(err, os.ErrNotExist):
		t.Errorf("%s: the file renamed without a directory fsync is under its final name (%q, %v) when no write since the last flush survived", what, b, err)
	case err == nil && string(b) != noDirSync:
		t.Errorf("%s: the file renamed without a directory fsync holds %q", what, b)
	}
	if none {
		if b, err := os.ReadFile(filepath.Join(dir, "c.tmp")); err != nil || string(b) != noDirSync {
			t.Errorf("%s: the synced file is %q, %v under its temp name", what, b, err)
		}
	}
}

func rename(t testing.TB, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

// overwriteUnflushed overwrites the file at path in place with s (as long
// as its content) and writes it out to the disk without a flush
// (sync_file_range).
func overwriteUnflushed(t testing.TB, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte(s), 0); err != nil {
		t.Fatal(err)
	}
	const all = unix.SYNC_FILE_RANGE_WAIT_BEFORE | unix.SYNC_FILE_RANGE_WRITE | unix.SYNC_FILE_RANGE_WAIT_AFTER
	if err := unix.SyncFileRange(int(f.Fd()), 0, int64(len(s)), all); err != nil {
		t.Fatal(err)
	}
}

// checkOverwritten checks the file overwriteUnflushed overwrote "A"s with
// "B"s in image name: every block is one or the other; all "A" when no
// write since the last flush survived, all "B" when all did, and in a
// random subset some of each.
func checkOverwritten(t *testing.T, what, path, name string) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	var kept, lost int
	for off := 0; off < len(b); off += BlockSize {
		switch blk := string(b[off:min(off+BlockSize, len(b))]); blk {
		case strings.Repeat("A", len(blk)):
			lost++
		case strings.Repeat("B", len(blk)):
			kept++
		default:
			t.Errorf("%s: block %d of the overwritten file is neither version", what, off/BlockSize)
		}
	}
	switch {
	case name == "none" && kept > 0, name == "all" && lost > 0, strings.HasPrefix(name, "seed-") && (kept == 0 || lost == 0):
		t.Errorf("%s: %d blocks of the overwritten file kept, %d lost after the cut", what, kept, lost)
	}
}

// syncFSFd is syncfs(2) on the descriptor fd.
func syncFSFd(fd int) error { return unix.Syncfs(fd) }

// syncFS is syncfs(2) of the filesystem holding dir.
func syncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Syncfs(int(f.Fd()))
}
