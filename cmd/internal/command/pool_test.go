package command

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestForEach(t *testing.T) {
	const count = 200
	t.Run("all once, bounded", func(t *testing.T) {
		var mu sync.Mutex
		seen := map[int]int{}
		var cur, peak atomic.Int64
		err := forEach(context.Background(), 3, count, func(i int) error {
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
		err := forEach(context.Background(), 4, count, func(i int) error {
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
		err := forEach(ctx, 2, count, func(i int) error {
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
		if err := forEach(context.Background(), 4, 0, func(int) error { t.Error("called"); return nil }); err != nil {
			t.Fatal(err)
		}
	})
}
