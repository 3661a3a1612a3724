// Package enginetest is the conformance suite every cvv.Engine must pass:
// byte-identical copies and correct in-flight hashes over a table of sizes
// and destination counts, durability attributes, isolation of a failing
// destination, source changes and cancellation. Both engines call Run from
// their tests. It only reads and writes below t.TempDir().
package enginetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/hashing"
	"github.com/cvv-project/cvv/internal/atomicfile"
)

// NewEngine makes the engine under test with the given options.
type NewEngine func(t *testing.T, opts cvv.Options) cvv.Engine

// suiteBlock is the block size the suite uses so that "many blocks" stays
// cheap; the sizes table is built around it.
const suiteBlock = 64 << 10

// Run runs the conformance suite against the engines newEngine makes.
func Run(t *testing.T, newEngine NewEngine) {
	open := func(t *testing.T, opts cvv.Options) cvv.Engine {
		e := newEngine(t, opts)
		t.Cleanup(func() {
			if err := e.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return e
	}
	t.Run("Sizes", func(t *testing.T) { testSizes(t, open) })
	t.Run("Algorithms", func(t *testing.T) { testAlgorithms(t, open) })
	t.Run("Attributes", func(t *testing.T) { testAttributes(t, open) })
	t.Run("ReplaceExisting", func(t *testing.T) { testReplace(t, open) })
	t.Run("Isolation", func(t *testing.T) { testIsolation(t, open) })
	t.Run("SourceErrors", func(t *testing.T) { testSourceErrors(t, open) })
	t.Run("SourceChanged", func(t *testing.T) { testSourceChanged(t, open) })
	t.Run("Cancel", func(t *testing.T) { testCancel(t, open) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, open) })
	t.Run("Hash", func(t *testing.T) { testHash(t, open) })
	t.Run("Beyond4GiB", func(t *testing.T) { testBeyond4GiB(t, open) })
	t.Run("Sparse", func(t *testing.T) { testSparse(t, open) })
	t.Run("Xattrs", func(t *testing.T) { testXattrs(t, open) })
	t.Run("Beneath", func(t *testing.T) { testBeneath(t, open) })
	t.Run("SyncData", func(t *testing.T) { testSyncData(t, open) })
}

// Data returns n reproducible pseudo-random bytes.
func Data(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for k := range 8 {
			b[i+k] = byte(v >> (8 * k))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// WriteFile writes data to dir/name and returns the path.
func WriteFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// DestPaths makes n destination directories below t.TempDir() and returns a
// path named name in each.
func DestPaths(t testing.TB, n int, name string) []string {
	t.Helper()
	root := t.TempDir()
	out := make([]string, n)
	for i := range out {
		dir := filepath.Join(root, fmt.Sprintf("d%d", i))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		out[i] = filepath.Join(dir, name)
	}
	return out
}

// AssertNoTemps fails if any directory of paths holds a cvv temp file.
func AssertNoTemps(t testing.TB, paths ...string) {
	t.Helper()
	seen := map[string]bool{}
	for _, p := range paths {
		dir := filepath.Dir(p)
		if seen[dir] {
			continue
		}
		seen[dir] = true
		ents, err := os.ReadDir(dir)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			t.Fatal(err)
		}
		for _, e := range ents {
			if atomicfile.IsTempName(e.Name()) {
				t.Errorf("temp file %s left in %s", e.Name(), dir)
			}
		}
	}
}

// AssertSame fails unless the file at path holds exactly want.
func AssertSame(t testing.TB, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("read copy: %v", err)
		return
	}
	if !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Errorf("%s differs from the source: %d bytes, want %d, first difference at %d", path, len(got), len(want), i)
	}
}

func copyOK(t *testing.T, e cvv.Engine, job cvv.Job) *cvv.Result {
	t.Helper()
	res, err := e.Copy(context.Background(), job)
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	if len(res.Dests) != len(job.Dests) {
		t.Fatalf("Copy reported %d destinations, want %d", len(res.Dests), len(job.Dests))
	}
	for i, d := range res.Dests {
		if d.Err != nil {
			t.Errorf("destination %d (%s): %v", i, d.Path, d.Err)
		}
		if d.Path != job.Dests[i] {
			t.Errorf("destination %d reported as %q, want %q", i, d.Path, job.Dests[i])
		}
	}
	if res.Engine != e.Name() {
		t.Errorf("Result.Engine = %q, want %q", res.Engine, e.Name())
	}
	return res
}

