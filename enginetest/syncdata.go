package enginetest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/hashing"
	"github.com/cvv-project/cvv/internal/atomicfile"
)

// testSyncData: a destination with a Job.SyncData hook is made durable by
// the hook in place of its own fdatasync, after its last write and before
// its rename: when the hook runs, the temp file holds the whole copy and
// the final name does not exist yet. A hook that fails fails that
// destination only, as a failed fdatasync would: its error is reported,
// its temp file removed, its final name never made; the other
// destinations (one with a hook that succeeds, one with none) are copied.
// With Hold, a failing hook leaves no temp file to hand over.
func testSyncData(t *testing.T, open NewEngine) {
	e := open(t, cvv.Options{BlockSize: suiteBlock})
	data := Data(3*suiteBlock+17, 11)
	src := WriteFile(t, t.TempDir(), "src", data)
	errLost := &os.PathError{Op: "syncfs", Path: "/lost", Err: syscall.EIO}
	for _, hold := range []bool{false, true} {
		dests := DestPaths(t, 3, "copy")
		var calls [3]atomic.Int32
		// hook checks, when destination i is to be made durable, that
		// its copy is complete under a temp name and not yet renamed.
		hook := func(i int, err error) func() error {
			return func() error {
				calls[i].Add(1)
				if _, serr := os.Lstat(dests[i]); !errors.Is(serr, os.ErrNotExist) {
					t.Errorf("destination %d: final name exists when its data is synced (%v)", i, serr)
				}
				ents, rerr := os.ReadDir(filepath.Dir(dests[i]))
				if rerr != nil {
					t.Error(rerr)
				}
				var temps int
				for _, ent := range ents {
					if atomicfile.IsTempName(ent.Name()) {
						temps++
						AssertSame(t, filepath.Join(filepath.Dir(dests[i]), ent.Name()), data)
					}
				}
				if temps != 1 {
					t.Errorf("destination %d: %d temp files when its data is synced, want 1", i, temps)
				}
				return err
			}
		}
		job := cvv.Job{Source: src, Dests: dests, Hash: hashing.XXH3, Hold: hold,
			SyncData: []func() error{hook(0, nil), hook(1, errLost), nil}}
		res, err := e.Copy(context.Background(), job)
		if err != nil {
			t.Fatalf("hold %v: Copy: %v (a failed data sync must fail its destination only)", hold, err)
		}
		for i := range 2 {
			if n := calls[i].Load(); n != 1 {
				t.Errorf("hold %v: destination %d: data sync called %d times, want 1", hold, i, n)
			}
		}
		if err := res.Dests[1].Err; !errors.Is(err, syscall.EIO) {
			t.Errorf("hold %v: destination with a failing data sync: error %v, want one wrapping EIO", hold, err)
		}
		if res.Dests[1].Temp != "" {
			t.Errorf("hold %v: destination with a failing data sync handed over %s", hold, res.Dests[1].Temp)
		}
		assertAbsent(t, dests[1])
		AssertNoTemps(t, dests[1])
		for _, i := range []int{0, 2} {
			d := res.Dests[i]
			if d.Err != nil {
				t.Errorf("hold %v: destination %d: %v", hold, i, d.Err)
				continue
			}
			got := dests[i]
			if hold {
				got = d.Temp
			}
			AssertSame(t, got, data)
		}
	}
}
