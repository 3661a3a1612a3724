package hashing

import (
	"math/rand/v2"
	"sync/atomic"
	"testing"
)

// chunks splits data into pieces of varying size and returns their offsets.
func chunks(data []byte, rng *rand.Rand) (offs []int64, parts [][]byte) {
	for off := 0; off < len(data); {
		n := min(len(data)-off, 1+rng.IntN(300))
		offs = append(offs, int64(off))
		parts = append(parts, data[off:off+n])
		off += n
	}
	return offs, parts
}

func testData(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + i>>7)
	}
	return b
}

func TestStageOutOfOrderMatchesStraightHash(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, alg := range Algorithms {
		for _, size := range []int{0, 1, 299, 5000, 20011} {
			data := testData(size)
			offs, parts := chunks(data, rng)
			order := rng.Perm(len(parts))
			var released atomic.Int64
			counts := make([]atomic.Int32, len(parts))
			s := NewStage(alg.New(), 4)
			for _, i := range order {
				s.Push(offs[i], parts[i], func() {
					counts[i].Add(1)
					released.Add(1)
				})
			}
			got, n, err := s.Close()
			if err != nil {
				t.Fatalf("%v size %d: Close: %v", alg, size, err)
			}
			if n != int64(size) {
				t.Errorf("%v size %d: hashed %d bytes", alg, size, n)
			}
			if want := alg.Sum(data); got != want {
				t.Errorf("%v size %d: out-of-order digest %s, straight %s", alg, size, got, want)
			}
			if released.Load() != int64(len(parts)) {
				t.Errorf("%v size %d: %d releases for %d chunks", alg, size, released.Load(), len(parts))
			}
			for i := range counts {
				if c := counts[i].Load(); c != 1 {
					t.Errorf("%v size %d: chunk %d released %d times", alg, size, i, c)
				}
			}
		}
	}
}

func TestStageEmptyChunkReleased(t *testing.T) {
	var released atomic.Int32
	s := NewStage(XXH3.New(), 1)
	s.Push(0, nil, func() { released.Add(1) })
	s.Push(0, []byte("abc"), func() { released.Add(1) })
	s.Push(3, []byte{}, func() { released.Add(1) })
	got, n, err := s.Close()
	if err != nil || n != 3 || got != XXH3.Sum([]byte("abc")) {
		t.Fatalf("Close = %s, %d, %v", got, n, err)
	}
	if released.Load() != 3 {
		t.Errorf("released %d of 3 chunks", released.Load())
	}
}

func TestStageGapIsError(t *testing.T) {
	data := testData(1000)
	var released atomic.Int32
	s := NewStage(SHA256.New(), 8)
	s.Push(0, data[:100], func() { released.Add(1) })
	// data[100:200] never arrives.
	s.Push(200, data[200:500], func() { released.Add(1) })
	s.Push(500, data[500:], func() { released.Add(1) })
	_, n, err := s.Close()
	if err == nil {
		t.Fatal("Close after a gap returned no error")
	}
	if n != 100 {
		t.Errorf("hashed %d bytes before the gap, want 100", n)
	}
	if released.Load() != 3 {
		t.Errorf("released %d of 3 chunks after a gap", released.Load())
	}
}

func TestStageAbortReleasesEveryChunkOnce(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 50 {
		data := testData(8000)
		offs, parts := chunks(data, rng)
		counts := make([]atomic.Int32, len(parts))
		s := NewStage(MD5.New(), 2)
		// Push a prefix out of order, leaving chunks pending, then abort.
		k := len(parts) / 2
		order := rng.Perm(len(parts))[:k]
		for _, i := range order {
			s.Push(offs[i], parts[i], func() { counts[i].Add(1) })
		}
		s.Abort()
		for _, i := range order {
			if c := counts[i].Load(); c != 1 {
				t.Fatalf("round %d: chunk %d released %d times after Abort", round, i, c)
			}
		}
	}
}

func TestStageAbortWithNothingPushed(t *testing.T) {
	s := NewStage(XXH64.New(), 1)
	s.Abort() // must not hang or panic
}

// TestStageZerosMatchReadHoles checks that holes pushed as zeros, out of
// order among data and larger than the zero block, hash as the zeros a read
// of a sparse file gives.
func TestStageZerosMatchReadHoles(t *testing.T) {
	head, tail := testData(1000), testData(77)
	const hole = 200<<10 + 3
	whole := append(append(append([]byte{}, head...), make([]byte, hole)...), tail...)
	for _, a := range Algorithms {
		s := NewStage(a.New(), 1)
		s.Push(int64(len(head)+hole), tail, nil)
		s.PushZeros(int64(len(head)), hole)
		s.PushZeros(0, 0) // nothing
		s.Push(0, head, nil)
		sum, n, err := s.Close()
		if err != nil || n != int64(len(whole)) || sum != a.Sum(whole) {
			t.Errorf("%v: %s %d %v, want %s %d", a, sum, n, err, a.Sum(whole), len(whole))
		}
	}
}