func testSizes(t *testing.T, open NewEngine) {
	e := open(t, cvv.Options{BlockSize: suiteBlock, QueueDepth: 4})
	sizes := []int{0, 1, 511, 512, 4095, 4096, 4097, suiteBlock - 1, suiteBlock, suiteBlock + 1,
		7*suiteBlock + 4093, 40*suiteBlock + 1}
	for _, size := range sizes {
		for _, n := range []int{1, 2, 3} {
			t.Run(fmt.Sprintf("%d/%ddest", size, n), func(t *testing.T) {
				data := Data(size, uint64(size*7+n))
				src := WriteFile(t, t.TempDir(), "src", data)
				dests := DestPaths(t, n, "copy")
				res := copyOK(t, e, cvv.Job{Source: src, Dests: dests, Hash: hashing.XXH3})
				if res.Size != int64(size) {
					t.Errorf("Size = %d, want %d", res.Size, size)
				}
				if want := hashing.XXH3.Sum(data); res.SourceHash != want {
					t.Errorf("SourceHash = %s, want %s", res.SourceHash, want)
				}
				for i, d := range dests {
					AssertSame(t, d, data)
					if res.Dests[i].Bytes != int64(size) {
						t.Errorf("dest %d Bytes = %d, want %d", i, res.Dests[i].Bytes, size)
					}
				}
				AssertNoTemps(t, dests...)
			})
		}
	}
}

func testAlgorithms(t *testing.T, open NewEngine) {
	e := open(t, cvv.Options{BlockSize: suiteBlock, QueueDepth: 3})
	data := Data(5*suiteBlock+333, 42)
	src := WriteFile(t, t.TempDir(), "src", data)
	for _, alg := range hashing.Algorithms {
		t.Run(alg.String(), func(t *testing.T) {
			dests := DestPaths(t, 2, "copy")
			res := copyOK(t, e, cvv.Job{Source: src, Dests: dests, Hash: alg})
			if want := alg.Sum(data); res.SourceHash != want {
				t.Errorf("SourceHash = %s, want %s", res.SourceHash, want)
			}
		})
	}
}

func testAttributes(t *testing.T, open NewEngine) {
	e := open(t, cvv.Options{BlockSize: suiteBlock})
	data := Data(3*suiteBlock+5, 3)
	src := WriteFile(t, t.TempDir(), "src", data)
	if err := os.Chmod(src, 0o751); err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2021, 3, 4, 5, 6, 7, 123456789, time.UTC)
	if err := os.Chtimes(src, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	t.Run("Preserve", func(t *testing.T) {
		dests := DestPaths(t, 2, "copy")
		copyOK(t, e, cvv.Job{Source: src, Dests: dests})
		for _, d := range dests {
			fi, err := os.Stat(d)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o751 {
				t.Errorf("%s mode %v, want 0751", d, fi.Mode().Perm())
			}
			if !fi.ModTime().Equal(mtime) {
				t.Errorf("%s mtime %v, want %v", d, fi.ModTime(), mtime)
			}
		}
	})
	t.Run("NoPreserve", func(t *testing.T) {
		dests := DestPaths(t, 1, "copy")
		copyOK(t, e, cvv.Job{Source: src, Dests: dests, NoPreserve: true, NoFsync: true})
		fi, err := os.Stat(dests[0])
		if err != nil {
			t.Fatal(err)
		}
		if fi.ModTime().Equal(mtime) {
			t.Errorf("mtime preserved with NoPreserve")
		}
		AssertSame(t, dests[0], data)
	})
}

