package copier

import "testing"

// TestDirSyncsSkipped guards the fast path of a file skipped on every
// destination (doSkipped): it is reported at once only when its
// directory holds nothing that its report must wait behind, as
// dirSyncs.done would have flushed it then; else its report is held
// for the directory's fsync like any other file's.
func TestDirSyncsSkipped(t *testing.T) {
	// Two destinations, three directories: the file is in directory 1.
	fresh := func() *dirSyncs {
		return &dirSyncs{
			left:    [][]int32{make([]int32, 3), make([]int32, 3)},
			dirty:   [][]bool{make([]bool, 3), make([]bool, 3)},
			waiting: make([][]heldReport, 3),
		}
	}
	fj := &fileJob{dir: 1}
	for _, c := range []struct {
		name string
		set  func(s *dirSyncs)
		want bool
	}{
		{"nothing pending", func(*dirSyncs) {}, true},
		{"another directory busy", func(s *dirSyncs) {
			s.left[1][0], s.dirty[0][2], s.waiting[0] = 3, true, []heldReport{{}}
		}, true},
		{"a file of its directory still to copy", func(s *dirSyncs) { s.left[1][1] = 1 }, false},
		{"its directory not fsynced since a rename", func(s *dirSyncs) { s.dirty[0][1] = true }, false},
		{"reports held for its directory", func(s *dirSyncs) { s.waiting[1] = []heldReport{{}} }, false},
	} {
		s := fresh()
		c.set(s)
		if got := s.skipped(fj); got != c.want {
			t.Errorf("%s: reported at once %v, want %v", c.name, got, c.want)
		}
	}
}
