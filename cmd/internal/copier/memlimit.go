package copier

import (
	"os"
	"runtime/debug"
	"unsafe"

	"github.com/cvv-project/cvv/cmd/internal/plan"
)

// The memory a run keeps grows with the number of files (one fileJob, one
// plan.Entry and the relative path per file, see docs/USAGE.md); everything
// else is bounded by the flags. Go's default GC lets the heap grow to twice
// what is live, which on a tree of 100k files is most of the budget of 64
// MiB. So, unless the user set GOMEMLIMIT, the run sets a soft memory limit:
// the floor below, or the state of the tree plus headroom when that is
// more, plus the block buffers the portable engine takes from the Go heap.
// The limit is soft: the GC works harder near it, nothing fails.
const (
	// memFloor is the smallest limit: with the ~20 MiB outside the Go heap
	// (program text, the io_uring engine's registered buffers) it keeps a
	// tree of up to 100k files under 64 MiB resident.
	memFloor = 36 << 20
	// memHeadroom is the room for garbage above the per-file state when
	// that state alone passes memFloor - memHeadroom, so that the GC never
	// runs back to back.
	memHeadroom = 16 << 20
	// pathBytes is what the relative path of a file costs on average, an
	// estimate (the real cost is its length rounded up to a size class).
	pathBytes = 32
)

// bytesPerFile is the memory the run keeps for each file of the tree, for
// n destinations: its fileJob, the pointer to it, its plan.Entry and path,
// one action and one state per destination, and the hash with its string
// header when a manifest needs it.
func bytesPerFile(n int, manifests bool) int64 {
	b := int64(unsafe.Sizeof(fileJob{})) + 8 + int64(unsafe.Sizeof(plan.Entry{})) + pathBytes +
		int64(n)*int64(unsafe.Sizeof(plan.Action(0))+unsafe.Sizeof(destState(0)))
	if manifests {
		b += 64 // the hex digest (up to sha256) kept to the end
	}
	return b
}

// memoryLimit returns the soft limit for a run over files files to n
// destinations, with buffers bytes of engine buffers in the Go heap.
func memoryLimit(files, n int, manifests bool, buffers int64) int64 {
	state := int64(files) * bytesPerFile(n, manifests)
	return max(memFloor, state+memHeadroom) + buffers
}

// setMemoryLimit applies memoryLimit unless GOMEMLIMIT is set (the user's
// choice wins). It is called before the walk, with what is known then (no
// files, no engine), and again once the files and the engine are known.
func (r *runner) setMemoryLimit() {
	if _, set := os.LookupEnv("GOMEMLIMIT"); set {
		return
	}
	var buffers int64
	if r.eng != nil && r.eng.Name() == "fallback" {
		// Its blocks are Go slices: up to the queue depth and one per
		// verification read for a big file in flight, about two for a
		// file of one block.
		o := r.opts.EngineOpts.WithDefaults()
		blocks := r.opts.BigJobs*(o.QueueDepth+len(r.plan.Dests)+1) + (r.opts.Jobs-r.opts.BigJobs)*2
		buffers = int64(blocks) * int64(o.BlockSize)
	}
	n := 1
	if r.plan != nil {
		n = len(r.plan.Dests)
	}
	debug.SetMemoryLimit(memoryLimit(len(r.files), n, r.opts.hashFilesWanted(), buffers))
}
