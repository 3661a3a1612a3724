package plan

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/cmd/internal/usage"
)

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestWalkTree(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "b.txt"), "bb")
	write(t, filepath.Join(root, "a", "x"), "xyz")
	write(t, filepath.Join(root, "name with space\nand newline ü"), "1")
	if err := os.MkdirAll(filepath.Join(root, "empty", "deeper"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a/x", filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a", filepath.Join(root, "dirlink")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	tr, err := Walk(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	if !tr.IsDir {
		t.Fatal("IsDir = false")
	}
	var dirs, files, links, specials []string
	for _, e := range tr.Dirs {
		dirs = append(dirs, e.Rel)
	}
	for _, e := range entries(t, tr) {
		files = append(files, e.Rel)
	}
	for _, e := range tr.Links {
		links = append(links, e.Rel+"->"+e.Target)
	}
	for _, e := range tr.Specials {
		specials = append(specials, e.Rel)
	}
	want := func(name string, got, want []string) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	want("dirs", dirs, []string{"", "a", "empty", filepath.Join("empty", "deeper")})
	// Path order: what a directory holds comes where its name and a '/'
	// sort, so a/x before b.txt.
	want("files", files, []string{filepath.Join("a", "x"), "b.txt", "name with space\nand newline ü"})
	want("links", links, []string{"dirlink->a", "link->a/x"})
	want("specials", specials, []string{"fifo"})
	if tr.Bytes != 6 {
		t.Errorf("Bytes = %d, want 6", tr.Bytes)
	}
	if len(tr.Problems) != 0 {
		t.Errorf("Problems = %v", tr.Problems)
	}
}

func TestWalkUnreadableDir(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads directories whatever their mode; faults.TestCLISourceDirUnreadable covers root with a FUSE EACCES")
	}
	root := t.TempDir()
	write(t, filepath.Join(root, "locked", "f"), "x")
	write(t, filepath.Join(root, "ok"), "x")
	if err := os.Chmod(filepath.Join(root, "locked"), 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(filepath.Join(root, "locked"), 0o755) })
	tr, err := Walk(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Problems) != 1 || tr.Problems[0].Rel != "locked" {
		t.Fatalf("Problems = %v, want one for locked", tr.Problems)
	}
	if tr.Files.Len() != 1 {
		t.Fatalf("Files = %v", entries(t, tr))
	}
}

func TestWalkFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "f.bin")
	write(t, f, "hello")
	tr, err := Walk(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	if tr.IsDir || tr.Files.Len() != 1 || entries(t, tr)[0].Rel != "f.bin" || tr.File().Rel != "f.bin" || tr.Bytes != 5 {
		t.Fatalf("tree = %+v", tr)
	}
}

func TestResolveFile(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.bin")
	write(t, src, "data")
	existing := filepath.Join(dir, "existing")
	if err := os.Mkdir(existing, 0o755); err != nil {
		t.Fatal(err)
	}
	p, err := Resolve(src, []string{existing, filepath.Join(dir, "new", "deep", "name.bin"), filepath.Join(dir, "slash") + "/"}, ResolveOptions{MkPath: true})
	if err != nil {
		t.Fatal(err)
	}
	if p.IsDir {
		t.Fatal("IsDir")
	}
	got := []string{p.Target(0, "src.bin"), p.Target(1, "src.bin"), p.Target(2, "src.bin")}
	want := []string{filepath.Join(existing, "src.bin"), filepath.Join(dir, "new", "deep", "name.bin"), filepath.Join(dir, "slash", "src.bin")}
	if !slices.Equal(got, want) {
		t.Fatalf("targets = %q, want %q", got, want)
	}
	if m := p.Dests[1].Missing; !slices.Equal(m, []string{filepath.Join(dir, "new"), filepath.Join(dir, "new", "deep")}) {
		t.Errorf("Missing = %q", m)
	}
	if len(p.Dests[0].Missing) != 0 {
		t.Errorf("Missing of existing dir = %q", p.Dests[0].Missing)
	}
	if m := p.Dests[2].Missing; !slices.Equal(m, []string{filepath.Join(dir, "slash")}) {
		t.Errorf("Missing = %q", m)
	}
	if r := p.Dests[0].Root(false); r != existing {
		t.Errorf("Root = %q", r)
	}
}

