package copier

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
	"unsafe"

	"github.com/cvv-project/cvv/cmd/internal/plan"
)

// TestPerFileState guards the memory bound documented in docs/USAGE.md: the
// state kept for every file of a tree. A field added to fileJob must fit
// or move to fileExtra (only while the file is worked on, or only for
// failures); plan.Entry is held for the files in flight only (the tree's
// entries stay in its FileList) but is copied around.
func TestPerFileState(t *testing.T) {
	if s := unsafe.Sizeof(fileJob{}); s > 40 {
		t.Errorf("fileJob is %d bytes, want <= 40", s)
	}
	if s := unsafe.Sizeof(plan.Entry{}); s > 56 {
		t.Errorf("plan.Entry is %d bytes, want <= 56", s)
	}
}

func TestMemoryLimit(t *testing.T) {
	if l := memoryLimit(0, 0); l != memFloor {
		t.Errorf("limit for an empty heap %d, want the floor %d", l, memFloor)
	}
	if l := memoryLimit(10<<20, 64<<20); l != memFloor+64<<20 {
		t.Errorf("engine buffers not added: %d", l)
	}
	// Above the floor the limit is the live heap plus a quarter plus the
	// headroom: never below what is live (the GC would run back to back).
	live := int64(800 << 20)
	if l := memoryLimit(live, 0); l != live+live/4+memHeadroom {
		t.Errorf("limit for %d live bytes: %d, want %d", live, l, live+live/4+memHeadroom)
	}
}

// TestMemGovernorFollowsLiveHeap: once the live heap grows past the
// limit set at the start, the next collection raises the limit above it,
// and stop restores the limit from before.
func TestMemGovernorFollowsLiveHeap(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	g := &memGovernor{prev: before}
	g.arm()
	keep := make([][]byte, 0, 96)
	for range 96 {
		keep = append(keep, make([]byte, 1<<20)) // 96 MiB live, past the floor
	}
	deadline := time.Now().Add(10 * time.Second)
	for debug.SetMemoryLimit(-1) < 96<<20 {
		if time.Now().After(deadline) {
			t.Fatalf("limit %d after 10 s of collections with 96 MiB live", debug.SetMemoryLimit(-1))
		}
		runtime.GC()
		time.Sleep(time.Millisecond) // the finalizer runs on its own goroutine
	}
	runtime.KeepAlive(keep)
	g.stop()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("limit after stop %d, want the one before %d", got, before)
	}
}
