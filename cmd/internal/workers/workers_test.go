package workers

import (
	"context"
	"errors"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestEach(t *testing.T) {
	const count = 200
	t.Run("all once, bounded", func(t *testing.T) {
		var mu sync.Mutex
		seen := map[int]int{}
		var cur, peak atomic.Int64
		err := Each(context.Background(), 3, count, func(i int) error {
			c := cur.Add(1)
			for p := peak.Load(); c > p && !peak.CompareAndSwap(p, c); p = peak.Load() {
			}
			time.Sleep(50 * time.Microsecond)
			cur.Add(-1)
			mu.Lock()
			seen[i]++
			mu.Unlock()
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for i := range count {
			if seen[i] != 1 {
				t.Fatalf("item %d done %d times", i, seen[i])
			}
		}
		if p := peak.Load(); p > 3 || p < 2 {
			t.Errorf("peak concurrency %d, want 2 or 3 with n=3", p)
		}
	})
	t.Run("first error stops", func(t *testing.T) {
		boom := errors.New("boom")
		var calls atomic.Int64
		err := Each(context.Background(), 4, count, func(i int) error {
			calls.Add(1)
			if i == 10 {
				return boom
			}
			if i > 10 {
				time.Sleep(time.Millisecond)
			}
			return nil
		})
		if !errors.Is(err, boom) {
			t.Fatalf("got %v, want boom", err)
		}
		if n := calls.Load(); n > 20 {
			t.Errorf("%d items started after the error at item 10", n)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		var calls atomic.Int64
		err := Each(ctx, 2, count, func(i int) error {
			if calls.Add(1) == 5 {
				cancel()
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
		if n := calls.Load(); n > 7 {
			t.Errorf("%d items started, want at most 5 + the ones in flight", n)
		}
	})
	t.Run("empty", func(t *testing.T) {
		if err := Each(context.Background(), 4, 0, func(int) error { t.Error("called"); return nil }); err != nil {
			t.Fatal(err)
		}
	})
}

func TestOrdered(t *testing.T) {
	const count = 300
	t.Run("index order, bounded, O(n) ahead", func(t *testing.T) {
		var cur, peak, ahead atomic.Int64
		var delivered atomic.Int64
		next := 0
		err := Ordered(context.Background(), 4, count, func(k int) (int, error) {
			c := cur.Add(1)
			for p := peak.Load(); c > p && !peak.CompareAndSwap(p, c); p = peak.Load() {
			}
			// Started items never run more than n ahead of the handed-over ones.
			if a := int64(k) - delivered.Load(); a > ahead.Load() {
				ahead.Store(a)
			}
			// Early items are the slow ones: later ones finish first.
			time.Sleep(time.Duration((count-k)%7) * 30 * time.Microsecond)
			cur.Add(-1)
			return k * k, nil
		}, func(k, v int, err error) error {
			if k != next || v != k*k || err != nil {
				t.Fatalf("done(%d, %d, %v), want done(%d, %d, nil)", k, v, err, next, next*next)
			}
			next++
			delivered.Add(1)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if next != count {
			t.Fatalf("%d results handed over, want %d", next, count)
		}
		if p := peak.Load(); p > 4 {
			t.Errorf("peak concurrency %d, want at most 4", p)
		}
		if a := ahead.Load(); a > 4 {
			t.Errorf("an item started %d ahead of the last one handed over, want at most 4", a)
		}
	})
	t.Run("work errors are results", func(t *testing.T) {
		boom := errors.New("boom")
		var got []error
		err := Ordered(context.Background(), 3, 10, func(k int) (struct{}, error) {
			if k%3 == 0 {
				return struct{}{}, boom
			}
			return struct{}{}, nil
		}, func(k int, _ struct{}, err error) error {
			got = append(got, err)
			return nil
		})
		if err != nil || len(got) != 10 {
			t.Fatalf("Ordered = %v with %d results, want nil and 10", err, len(got))
		}
		for k, e := range got {
			if (k%3 == 0) != errors.Is(e, boom) {
				t.Errorf("result %d: %v", k, e)
			}
		}
	})
	t.Run("done error stops", func(t *testing.T) {
		stop := errors.New("stop")
		var calls, dones atomic.Int64
		err := Ordered(context.Background(), 4, count, func(k int) (int, error) {
			calls.Add(1)
			return k, nil
		}, func(k, _ int, _ error) error {
			dones.Add(1)
			if k == 10 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) {
			t.Fatalf("got %v, want stop", err)
		}
		if d := dones.Load(); d != 11 {
			t.Errorf("done called %d times, want 11 (none after the error)", d)
		}
		if n := calls.Load(); n > 11+4 {
			t.Errorf("%d items started, want at most 11 + 4", n)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		var calls atomic.Int64
		err := Ordered(ctx, 2, count, func(k int) (int, error) {
			if calls.Add(1) == 5 {
				cancel()
			}
			return k, nil
		}, func(int, int, error) error { return nil })
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
		if n := calls.Load(); n > 7 {
			t.Errorf("%d items started, want at most 5 + the ones in flight", n)
		}
	})
	t.Run("empty", func(t *testing.T) {
		err := Ordered(context.Background(), 4, 0, func(int) (int, error) { t.Error("called"); return 0, nil }, func(int, int, error) error { t.Error("done"); return nil })
		if err != nil {
			t.Fatal(err)
		}
	})
}

// TestOfDrawsLazily checks that EachOf and OrderedOf draw their sequence
// no further ahead than the work: at most n items (plus the one waiting
// for a slot) are drawn and not yet finished, whatever the length of the
// sequence, and a stopped run stops the sequence.
func TestOfDrawsLazily(t *testing.T) {
	const n, count = 4, 500
	var drawn, finished atomic.Int64
	var ahead atomic.Int64
	seq := func(yield func(int) bool) {
		for k := range count {
			if a := drawn.Add(1) - finished.Load(); a > ahead.Load() {
				ahead.Store(a)
			}
			if !yield(k) {
				return
			}
		}
	}
	work := func(k int) (int, error) {
		time.Sleep(50 * time.Microsecond)
		return k * 2, nil
	}
	next := 0
	err := OrderedOf(context.Background(), n, seq, work, func(k, v int, err error) error {
		if k != next || v != 2*k || err != nil {
			t.Errorf("done(%d, %d, %v), want item %d", k, v, err, next)
		}
		next++
		finished.Add(1)
		return nil
	})
	if err != nil || next != count {
		t.Fatalf("OrderedOf: %v after %d items", err, next)
	}
	if a := ahead.Load(); a > n+1 {
		t.Errorf("OrderedOf drew %d items ahead of the work, want at most %d", a, n+1)
	}
	drawn.Store(0)
	finished.Store(0)
	ahead.Store(0)
	stop := errors.New("stop")
	err = EachOf(context.Background(), n, seq, func(k int) error {
		defer finished.Add(1)
		if k == 100 {
			return stop
		}
		_, err := work(k)
		return err
	})
	if !errors.Is(err, stop) {
		t.Errorf("EachOf = %v, want the stop", err)
	}
	if d := drawn.Load(); d >= count || d > 100+n+1 {
		t.Errorf("EachOf drew %d items after a stop at item 100", d)
	}
	if a := ahead.Load(); a > n+1 {
		t.Errorf("EachOf drew %d items ahead of the work, want at most %d", a, n+1)
	}
}

// created returns how many goroutines the process has created so far.
func created() uint64 {
	s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestGoroutinesReused checks that a run starts at most n goroutines, not
// one per item: each item's goroutine would grow its stack again.
func TestGoroutinesReused(t *testing.T) {
	const n, count = 4, 2000
	before := created()
	var sum atomic.Int64
	if err := Each(context.Background(), n, count, func(k int) error {
		sum.Add(int64(k))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := created() - before; got > n+2 {
		t.Errorf("Each: %d goroutines created for %d items on %d workers", got, count, n)
	}
	before = created()
	next := 0
	if err := Ordered(context.Background(), n, count, func(k int) (int, error) { return k, nil }, func(k, v int, err error) error {
		if k != next || v != k {
			t.Fatalf("Ordered: item %d (value %d) handed over, want %d", k, v, next)
		}
		next++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := created() - before; got > n+2 {
		t.Errorf("Ordered: %d goroutines created for %d items on %d workers", got, count, n)
	}
	if next != count || sum.Load() != count*(count-1)/2 {
		t.Errorf("items done: Ordered %d, Each sum %d", next, sum.Load())
	}
}