func testReplace(t *testing.T, open NewEngine) {
	e := open(t, cvv.Options{BlockSize: suiteBlock})
	data := Data(2*suiteBlock+17, 4)
	src := WriteFile(t, t.TempDir(), "src", data)
	dests := DestPaths(t, 2, "copy")
	// A longer old file: the copy must not keep its tail.
	old := Data(5*suiteBlock, 99)
	for _, d := range dests {
		if err := os.WriteFile(d, old, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	copyOK(t, e, cvv.Job{Source: src, Dests: dests})
	for _, d := range dests {
		AssertSame(t, d, data)
	}
	AssertNoTemps(t, dests...)
}

func testIsolation(t *testing.T, open NewEngine) {
	e := open(t, cvv.Options{BlockSize: suiteBlock})
	data := Data(6*suiteBlock+1, 5)
	src := WriteFile(t, t.TempDir(), "src", data)
	dests := DestPaths(t, 3, "copy")
	// The middle destination's directory does not exist.
	bad := filepath.Join(t.TempDir(), "missing", "copy")
	job := cvv.Job{Source: src, Dests: []string{dests[0], bad, dests[2]}, Hash: hashing.SHA256}
	res, err := e.Copy(context.Background(), job)
	if err != nil {
		t.Fatalf("Copy: %v (a destination failure must not fail the copy)", err)
	}
	if res.Dests[1].Err == nil {
		t.Errorf("destination in a missing directory reported no error")
	} else if !errors.Is(res.Dests[1].Err, fs.ErrNotExist) {
		t.Errorf("destination error %v, want one wrapping ErrNotExist", res.Dests[1].Err)
	}
	if !res.Failed() {
		t.Errorf("Result.Failed() = false")
	}
	for _, i := range []int{0, 2} {
		if res.Dests[i].Err != nil {
			t.Errorf("healthy destination %d failed: %v", i, res.Dests[i].Err)
		}
		AssertSame(t, job.Dests[i], data)
	}
	if want := hashing.SHA256.Sum(data); res.SourceHash != want {
		t.Errorf("SourceHash = %s, want %s", res.SourceHash, want)
	}
	AssertNoTemps(t, job.Dests...)
}

func testSourceErrors(t *testing.T, open NewEngine) {
	e := open(t, cvv.Options{BlockSize: suiteBlock})
	t.Run("Missing", func(t *testing.T) {
		dests := DestPaths(t, 2, "copy")
		_, err := e.Copy(context.Background(), cvv.Job{Source: filepath.Join(t.TempDir(), "nope"), Dests: dests})
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Copy of a missing source: %v, want ErrNotExist", err)
		}
		assertAbsent(t, dests...)
		AssertNoTemps(t, dests...)
	})
	t.Run("Directory", func(t *testing.T) {
		dests := DestPaths(t, 1, "copy")
		if _, err := e.Copy(context.Background(), cvv.Job{Source: t.TempDir(), Dests: dests}); err == nil {
			t.Errorf("Copy of a directory succeeded")
		}
		assertAbsent(t, dests...)
		AssertNoTemps(t, dests...)
	})
	t.Run("InvalidJob", func(t *testing.T) {
		src := WriteFile(t, t.TempDir(), "src", []byte("x"))
		dests := DestPaths(t, 1, "copy")
		_, err := e.Copy(context.Background(), cvv.Job{Source: src, Dests: []string{dests[0], dests[0]}})
		if !errors.Is(err, cvv.ErrInvalidJob) {
			t.Errorf("duplicate destination: %v, want ErrInvalidJob", err)
		}
		assertAbsent(t, dests...)
	})
}

func testSourceChanged(t *testing.T, open NewEngine) {
	e := open(t, cvv.Options{BlockSize: suiteBlock, QueueDepth: 2})
	for _, tc := range []struct {
		name   string
		change func(path string) error
	}{
		{"Grows", func(p string) error {
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				return err
			}
			if _, err := f.Write([]byte("more")); err != nil {
				f.Close()
				return err
			}
			return f.Close()
		}},
		{"Shrinks", func(p string) error { return os.Truncate(p, suiteBlock+10) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := Data(64*suiteBlock, 6)
			src := WriteFile(t, t.TempDir(), "src", data)
			dests := DestPaths(t, 2, "copy")
			var once sync.Once
			var changeErr error
			job := cvv.Job{Source: src, Dests: dests, Progress: func(int64) {
				once.Do(func() { changeErr = tc.change(src) })
			}}
			_, err := e.Copy(context.Background(), job)
			if changeErr != nil {
				t.Fatal(changeErr)
			}
			if !errors.Is(err, cvv.ErrSourceChanged) {
				t.Errorf("Copy of a changing source: %v, want ErrSourceChanged", err)
			}
			assertAbsent(t, dests...)
			AssertNoTemps(t, dests...)
		})
	}
}

func testCancel(t *testing.T, open NewEngine) {
	e := open(t, cvv.Options{BlockSize: suiteBlock, QueueDepth: 4})
	data := Data(200*suiteBlock, 7)
	src := WriteFile(t, t.TempDir(), "src", data)
	dests := DestPaths(t, 3, "copy")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var seen int64
	job := cvv.Job{Source: src, Dests: dests, Progress: func(n int64) {
		seen += n
		if seen >= 3*suiteBlock {
			cancel()
		}
	}}
	start := time.Now()
	_, err := e.Copy(ctx, job)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Copy after cancel: %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancelled copy took %v", d)
	}
	assertAbsent(t, dests...)
	AssertNoTemps(t, dests...)
	// The engine is still usable: nothing leaked that a copy needs.
	for range 3 {
		res := copyOK(t, e, cvv.Job{Source: src, Dests: dests, NoFsync: true})
		if res.SourceHash != hashing.XXH3.Sum(data) {
			t.Errorf("copy after a cancelled one: wrong hash")
		}
	}
}

