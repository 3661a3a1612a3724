package hashing

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"reflect"
	"testing"
	"unsafe"

	"github.com/zeebo/xxh3"
)

// TestXXH3StreamInPlace fails when zeebo/xxh3's Hasher no longer has the
// layout xxh3Stream relies on: the digests would still be right, but every
// byte would be copied again. Update xxh3Layout after a library upgrade.
func TestXXH3StreamInPlace(t *testing.T) {
	if !xxh3InPlace {
		t.Fatal("xxh3.Hasher's layout does not match xxh3Layout: streaming xxh3 copies every byte")
	}
}

func TestLayoutMatchesRejectsOtherLayouts(t *testing.T) {
	type shifted struct {
		acc [8]uint64
		len uint64 // where blk is
	}
	type renamed struct {
		acc [8]uint64
		n   uint64
	}
	type resized struct {
		acc [8]uint64
		blk uint64
		len uint64
		key unsafe.Pointer
		buf [64]byte
	}
	lib := reflect.TypeFor[xxh3.Hasher]()
	for _, m := range []reflect.Type{reflect.TypeFor[shifted](), reflect.TypeFor[renamed](), reflect.TypeFor[resized]()} {
		if layoutMatches(lib, m) {
			t.Errorf("layoutMatches(xxh3.Hasher, %v) = true", m)
		}
	}
}

func oneShotHex(alg Algorithm, data []byte) string {
	if alg == XXH3 {
		return hex.EncodeToString(binary.BigEndian.AppendUint64(nil, xxh3.Hash(data)))
	}
	s := xxh3.Hash128(data)
	b := binary.BigEndian.AppendUint64(nil, s.Hi)
	return hex.EncodeToString(binary.BigEndian.AppendUint64(b, s.Lo))
}

// TestXXH3StreamMatchesOneShot checks the streaming xxh3 and xxh128 against
// the library's one-shot functions for sizes around the short/long and
// block boundaries, split at every kind of place: inside a stripe, on a
// stripe, on a block, one byte either side, and at random.
func TestXXH3StreamMatchesOneShot(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 1))
	sizes := []int{0, 1, 63, 64, 65, 240, 241, 1023, 1024, 1025, 1087, 1088, 1089, 1090,
		2047, 2048, 2049, 2112, 2113, 3000, 1<<20 - 1, 1 << 20, 1<<20 + 1, 3<<20 + 777}
	for range 8 {
		sizes = append(sizes, rng.IntN(1<<16))
	}
	data := make([]byte, 3<<20+777)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	for _, n := range sizes {
		in := data[:n]
		for _, alg := range []Algorithm{XXH3, XXH128} {
			want := oneShotHex(alg, in)
			for _, cuts := range splitPlans(rng, n) {
				h := alg.New()
				prev := 0
				for _, c := range cuts {
					h.Write(in[prev:c])
					h.Hex() // must not change the state
					prev = c
				}
				h.Write(in[prev:])
				if got := h.Hex(); got != want {
					t.Fatalf("%v of %d bytes written in pieces ending at %v = %s, one-shot %s", alg, n, cuts, got, want)
				}
			}
		}
	}
}

// splitPlans returns ways to cut n bytes: lists of increasing cut points.
func splitPlans(rng *rand.Rand, n int) [][]int {
	plans := [][]int{nil, {0}, {n}}
	for _, c := range []int{1, 7, 63, 64, 65, 1000, 1023, 1024, 1025, 1087, 1088, 1089, 1090, 2048, 2113,
		n - 1, n - 64, n - 1024, n - 1089, n / 2} {
		if c > 0 && c < n {
			plans = append(plans, []int{c})
		}
	}
	for _, step := range []int{1, 7, 64, 100, 1000, 1024, 1025, 1088, 1089, 4096, 65536, 1 << 20} {
		if n/step > 1<<14 {
			continue
		}
		var p []int
		for c := step; c < n; c += step {
			p = append(p, c)
		}
		plans = append(plans, p)
	}
	for range 4 { // random pieces, including empty ones
		var p []int
		for c := rng.IntN(3000); c < n; c += rng.IntN(3000) {
			p = append(p, c)
		}
		plans = append(plans, p)
	}
	return plans
}
