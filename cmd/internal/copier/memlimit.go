package copier

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// Go's default GC lets the heap grow to twice what is live, which on a
// tree of 100k files is most of the budget of 64 MiB. So, unless the user
// set GOMEMLIMIT, a run sets a soft memory limit that follows the live
// heap: after every collection it becomes the heap found live plus a
// quarter of it plus memHeadroom, never less than memFloor, plus the block
// buffers the portable engine takes from the Go heap.
//
// A limit computed up front from an estimate of the state per file was
// wrong both ways: each phase of a run (deciding, the manifests, the
// report) holds different data, and once the live heap passed the
// estimate the GC ran back to back (a re-run of 1M files spent over 75% of
// its CPU collecting). Following what is live keeps the garbage bounded
// and the GC's work proportional to the allocation, whatever the tree.
const (
	// memFloor is the smallest limit: with the ~20 MiB outside the Go heap
	// (program text, the io_uring engine's registered buffers) it keeps
	// a run under 64 MiB resident while its live heap is small.
	memFloor = 36 << 20
	// memHeadroom is the room for garbage above the live heap, besides a
	// quarter of it, so that a small heap is not collected back to back.
	memHeadroom = 16 << 20
)

// memoryLimit returns the soft limit for a live heap of live bytes, with
// buffers bytes of engine buffers in the Go heap.
func memoryLimit(live, buffers int64) int64 {
	return max(memFloor, live+live/4+memHeadroom) + buffers
}

// liveHeap returns the heap the last collection found live (0 before the
// first).
func liveHeap() int64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(s[0].Value.Uint64())
}

// memGovernor moves the soft memory limit after every collection
// (memoryLimit of the live heap). It is armed by a finalizer on an
// unreachable object: the finalizer runs after the collection that found
// it, and arms the next.
type memGovernor struct {
	mu      sync.Mutex
	buffers int64
	stopped bool
	prev    int64 // the limit before the run, restored by stop
}

// gcSentinel is the object whose finalizer runs after a collection. It
// holds a pointer, so it is never one of the tiny allocations the runtime
// batches (which may never be finalized).
type gcSentinel struct{ g *memGovernor }

// startMemoryLimit starts following the live heap, unless GOMEMLIMIT is
// set (the user's choice wins): nil then.
func startMemoryLimit() *memGovernor {
	if _, set := os.LookupEnv("GOMEMLIMIT"); set {
		return nil
	}
	g := &memGovernor{}
	g.prev = debug.SetMemoryLimit(memoryLimit(liveHeap(), 0))
	g.arm()
	return g
}

// arm sets the limit for the live heap now and waits for the next
// collection.
func (g *memGovernor) arm() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped {
		return
	}
	debug.SetMemoryLimit(memoryLimit(liveHeap(), g.buffers))
	runtime.SetFinalizer(&gcSentinel{g}, func(s *gcSentinel) { s.g.arm() })
}

// setBuffers counts n bytes of engine buffers in the Go heap.
func (g *memGovernor) setBuffers(n int64) {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.buffers = n
	if !g.stopped {
		debug.SetMemoryLimit(memoryLimit(liveHeap(), n))
	}
}

// stop stops following the live heap and restores the limit from before
// the run.
func (g *memGovernor) stop() {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.stopped {
		g.stopped = true
		debug.SetMemoryLimit(g.prev)
	}
}

// engineBuffers returns the bytes of block buffers the run's engine takes
// from the Go heap: the portable engine's blocks where it cannot map them
// outside it (HeapBuffers), up to the queue depth and one per verification
// read for a big file in flight, about two for a file of one block. The
// io_uring engine's are never in the Go heap.
func (r *runner) engineBuffers() int64 {
	hb, ok := r.eng.(interface{ HeapBuffers() bool })
	if !ok || !hb.HeapBuffers() {
		return 0
	}
	o := r.opts.EngineOpts.WithDefaults()
	blocks := r.opts.BigJobs*(o.QueueDepth+len(r.plan.Dests)+1) + (r.opts.Jobs-r.opts.BigJobs)*2
	return int64(blocks) * int64(o.BlockSize)
}
