package copier

import (
	"testing"
	"unsafe"

	"github.com/cvv-project/cvv/cmd/internal/plan"
)

// TestPerFileState guards the memory bound documented in docs/USAGE.md: the
// state kept for every file of a tree. A field added to fileJob or
// plan.Entry must fit or move to fileExtra (only while the file is worked
// on, or only for failures).
func TestPerFileState(t *testing.T) {
	if s := unsafe.Sizeof(fileJob{}); s > 112 {
		t.Errorf("fileJob is %d bytes, want <= 112", s)
	}
	if s := unsafe.Sizeof(plan.Entry{}); s > 56 {
		t.Errorf("plan.Entry is %d bytes, want <= 56", s)
	}
	if b := bytesPerFile(2, false); b > 220 {
		t.Errorf("%d bytes per file to 2 destinations, want <= 220 (docs/USAGE.md)", b)
	}
	// The documented totals: 100k files fit the floor's headroom, 1M files
	// raise the limit with the state.
	if l := memoryLimit(100_000, 2, false, 0); l > 40<<20 {
		t.Errorf("limit for 100k files %.1f MiB, want <= 40 MiB", float64(l)/(1<<20))
	}
	if l := memoryLimit(0, 1, false, 0); l != memFloor {
		t.Errorf("limit for no files %d, want the floor %d", l, memFloor)
	}
	big := memoryLimit(1_000_000, 2, true, 0)
	if want := 1_000_000*bytesPerFile(2, true) + memHeadroom; big != want {
		t.Errorf("limit for 1M files %d, want state + headroom %d", big, want)
	}
	if l := memoryLimit(10, 1, false, 64<<20); l != memFloor+64<<20 {
		t.Errorf("engine buffers not added: %d", l)
	}
}