func testConcurrent(t *testing.T, open NewEngine) {
	e := open(t, cvv.Options{BlockSize: suiteBlock, QueueDepth: 4})
	const files = 8
	var wg sync.WaitGroup
	for i := range files {
		data := Data(i*suiteBlock*3+i*511, uint64(100+i))
		src := WriteFile(t, t.TempDir(), "src", data)
		dests := DestPaths(t, 2, "copy")
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := e.Copy(context.Background(), cvv.Job{Source: src, Dests: dests, NoFsync: true})
			if err != nil {
				t.Errorf("file %d: %v", i, err)
				return
			}
			if res.SourceHash != hashing.XXH3.Sum(data) {
				t.Errorf("file %d: wrong hash", i)
			}
			for _, d := range dests {
				AssertSame(t, d, data)
			}
		}()
	}
	wg.Wait()
}

func testHash(t *testing.T, open NewEngine) {
	e := open(t, cvv.Options{BlockSize: suiteBlock})
	for _, size := range []int{0, 1, 4097, suiteBlock, 9*suiteBlock + 3} {
		data := Data(size, uint64(size))
		p := WriteFile(t, t.TempDir(), "f", data)
		for _, alg := range []hashing.Algorithm{hashing.XXH3, hashing.MD5} {
			hr, err := e.Hash(context.Background(), p, alg)
			if err != nil {
				t.Fatalf("Hash(%d bytes): %v", size, err)
			}
			if hr.Size != int64(size) || hr.Hash != alg.Sum(data) {
				t.Errorf("Hash(%d bytes, %v) = %d %s, want %d %s", size, alg, hr.Size, hr.Hash, size, alg.Sum(data))
			}
		}
	}
	if _, err := e.Hash(context.Background(), filepath.Join(t.TempDir(), "nope"), hashing.XXH3); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Hash of a missing file: %v", err)
	}
	testHashProgress(t, e)
}

// testHashProgress checks that HashProgress reports every byte it hashed,
// in several calls for a file of several blocks.
func testHashProgress(t *testing.T, e cvv.Engine) {
	ph, ok := e.(cvv.ProgressHasher)
	if !ok {
		t.Fatalf("%T does not implement cvv.ProgressHasher", e)
	}
	size := 9*suiteBlock + 3
	data := Data(size, 7)
	p := WriteFile(t, t.TempDir(), "f", data)
	var total int64
	calls := 0
	hr, err := ph.HashProgress(context.Background(), p, hashing.XXH3, func(n int64) { total += n; calls++ })
	if err != nil {
		t.Fatal(err)
	}
	if hr.Hash != hashing.XXH3.Sum(data) || total != int64(size) || calls < 2 {
		t.Errorf("HashProgress: hash %s (want %s), %d bytes reported in %d calls, want %d in several", hr.Hash, hashing.XXH3.Sum(data), total, calls, size)
	}
}

// testBeyond4GiB copies a sparse file whose data lies past 4 GiB, so offsets
// that do not fit 32 bits must be right.
func testBeyond4GiB(t *testing.T, open NewEngine) {
	if testing.Short() {
		t.Skip("copies 4 GiB; skipped with -short")
	}
	e := open(t, cvv.Options{BlockSize: 8 << 20, QueueDepth: 8})
	dir := t.TempDir()
	src := filepath.Join(dir, "sparse")
	f, err := os.Create(src)
	if err != nil {
		t.Fatal(err)
	}
	head := Data(4097, 1)
	tail := Data(3<<20+1234, 2)
	const tailOff = 4<<30 + 12345
	if _, err := f.WriteAt(head, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(tail, tailOff); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	dests := DestPaths(t, 1, "copy")
	res := copyOK(t, e, cvv.Job{Source: src, Dests: dests, NoFsync: true})
	size := int64(tailOff + len(tail))
	if res.Size != size {
		t.Fatalf("Size = %d, want %d", res.Size, size)
	}
	h := hashing.XXH3.New()
	h.Write(head)
	zeros := make([]byte, 1<<20)
	for left := int64(tailOff - len(head)); left > 0; {
		n := min(left, int64(len(zeros)))
		h.Write(zeros[:n])
		left -= n
	}
	h.Write(tail)
	if res.SourceHash != h.Hex() {
		t.Errorf("SourceHash = %s, want %s", res.SourceHash, h.Hex())
	}
	// The whole copy, not only its ends: a block written at a wrong
	// offset in the middle (a 32-bit wrap) must show.
	g, err := os.Open(dests[0])
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	dh := hashing.XXH3.New()
	n, err := io.Copy(dh, g)
	if err != nil {
		t.Fatal(err)
	}
	if n != size || dh.Hex() != h.Hex() {
		t.Errorf("copy: %d bytes, xxh3 %s; want %d bytes, xxh3 %s", n, dh.Hex(), size, h.Hex())
	}
	os.Remove(dests[0])
}

func assertAbsent(t testing.TB, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s exists after a failed copy (%v)", p, err)
		}
	}
}