func TestResolveDir(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	write(t, filepath.Join(src, "a", "f"), "x")
	p, err := Resolve(src, []string{filepath.Join(dir, "d1"), filepath.Join(dir, "d2", "sub")}, ResolveOptions{MkPath: true})
	if err != nil {
		t.Fatal(err)
	}
	if !p.IsDir {
		t.Fatal("not IsDir")
	}
	if got, want := p.Target(1, filepath.Join("a", "f")), filepath.Join(dir, "d2", "sub", "a", "f"); got != want {
		t.Errorf("Target = %q, want %q", got, want)
	}
	if got, want := p.Target(0, ""), filepath.Join(dir, "d1"); got != want {
		t.Errorf("Target root = %q, want %q", got, want)
	}
	if m := p.Dests[1].Missing; !slices.Equal(m, []string{filepath.Join(dir, "d2"), filepath.Join(dir, "d2", "sub")}) {
		t.Errorf("Missing = %q", m)
	}
}

func TestResolveBadInput(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	write(t, filepath.Join(src, "f"), "x")
	file := filepath.Join(dir, "file")
	write(t, file, "y")
	if err := os.Symlink(src, filepath.Join(dir, "srclink")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "out"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "out"), filepath.Join(dir, "outlink")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "hasdir", "file"), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		src   string
		dests []string
		msg   string
	}{
		{"missing source", filepath.Join(dir, "nope"), []string{filepath.Join(dir, "d")}, "does not exist"},
		{"no destination", src, nil, "no destination"},
		{"dest is source", src, []string{src}, "is the source"},
		{"dest is source via link", src, []string{filepath.Join(dir, "srclink")}, "is the source"},
		{"dest inside source", src, []string{filepath.Join(src, "sub", "x")}, "inside the source"},
		{"dest inside source via link", src, []string{filepath.Join(dir, "srclink", "new")}, "inside the source"},
		{"same dest twice", src, []string{filepath.Join(dir, "d"), filepath.Join(dir, "d")}, "given twice"},
		{"same dest spelled twice", src, []string{filepath.Join(dir, "d"), filepath.Join(dir, ".", "d") + "/"}, "are the same"},
		{"same dest via link", src, []string{filepath.Join(dir, "out"), filepath.Join(dir, "outlink")}, "are the same"},
		{"dir onto file", src, []string{file}, "not a directory"},
		{"parent is a file", src, []string{filepath.Join(file, "sub")}, "not a directory"},
		{"file onto itself", file, []string{dir}, "is the source"},
		{"file onto dir of same name", file, []string{filepath.Join(dir, "hasdir")}, "is a directory"},
		{"file twice via dir", file, []string{filepath.Join(dir, "out"), filepath.Join(dir, "out", "file")}, "are the same"},
		// Issue 9: cvv w/s w overwrote w/s/g with w/s/s/g.
		{"dest holds source", src, []string{dir}, "holds the source"},
		{"dest holds source, trailing slash", src, []string{dir + "/"}, "holds the source"},
		{"dest holds source via dotdot", src, []string{filepath.Join(src, "..")}, "holds the source"},
		{"dest holds source via link", src, []string{filepath.Join(dir, "outlink", "..")}, "holds the source"},
		{"dest is source via dotdot", src, []string{filepath.Join(dir, "out", "..", "src")}, "is the source"},
		{"dest is source, trailing slash", src, []string{src + "/"}, "is the source"},
		{"dest is root", src, []string{"/"}, "holds the source"},
		{"dests nest", src, []string{filepath.Join(dir, "out"), filepath.Join(dir, "outlink", "x")}, "is inside destination"},
		{"dests nest, outer last", src, []string{filepath.Join(dir, "n", "x"), filepath.Join(dir, "n")}, "is inside destination"},
		{"missing dests nest", src, []string{filepath.Join(dir, "n", "x", "y"), filepath.Join(dir, "outlink", "..", "n")}, "is inside destination"},
		{"file into its own dir", file, []string{dir + "/"}, "is the source"},
		{"file into its own dir via link", file, []string{filepath.Join(dir, "outlink", "..")}, "is the source"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Resolve(c.src, c.dests, ResolveOptions{MkPath: true})
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, usage.ErrUsage) {
				t.Errorf("error %v does not wrap ErrUsage", err)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not contain %q", err, c.msg)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q is not one line", err)
			}
		})
	}
}

