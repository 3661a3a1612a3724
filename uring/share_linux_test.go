package uring

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/hashing"
)

// newShareTransfer starts a Hash-like transfer of a size-byte source on e,
// with nothing submitted: the test moves its buffers by hand.
func newShareTransfer(t *testing.T, e *Engine, size int64) *transfer {
	t.Helper()
	tr := &transfer{e: e, ctx: context.Background(), srcPath: "src", size: size}
	if err := tr.start(hashing.XXH3); err != nil {
		t.Fatalf("start: %v", err)
	}
	return tr
}

// TestFairShare checks that a transfer started while the arena is taken
// gets its share: the transfers above it give buffers back as they come
// free, and all buffers are back in the pool at the end.
func TestFairShare(t *testing.T) {
	const block = 64 << 10
	e, err := New(cvv.Options{BlockSize: block, QueueDepth: 4})
	if errors.Is(err, cvv.ErrNotHandled) {
		t.Skipf("io_uring unavailable: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := e.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	count := e.Buffers().Count
	if count != 8 {
		t.Fatalf("arena has %d buffers, want 2 x queue depth = 8", count)
	}
	const size = 100 * block

	a := newShareTransfer(t, e, size)
	b := newShareTransfer(t, e, size)
	if a.held != 4 || b.held != 4 {
		t.Fatalf("two transfers hold %d and %d buffers, want the queue depth (4) each", a.held, b.held)
	}
	if free := e.Buffers().Free; free != 0 {
		t.Fatalf("%d buffers free, want 0", free)
	}

	// A third transfer waits for a buffer: none is free.
	started := make(chan *transfer)
	go func() {
		tr := &transfer{e: e, ctx: context.Background(), srcPath: "src", size: size}
		if err := tr.start(hashing.XXH3); err != nil {
			t.Errorf("start: %v", err)
		}
		started <- tr
	}()
	deadline := time.Now().Add(5 * time.Second)
	for e.pool.users.Load() != 3 {
		if time.Now().After(deadline) {
			t.Fatal("third transfer never joined the pool")
		}
		time.Sleep(time.Millisecond)
	}
	if got, want := e.pool.share(4), 8/3; got != want {
		t.Fatalf("share among 3 = %d, want %d", got, want)
	}

	// a takes a buffer for its next read: it is above its share, so it
	// gives back what is above and keeps the share.
	idx, ok := a.takeBuffer()
	if !ok {
		t.Fatal("a could not take one of its own buffers")
	}
	a.spare = append(a.spare, idx)
	if a.held != 2 {
		t.Errorf("a holds %d buffers after the third transfer started, want its share 2", a.held)
	}
	var c *transfer
	select {
	case c = <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("third transfer got no buffer although a gave two back")
	}
	if c.held < 1 || c.held > 2 {
		t.Errorf("third transfer holds %d buffers, want 1 or 2", c.held)
	}

	// Below its share, c grows into a buffer that comes free.
	b.giveBack() // b issued its last read: all of its buffers go back
	if b.held != 0 {
		t.Errorf("b holds %d buffers after giveBack, want 0", b.held)
	}
	aside := c.spare // c's own buffers, so that takeBuffer reaches the pool
	c.spare = nil
	for c.held < 2 {
		i, ok := c.takeBuffer()
		if !ok {
			t.Fatalf("c holds %d buffers, below its share, with %d free, and took none", c.held, e.Buffers().Free)
		}
		aside = append(aside, i)
	}
	c.spare = aside

	for _, tr := range []*transfer{a, b, c} {
		tr.finish()
	}
	if n := e.pool.users.Load(); n != 0 {
		t.Errorf("%d transfers still counted as pool users", n)
	}
	if bi := e.Buffers(); bi.Free != bi.Count {
		t.Errorf("%d of %d buffers back in the pool", bi.Free, bi.Count)
	}
}

// TestSlotsFIFO checks that ring slots are granted in order: a call that
// needs many slots (many destinations) and waits for them is not overtaken
// by later calls that need few, which could otherwise starve it for as
// long as small calls keep coming.
func TestSlotsFIFO(t *testing.T) {
	e, err := New(cvv.Options{BlockSize: 64 << 10, QueueDepth: 4})
	if errors.Is(err, cvv.ErrNotHandled) {
		t.Skipf("io_uring unavailable: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	if err := e.slots.Acquire(ctx, 2); err != nil { // a running small call
		t.Fatal(err)
	}
	big := make(chan error, 1)
	go func() { big <- e.slots.Acquire(ctx, cqEntries) }() // waits for all slots
	time.Sleep(50 * time.Millisecond)
	small, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := e.slots.Acquire(small, 1); err == nil {
		t.Fatal("a 1-slot call overtook a waiting call that needs every slot")
	}
	e.slots.Release(2)
	if err := <-big; err != nil {
		t.Fatalf("the waiting call did not get its slots: %v", err)
	}
	e.slots.Release(cqEntries)
}
