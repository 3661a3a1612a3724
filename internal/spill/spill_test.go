package spill

import (
	"fmt"
	"sync"
	"testing"
)

// Records come back as they were appended, in order, whether they stayed
// in memory or went to the temporary file, as many times as they are
// read, with records appended between two passes; Append is safe from
// several goroutines.
func TestFile(t *testing.T) {
	for _, mem := range []int{1 << 20, 100} {
		t.Run(fmt.Sprint(mem), func(t *testing.T) {
			t.Cleanup(SetMemoryForTest(mem))
			f := &File{}
			defer f.Close()
			var want []string
			for k := range 300 {
				rec := fmt.Sprintf("record %d %s", k, string(make([]byte, k%7)))
				if k == 5 {
					rec = ""
				}
				want = append(want, rec)
				if err := f.Append([]byte(rec)); err != nil {
					t.Fatal(err)
				}
			}
			check := func() {
				t.Helper()
				var got []string
				for rec := range f.Records() {
					got = append(got, string(rec))
				}
				if err := f.Err(); err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(got) != fmt.Sprint(want) || f.Len() != len(want) {
					t.Fatalf("read back %d records (Len %d), want %d", len(got), f.Len(), len(want))
				}
			}
			check()
			check()
			f.Append([]byte("after"))
			want = append(want, "after")
			check()
			if (f.file != nil) != (mem < 1<<20) {
				t.Errorf("memory %d: temporary file %v", mem, f.file != nil)
			}
		})
	}
	f := &File{}
	defer f.Close()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for k := range 100 {
				f.Append(fmt.Appendf(nil, "%d/%d", g, k))
			}
		})
	}
	wg.Wait()
	n := 0
	for range f.Records() {
		n++
	}
	if n != 400 || f.Err() != nil {
		t.Errorf("%d records from 4 goroutines, want 400 (%v)", n, f.Err())
	}
}

// Records that cannot be read back say so (Err) instead of ending as if
// that were all.
func TestFileReadError(t *testing.T) {
	t.Cleanup(SetMemoryForTest(64))
	f := &File{}
	defer f.Close()
	for k := range 100 {
		if err := f.Append(fmt.Appendf(nil, "f%03d", k)); err != nil {
			t.Fatal(err)
		}
	}
	for range f.Records() {
	}
	if err := f.truncateHalf(); err != nil {
		t.Fatal(err)
	}
	n := 0
	for range f.Records() {
		n++
	}
	if n >= 100 || f.Err() == nil {
		t.Errorf("read %d of 100 records from a cut file, error %v", n, f.Err())
	}
}