func TestResolveMkPath(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	write(t, filepath.Join(src, "f"), "x")
	file := filepath.Join(src, "f")
	cases := []struct {
		name string
		src  string
		dest string
		ok   bool
	}{
		{"tree, last missing", src, filepath.Join(dir, "new"), true},
		{"tree, parent missing", src, filepath.Join(dir, "no", "new"), false},
		{"file, target in existing dir", file, filepath.Join(dir, "g"), true},
		{"file, target's dir missing", file, filepath.Join(dir, "no", "g"), false},
		{"file, DEST/ missing", file, filepath.Join(dir, "newdir") + "/", true},
		{"file, DEST/ parent missing", file, filepath.Join(dir, "no", "newdir") + "/", false},
	}
	for _, c := range cases {
		_, err := Resolve(c.src, []string{c.dest}, ResolveOptions{})
		switch {
		case c.ok && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case !c.ok && err == nil:
			t.Errorf("%s: no error", c.name)
		case !c.ok && (!errors.Is(err, usage.ErrUsage) || !strings.Contains(err.Error(), filepath.Join(dir, "no")+" does not exist")):
			t.Errorf("%s: error %q does not name the missing directory", c.name, err)
		}
		if _, err := Resolve(c.src, []string{c.dest}, ResolveOptions{MkPath: true}); err != nil {
			t.Errorf("%s, --mkpath: %v", c.name, err)
		}
	}
}

