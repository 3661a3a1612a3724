package spill

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

// A Table reads back what was written at each index, in memory or in its
// temporary file, through passes in order and random writes that evict
// its pages, with records never written reading as zeros.
func TestTable(t *testing.T) {
	for _, mem := range []int{1 << 20, 0} {
		t.Run(fmt.Sprint(mem), func(t *testing.T) {
			t.Cleanup(SetMemoryForTest(mem))
			const n, size = 200_000, 3
			tab, err := NewTable(n, size)
			if err != nil {
				t.Fatal(err)
			}
			defer tab.Close()
			if (tab.file != nil) != (mem == 0) {
				t.Fatalf("temporary file %v with a memory bound of %d", tab.file != nil, mem)
			}
			want := make([]byte, n*size)
			r := rand.New(rand.NewPCG(1, 2))
			rec := make([]byte, size)
			put := func(k int) {
				for i := range rec {
					rec[i] = byte(r.Uint32())
				}
				copy(want[k*size:], rec)
				tab.Put(k, rec)
			}
			for k := 0; k < n; k += 3 {
				put(k) // a pass in order
			}
			for range 5000 {
				put(r.IntN(n)) // far apart: every page in turn
			}
			for k := range n {
				tab.Get(k, rec)
				if !bytes.Equal(rec, want[k*size:(k+1)*size]) {
					t.Fatalf("record %d: %v, want %v", k, rec, want[k*size:(k+1)*size])
				}
			}
			if err := tab.Err(); err != nil {
				t.Fatal(err)
			}
			if tab.Len() != n {
				t.Errorf("Len %d, want %d", tab.Len(), n)
			}
		})
	}
}

// A table of two million records (6 MB) costs a few pages of memory.
func TestTableMemory(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	tab, err := NewTable(2_000_000, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	rec := []byte{1, 2, 3}
	for k := range tab.Len() {
		tab.Put(k, rec)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 1<<20 {
		t.Errorf("the heap grew by %d bytes for a table of 6 MB, want <= 1 MiB", grew)
	}
	tab.Get(1_999_999, rec)
	if err := tab.Err(); err != nil || !bytes.Equal(rec, []byte{1, 2, 3}) {
		t.Errorf("last record %v (%v)", rec, err)
	}
}

// An error of the temporary file is recorded: the records read since
// are zeros.
func TestTableError(t *testing.T) {
	t.Cleanup(SetMemoryForTest(0))
	tab, err := NewTable(100_000, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	tab.Put(0, []byte{1, 1, 1, 1})
	tab.file.Close() // the descriptor goes bad under the table
	rec := []byte{9, 9, 9, 9}
	for k := 0; k < tab.Len(); k += 1000 {
		tab.Get(k, rec)
	}
	if tab.Err() == nil {
		t.Fatal("no error after the temporary file went bad")
	}
	if !bytes.Equal(rec, make([]byte, 4)) {
		t.Errorf("a record read after the error: %v, want zeros", rec)
	}
}
