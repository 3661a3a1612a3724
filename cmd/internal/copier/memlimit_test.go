package copier

import (
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
	"unsafe"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/cmd/internal/plan"
	"github.com/cvv-project/cvv/internal/spill"
)

// TestPerFileState guards the memory bound documented in docs/USAGE.md:
// the record kept for every file of a tree (one byte of flags, one byte
// of action and one of state per destination, one bit per destination)
// is in a spill.Table, out of memory past its bound; what only some
// files need (a fileSlot) is kept only while it holds something or the
// file is pinned. A failed file keeps its errors until it is reported,
// then only its record says where and how it failed; a file failed on a
// destination given up before the copy holds nothing of its own. Views
// share a pinned file's record, and its changes reach the table when it
// is released. plan.Entry is held for the files in flight only (the
// tree's entries stay in its FileList) but is copied around.
func TestPerFileState(t *testing.T) {
	if s := unsafe.Sizeof(fileFlags(0)) + unsafe.Sizeof(plan.Action(0)) + unsafe.Sizeof(destState(0)); s > 3 {
		t.Errorf("flags, action and state take %d bytes, want <= 3", s)
	}
	if s := unsafe.Sizeof(plan.Entry{}); s > 56 {
		t.Errorf("plan.Entry is %d bytes, want <= 56", s)
	}
	t.Cleanup(spill.SetMemoryForTest(0)) // the records in the temporary file
	dropped := make([]error, 2)
	tab, err := newJobTable(5, dropped)
	if err != nil {
		t.Fatal(err)
	}
	defer tab.close()
	if m := len(tab.view(0, nil).rec); m != 6 {
		t.Errorf("record of 2 destinations: %d bytes, want 6", m)
	}
	// A file that gets nothing but flags, actions and states keeps no slot.
	fj := tab.view(0, nil)
	fj.states()[1] = dsOK
	fj.actions()[0] = plan.Recheck
	fj.set(flagWrote, true)
	tab.keep(fj)
	// A failed one keeps its errors; another view of it finds them.
	fj = tab.view(1, nil)
	fj.fail(0, errors.New("lost"))
	tab.keep(fj)
	// A pinned one keeps its slot and shares its record until released,
	// then what is left.
	fj = tab.view(2, nil)
	fj.pin()
	fj.h = &fileHash{hash: "h"}
	other := tab.view(2, nil)
	other.states()[0] = dsCopied
	if other.hash() != "h" || fj.states()[0] != dsCopied {
		t.Errorf("views of a pinned file: hash %q, state %v: not shared", other.hash(), fj.states()[0])
	}
	tab.keep(other)
	fj.states()[1] = dsFailed
	fj.release(false, false)
	if len(tab.slots) != 1 || tab.slots[1] == nil {
		t.Errorf("slots kept: %v, want only the failed file's", tab.slots)
	}
	if fj := tab.view(2, nil); fj.states()[0] != dsCopied || fj.states()[1] != dsFailed {
		t.Errorf("pinned file's states after release: %v", fj.states())
	}
	if fj := tab.view(1, nil); fj.err(0) == nil || !fj.failed() {
		t.Error("the failed file's error is lost")
	}
	if fj := tab.view(0, nil); fj.states()[1] != dsOK || fj.actions()[0] != plan.Recheck || !fj.wrote() || fj.verified() {
		t.Errorf("file 0: actions %v, states %v, wrote %v, verified %v", fj.actions(), fj.states(), fj.wrote(), fj.verified())
	}
	fj = tab.view(0, nil)
	fj.setSrcState(srcChanged)
	if fj.srcState() != srcChanged || !fj.wrote() {
		t.Errorf("source state %v, wrote %v: the flags mix", fj.srcState(), fj.wrote())
	}
	// Once reported, a failed file keeps nothing but its record: that it
	// failed, where, and whether the manifests list it.
	fj = tab.view(3, nil)
	fj.pin()
	fj.failSource(errors.New("unreadable"))
	fj.fail(0, errors.New("lost"))
	fj.fail(1, fmt.Errorf("re-read: %w", cvv.ErrVerifyMismatch))
	if fj.sourceErr() == nil || fj.err(0) == nil || fj.err(1) == nil {
		t.Error("a failed file's errors are lost before it is reported")
	}
	fj.release(false, false)
	if tab.slots[3] != nil {
		t.Errorf("a reported failed file keeps its slot: %+v", tab.slots[3].x)
	}
	fj = tab.view(3, nil)
	if !fj.failed() || fj.sourceErr() != nil || fj.err(0) != nil || !fj.unlisted(0) || fj.unlisted(1) {
		t.Errorf("reported failed file: failed %v, source error %v, error 0 %v, unlisted %v %v, want failed, no errors, unlisted on 0 only",
			fj.failed(), fj.sourceErr(), fj.err(0), fj.unlisted(0), fj.unlisted(1))
	}
	// A destination given up before the copy: its error is the table's.
	dropped[1] = errors.New("no space")
	fj = tab.view(4, nil)
	fj.fail(1, dropped[1])
	tab.keep(fj)
	if tab.slots[4] != nil {
		t.Error("a file failed on a dropped destination keeps a slot")
	}
	if fj := tab.view(4, nil); fj.err(1) != dropped[1] || fj.err(0) != nil || !fj.unlisted(1) {
		t.Errorf("file failed on a dropped destination: errors %v, %v, unlisted %v", fj.err(0), fj.err(1), fj.unlisted(1))
	}
	if err := tab.err(); err != nil {
		t.Fatal(err)
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

// heapEngine is an engine that says whether its buffers are in the Go heap.
type heapEngine struct {
	cvv.Engine
	heap bool
}

func (e heapEngine) HeapBuffers() bool { return e.heap }

// TestEngineBuffers: the limit makes room for an engine's block buffers
// only where they are in the Go heap. The portable engine's are mapped
// outside it on Unix; counted there, they raised the limit by 72 MiB and
// the collector ran at twice the live heap.
func TestEngineBuffers(t *testing.T) {
	r := &runner{plan: &plan.Plan{Dests: make([]plan.Dest, 3)}, opts: Options{Jobs: 16, BigJobs: 4}}
	r.eng = heapEngine{heap: true}
	if got, want := r.engineBuffers(), int64(4*(cvv.DefaultQueueDepth+3+1)+12*2)*cvv.DefaultBlockSize; got != want {
		t.Errorf("buffers in the heap: %d bytes, want %d", got, want)
	}
	r.eng = heapEngine{heap: false}
	if got := r.engineBuffers(); got != 0 {
		t.Errorf("buffers outside the heap: %d bytes counted", got)
	}
	r.eng = struct{ cvv.Engine }{}
	if got := r.engineBuffers(); got != 0 {
		t.Errorf("an engine that does not say: %d bytes counted", got)
	}
}