func TestResolveReadOnlyParent(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root may write into a mode 0555 directory; the read-only mount case is covered by the CLI scripts")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "f")
	write(t, src, "x")
	ro := filepath.Join(dir, "ro")
	if err := os.Mkdir(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	_, err := Resolve(src, []string{filepath.Join(ro, "sub", "f")}, ResolveOptions{MkPath: true})
	if !errors.Is(err, usage.ErrUsage) || !strings.Contains(err.Error(), "cannot create") {
		t.Fatalf("err = %v", err)
	}
}

func TestDecide(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "t")
	write(t, target, "12345")
	mt := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	if err := os.Chtimes(target, time.Time{}, mt); err != nil {
		t.Fatal(err)
	}
	e := Entry{Kind: File, Size: 5, ModTime: mt}
	full := Policy{Level: LevelFull, Alg: "xxh3"}
	// Records on copies of the same file, each in its own directory.
	rec := func(name string, r Record) string {
		p := filepath.Join(dir, name)
		write(t, p, "12345")
		if err := os.Chtimes(p, time.Time{}, mt); err != nil {
			t.Fatal(err)
		}
		if ok, err := WriteRecord(p, r); err != nil || !ok {
			t.Skipf("no user xattrs on %s: %v", dir, err)
		}
		return p
	}
	ns := mt.UnixNano()
	recFull := rec("full", Record{Level: LevelFull, Alg: "xxh3", Hash: "ab", Size: 5, ModTime: ns})
	recSource := rec("source", Record{Level: LevelSource, Alg: "xxh3", Hash: "ab", Size: 5, ModTime: ns})
	recMD5 := rec("md5", Record{Level: LevelFull, Alg: "md5", Hash: "ab", Size: 5, ModTime: ns})
	recOld := rec("old", Record{Level: LevelFull, Alg: "xxh3", Hash: "ab", Size: 5, ModTime: ns - 1000})
	cases := []struct {
		name   string
		target string
		e      Entry
		pol    Policy
		want   Action
	}{
		{"missing", filepath.Join(dir, "none"), e, Policy{}, Copy},
		{"same", target, e, Policy{}, Skip},
		{"same, verify existing", target, e, Policy{VerifyExisting: true}, Recheck},
		{"same, overwrite", target, e, Policy{Overwrite: true}, Copy},
		{"size differs", target, Entry{Kind: File, Size: 6, ModTime: mt}, Policy{}, Conflict},
		{"size differs, overwrite", target, Entry{Kind: File, Size: 6, ModTime: mt}, Policy{Overwrite: true}, Conflict},
		{"mtime differs", target, Entry{Kind: File, Size: 5, ModTime: mt.Add(time.Second)}, Policy{}, Conflict},
		{"mtime differs by 1ns", target, Entry{Kind: File, Size: 5, ModTime: mt.Add(1)}, Policy{}, Conflict},
		{"target is a dir", dir, Entry{Kind: File, Size: 5, ModTime: mt}, Policy{}, Conflict},
		// A file is skipped only if known verified as strictly as asked.
		{"no record, full asked", target, e, full, Recheck},
		{"no record, source asked", target, e, Policy{Level: LevelSource, Alg: "xxh3"}, Recheck},
		{"full record, full asked", recFull, e, full, Skip},
		{"full record, verify existing", recFull, e, Policy{Level: LevelFull, Alg: "xxh3", VerifyExisting: true}, Recheck},
		{"source record, full asked", recSource, e, full, Recheck},
		{"source record, source asked", recSource, e, Policy{Level: LevelSource, Alg: "xxh3"}, Skip},
		{"full record, other hash asked", recMD5, e, full, Recheck},
		{"full record, other hash, transfer asked", recMD5, e, Policy{Level: LevelTransfer, Alg: "xxh3"}, Skip},
		{"record of another source mtime", recOld, e, full, Recheck},
	}
	for _, c := range cases {
		got, _, err := Decide(c.target, c.e, c.pol)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		if got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

func TestRecordRoundTrip(t *testing.T) {
	r := Record{Level: LevelSource, Alg: "sha256", Hash: "00ff", Size: 1 << 40, ModTime: -5}
	got, ok := ParseRecord(r.String())
	if !ok || got != r {
		t.Fatalf("ParseRecord(%q) = %+v, %v", r.String(), got, ok)
	}
	for _, bad := range []string{"", "2 full xxh3 ab 1 2", "1 fast xxh3 ab 1 2", "1 full xxh3 ab x 2", "1 full xxh3 ab 1"} {
		if _, ok := ParseRecord(bad); ok {
			t.Errorf("ParseRecord(%q) accepted", bad)
		}
	}
}

// TestRecordFields: the record's fields are split as strings.Fields
// splits them, ASCII or not.
func TestRecordFields(t *testing.T) {
	for _, s := range []string{"", "1 full xxh3 ab 1 2", " 1\tfull  xxh3\nab 1 2 ", "1 full xxh3 ab 1", "1 full xxh3 ab 1 2 3",
		"1\u00a0full xxh3 ab 1 2 3", "1 full xxh3 ab\u2003 1 2", "1 fülle xxh3 ab 1 2", "1 full xxh3 ab 1 2\u0085", "\v\f\r"} {
		var f [6]string
		ok := recordFields(s, &f)
		want := strings.Fields(s)
		if ok != (len(want) == 6) || ok && !slices.Equal(f[:], want) {
			t.Errorf("recordFields(%q) = %q, %v; strings.Fields: %q", s, f, ok, want)
		}
	}
}

func TestSameTime(t *testing.T) {
	src := time.Unix(100, 500)
	if !SameTime(src, time.Unix(100, 500)) {
		t.Error("equal times differ")
	}
	if !SameTime(src, time.Unix(100, 0)) {
		t.Error("whole-second destination does not match")
	}
	if SameTime(src, time.Unix(101, 0)) || SameTime(src, time.Unix(100, 400)) {
		t.Error("different times match")
	}
	// A filesystem that keeps 100 ns (CIFS) or microseconds.
	fine := time.Unix(100, 123456789)
	if !SameTime(fine, time.Unix(100, 123456700)) || !SameTime(fine, time.Unix(100, 123456000)) {
		t.Error("a time cut to 100 ns or 1 µs does not match")
	}
	if SameTime(fine, time.Unix(100, 123456788)) || SameTime(fine, time.Unix(100, 123450001)) {
		t.Error("a time that is not the source's cut matches")
	}
}

// sizesOf is Space's sizes for the files sizes[i] of each destination i.
func sizesOf(sizes [][]int64) func(add func(i int, size int64)) {
	return func(add func(i int, size int64)) {
		for i, s := range sizes {
			for _, n := range s {
				add(i, n)
			}
		}
	}
}

func TestSpace(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a")
	b := filepath.Join(dir, "b", "not", "yet")
	if err := os.Mkdir(a, 0o755); err != nil {
		t.Fatal(err)
	}
	fss, err := Space([]string{a, b}, sizesOf([][]int64{{1, 4096}, {10}}))
	if err != nil {
		t.Fatal(err)
	}
	if len(fss) != 1 {
		t.Fatalf("got %d filesystems, want 1 (both dests are on one)", len(fss))
	}
	f := fss[0]
	if !slices.Equal(f.Dests, []int{0, 1}) {
		t.Errorf("Dests = %v", f.Dests)
	}
	st, err := statFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	bs := st.blockSize
	// 1 -> one block, 4096 -> ceil(4096/bs) blocks, 10 -> one block.
	want := bs + (4096+bs-1)/bs*bs + bs
	if f.Need != want {
		t.Errorf("Need = %d, want %d", f.Need, want)
	}
	if f.Avail <= 0 {
		t.Errorf("Avail = %d", f.Avail)
	}
	if f.MountPoint == "" || !strings.HasPrefix(dir, f.MountPoint) {
		t.Errorf("MountPoint %q is not above %q", f.MountPoint, dir)
	}
	// A need larger than any disk is short, and says by how much.
	huge, err := Space([]string{a, a + "2"}, sizesOf([][]int64{{f.Avail}, {f.Avail}}))
	if err != nil {
		t.Fatal(err)
	}
	short, ok := huge[0].Short()
	if !ok || short < f.Avail-1<<20 {
		t.Errorf("Short = %d, %v; want about %d", short, ok, f.Avail)
	}
	if msg := huge[0].String(); !strings.Contains(msg, huge[0].MountPoint) || !strings.Contains(msg, "short by") {
		t.Errorf("message %q", msg)
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5 << 30: "5.0 GiB"} {
		if got := HumanBytes(n); got != want {
			t.Errorf("HumanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestWalkCanceled(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "a", "f"), "x")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Walk(ctx, root); !errors.Is(err, context.Canceled) {
		t.Fatalf("Walk with a canceled context: %v", err)
	}
}

// TestWritePaths checks the write path rule: a destination on the source's
// filesystem or disk, or on another destination's, goes through the page
// cache; one on storage of its own is written O_DIRECT; --write forces.
func TestWritePaths(t *testing.T) {
	p := &Plan{source: place{existing: FileID{Dev: 1}}, Dests: []Dest{
		{Arg: "same", place: place{existing: FileID{Dev: 1}}},
		{Arg: "own", place: place{existing: FileID{Dev: 2}}},
		{Arg: "x", place: place{existing: FileID{Dev: 3}}},
		{Arg: "y", place: place{existing: FileID{Dev: 3}}},
	}}
	got := p.WritePaths(cvv.WriteAuto)
	want := []WriteChoice{
		{cvv.WriteBuffered, "shares its filesystem with the source", false},
		{cvv.WriteDirect, "on storage of its own; files under 1 MiB through the page cache", true},
		{cvv.WriteBuffered, "shares its filesystem with destination y", false},
		{cvv.WriteBuffered, "shares its filesystem with destination x", false},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("WritePaths(auto) = %+v, want %+v", got, want)
	}
	// On storage of its own, a file that fits in one read block goes
	// through the page cache; a bigger one is written O_DIRECT.
	for size, w := range map[int64]cvv.WritePath{0: cvv.WriteBuffered, 12345: cvv.WriteBuffered,
		SmallFile - 1: cvv.WriteBuffered, SmallFile: cvv.WriteDirect, 8 << 20: cvv.WriteDirect} {
		if p := got[1].ForFile(size); p != w {
			t.Errorf("auto, storage of its own, a file of %d bytes: %v, want %v", size, p, w)
		}
		if p := got[0].ForFile(size); p != cvv.WriteBuffered {
			t.Errorf("auto, shared filesystem, a file of %d bytes: %v", size, p)
		}
	}
	for _, c := range p.WritePaths(cvv.WriteDirect) {
		if c != (WriteChoice{cvv.WriteDirect, "--write direct", false}) {
			t.Errorf("forced: %+v", c)
		}
		if p := c.ForFile(100); p != cvv.WriteDirect {
			t.Errorf("--write direct, a small file: %v", p)
		}
	}
	// Two partitions (or volumes) on one disk share it.
	if why := sharedWith(5, 6, []string{"vda"}, []string{"sdb", "vda"}); why != "shares the device vda" {
		t.Errorf("sharedWith over one disk = %q", why)
	}
	if why := sharedWith(5, 6, []string{"vda"}, []string{"sdb"}); why != "" {
		t.Errorf("sharedWith over two disks = %q", why)
	}
}

// TestWalkWith checks the options the walker offers copy, verify and hash:
// Skip leaves entries out without counting them, Excludes counts them, and
// a skipped or excluded directory is not entered.
func TestWalkWith(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"a.mov", "ascmhl/0001.mhl", "cache/x.tmp", "sub/b.mov", "sub/c.tmp"} {
		p := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ex, err := NewExcludes([]string{"*.tmp", "cache/"})
	if err != nil {
		t.Fatal(err)
	}
	var skipped []string
	tr, err := WalkWith(context.Background(), root, WalkOptions{Excludes: ex, Skip: func(rel string) bool {
		skipped = append(skipped, rel)
		return rel == "ascmhl"
	}})
	if err != nil {
		t.Fatal(err)
	}
	var files, dirs []string
	for _, e := range entries(t, tr) {
		files = append(files, filepath.ToSlash(e.Rel))
	}
	for _, d := range tr.Dirs {
		dirs = append(dirs, filepath.ToSlash(d.Rel))
	}
	if want := []string{"a.mov", "sub/b.mov"}; !slices.Equal(files, want) {
		t.Errorf("files %q, want %q", files, want)
	}
	if want := []string{"", "sub"}; !slices.Equal(dirs, want) {
		t.Errorf("dirs %q, want %q", dirs, want)
	}
	if tr.Excluded != 2 {
		t.Errorf("Excluded = %d, want 2 (cache/ and sub/c.tmp; a skipped entry is not counted)", tr.Excluded)
	}
	if slices.Contains(skipped, "ascmhl/0001.mhl") {
		t.Errorf("Skip was asked about %q: a skipped directory must not be entered", "ascmhl/0001.mhl")
	}
}

// TestScanPathOrder checks that Scan visits entries in the byte order of
// their '/'-separated paths, the order of sorted hash lists, even where a
// directory's name is a prefix of its siblings' ("a.txt" < "a/" < "a0"),
// and that a stop from visit ends the walk.
func TestScanPathOrder(t *testing.T) {
	root := t.TempDir()
	for _, p := range []string{"a/z", "a/b/c", "a.txt", "a0", "a-b/x", "b/a/b", "b/a.c", "b/a0"} {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	if _, err := Scan(context.Background(), root, WalkOptions{}, func(f *Found) error {
		if f.Err != nil {
			t.Errorf("%s: %v", f.Rel, f.Err)
		}
		// A directory's key is its path and a '/': what it holds
		// follows it, and its own place is where that sorts.
		key := filepath.ToSlash(f.Rel)
		if f.Kind == Dir && key != "" {
			key += "/"
		}
		got = append(got, key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(got)
	slices.Sort(want)
	if !slices.Equal(got, want) || len(got) != 14 {
		t.Errorf("visited %q, want %q", got, want)
	}
	stop := errors.New("stop")
	n := 0
	if _, err := Scan(context.Background(), root, WalkOptions{}, func(*Found) error {
		if n++; n == 3 {
			return stop
		}
		return nil
	}); !errors.Is(err, stop) || n != 3 {
		t.Errorf("Scan after a stop: %v after %d visits", err, n)
	}
}
