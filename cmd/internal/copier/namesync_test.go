package copier

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cvv-project/cvv/internal/atomicfile"
)

// TestFSSyncerGroupCommit: callers of fsSyncer.sync share syncfs calls,
// and each success a caller gets is that of a syncfs that started after it
// asked (never of one already running when it asked, which may have
// missed its names).
func TestFSSyncerGroupCommit(t *testing.T) {
	var clock atomic.Int64
	type call struct{ start, end int64 }
	var mu sync.Mutex
	var calls []call
	s := newFSSyncer(nil, func(*atomicfile.Dir) error {
		start := clock.Add(1)
		time.Sleep(200 * time.Microsecond)
		mu.Lock()
		calls = append(calls, call{start, clock.Add(1)})
		mu.Unlock()
		return nil
	})
	const workers, each = 8, 50
	var wg sync.WaitGroup
	var bad atomic.Int64
	for range workers {
		wg.Go(func() {
			for range each {
				asked := clock.Add(1)
				if err := s.sync(); err != nil {
					t.Error(err)
				}
				now := clock.Add(1)
				mu.Lock()
				ok := false
				for _, c := range calls {
					ok = ok || c.start > asked && c.end < now
				}
				mu.Unlock()
				if !ok {
					bad.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if bad.Load() > 0 {
		t.Errorf("%d syncs returned without a syncfs that started after they asked", bad.Load())
	}
	if len(calls) >= workers*each {
		t.Errorf("%d syncfs calls for %d syncs: none shared", len(calls), workers*each)
	}
	t.Logf("%d syncfs calls for %d syncs", len(calls), workers*each)
}

// TestFSSyncerSticky: once a syncfs failed, every later sync fails with
// its error without another syncfs: the failed call may have consumed the
// error (reported once per descriptor) of names another caller waits for.
func TestFSSyncerSticky(t *testing.T) {
	errLost := errors.New("lost")
	n := 0
	s := newFSSyncer(nil, func(*atomicfile.Dir) error {
		n++
		if n == 2 {
			return errLost
		}
		return nil
	})
	if err := s.sync(); err != nil {
		t.Fatalf("first sync: %v", err)
	}
	for i := range 3 {
		if err := s.sync(); !errors.Is(err, errLost) {
			t.Errorf("sync %d after the failure: %v, want %v", i+2, err, errLost)
		}
	}
	if n != 2 {
		t.Errorf("%d syncfs calls, want 2: none after the failure", n)
	}
}