// testBeneath: with Job.Roots, a destination whose directory is reached
// through a symlink below its root fails with ErrSymlink and nothing is
// written outside the root, while the other destinations are copied; a
// symlink at the final name is replaced itself, its target untouched; a
// destination outside its root is refused.
func testBeneath(t *testing.T, open NewEngine) {
	e := open(t, cvv.Options{BlockSize: suiteBlock})
	base := t.TempDir()
	data := Data(3*suiteBlock+7, 21)
	src := WriteFile(t, base, "src", data)
	rootPath, outside := filepath.Join(base, "root"), filepath.Join(base, "outside")
	for _, d := range []string{filepath.Join(rootPath, "a"), outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	victim := WriteFile(t, outside, "f", []byte("not yours"))
	if err := os.Symlink("../outside", filepath.Join(rootPath, "b")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(rootPath, "a", "g")); err != nil {
		t.Fatal(err)
	}
	root, err := atomicfile.OpenRoot(rootPath)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	dests := []string{filepath.Join(rootPath, "a", "f"), filepath.Join(rootPath, "b", "f"), filepath.Join(rootPath, "a", "g"), filepath.Join(base, "f")}
	res, err := e.Copy(context.Background(), cvv.Job{Source: src, Dests: dests, Roots: []*atomicfile.Dir{root, root, root, root}})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []error{nil, cvv.ErrSymlink, nil, nil} {
		got := res.Dests[i].Err
		switch {
		case want == nil && i < 3 && got != nil:
			t.Errorf("destination %s failed: %v", dests[i], got)
		case want != nil && !errors.Is(got, want):
			t.Errorf("destination %s: error %v, want one wrapping %v", dests[i], got, want)
		case i == 3 && got == nil:
			t.Errorf("destination %s outside its root was written", dests[i])
		}
	}
	AssertSame(t, dests[0], data)
	AssertSame(t, dests[2], data)
	if fi, err := os.Lstat(dests[2]); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("the symlink at the final name was not replaced by the file: %v", err)
	}
	AssertSame(t, victim, []byte("not yours"))
	assertAbsent(t, filepath.Join(base, "f"))
	if ents, err := os.ReadDir(outside); err != nil || len(ents) != 1 {
		t.Errorf("something was written outside the root: %v %v", ents, err)
	}
	AssertNoTemps(t, dests[0])
}

// WithWrite wraps e so that every Copy asks for write path p on every
// destination (unless the job already says), and checks that the engine
// took it: with cvv.WriteBuffered no destination may report "direct", with
// cvv.WriteDirect every destination of an engine that writes O_DIRECT
// (Mode "direct" or "buffered" after a refusal, never "pwrite") must.
// Run the suite through it to prove that each path meets the contract.
func WithWrite(t *testing.T, e cvv.Engine, p cvv.WritePath) cvv.Engine {
	return &writeEngine{Engine: e, t: t, path: p}
}

type writeEngine struct {
	cvv.Engine
	t    *testing.T
	path cvv.WritePath
}

// HashProgress is the wrapped engine's (a write path changes no read).
func (w *writeEngine) HashProgress(ctx context.Context, path string, alg hashing.Algorithm, progress func(int64)) (cvv.HashResult, error) {
	return w.Engine.(cvv.ProgressHasher).HashProgress(ctx, path, alg, progress)
}

func (w *writeEngine) Copy(ctx context.Context, job cvv.Job) (*cvv.Result, error) {
	if job.Write == nil {
		job.Write = make([]cvv.WritePath, len(job.Dests))
		for i := range job.Write {
			job.Write[i] = w.path
		}
	}
	res, err := w.Engine.Copy(ctx, job)
	if err != nil {
		return res, err
	}
	for i, d := range res.Dests {
		if d.Err != nil || d.Mode == "pwrite" {
			continue
		}
		switch want := job.WritePath(i); {
		case want == cvv.WriteBuffered && (d.Mode != "buffered" || d.Direct):
			w.t.Errorf("%s: asked for the page cache, written %q (direct %v)", d.Path, d.Mode, d.Direct)
		case want == cvv.WriteDirect && d.Mode != "direct" && d.Note == "":
			w.t.Errorf("%s: asked for O_DIRECT, written %q with no note saying why not", d.Path, d.Mode)
		}
	}
	return res, nil
}
