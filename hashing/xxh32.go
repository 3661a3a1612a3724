package hashing

import (
	"encoding/binary"
	"encoding/hex"
	"math/bits"
)

// XXH32 (seed 0), as xxhsum -H0 computes it. The classic MHL "xxhash"
// element records it; nothing else in cvv needs it, and no maintained Go
// package offers a streaming XXH32 that the rest of the module already
// depends on, so it is written out here after the xxHash specification
// (doc/xxhash_spec.md, "xxh32 algorithm description").
const (
	xxh32P1 uint32 = 2654435761
	xxh32P2 uint32 = 2246822519
	xxh32P3 uint32 = 3266489917
	xxh32P4 uint32 = 668265263
	xxh32P5 uint32 = 374761393
)

// xxh32Hasher is a streaming XXH32 with seed 0.
type xxh32Hasher struct {
	v     [4]uint32
	buf   [16]byte
	nbuf  int
	total uint64
}

func newXXH32() *xxh32Hasher {
	h := &xxh32Hasher{}
	h.Reset()
	return h
}

func (h *xxh32Hasher) Reset() {
	p1, p2 := xxh32P1, xxh32P2 // variables: the sums wrap around
	h.v = [4]uint32{p1 + p2, p2, 0, 0 - p1}
	h.nbuf, h.total = 0, 0
}

func xxh32Round(acc, in uint32) uint32 {
	return bits.RotateLeft32(acc+in*xxh32P2, 13) * xxh32P1
}

func (h *xxh32Hasher) stripe(b []byte) {
	for i := range h.v {
		h.v[i] = xxh32Round(h.v[i], binary.LittleEndian.Uint32(b[4*i:]))
	}
}

func (h *xxh32Hasher) Write(p []byte) (int, error) {
	n := len(p)
	h.total += uint64(n)
	if h.nbuf > 0 {
		c := copy(h.buf[h.nbuf:], p)
		h.nbuf += c
		p = p[c:]
		if h.nbuf < len(h.buf) {
			return n, nil
		}
		h.stripe(h.buf[:])
		h.nbuf = 0
	}
	for len(p) >= 16 {
		h.stripe(p[:16])
		p = p[16:]
	}
	h.nbuf = copy(h.buf[:], p)
	return n, nil
}

// Sum32 returns the digest of everything written so far.
func (h *xxh32Hasher) Sum32() uint32 {
	var acc uint32
	if h.total >= 16 {
		acc = bits.RotateLeft32(h.v[0], 1) + bits.RotateLeft32(h.v[1], 7) +
			bits.RotateLeft32(h.v[2], 12) + bits.RotateLeft32(h.v[3], 18)
	} else {
		acc = h.v[2] + xxh32P5 // the seed, 0
	}
	acc += uint32(h.total)
	rest := h.buf[:h.nbuf]
	for ; len(rest) >= 4; rest = rest[4:] {
		acc = bits.RotateLeft32(acc+binary.LittleEndian.Uint32(rest)*xxh32P3, 17) * xxh32P4
	}
	for _, b := range rest {
		acc = bits.RotateLeft32(acc+uint32(b)*xxh32P5, 11) * xxh32P1
	}
	acc ^= acc >> 15
	acc *= xxh32P2
	acc ^= acc >> 13
	acc *= xxh32P3
	acc ^= acc >> 16
	return acc
}

// Hex returns the canonical (big-endian) hex digest, as xxhsum -H0 prints.
func (h *xxh32Hasher) Hex() string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], h.Sum32())
	return hex.EncodeToString(b[:])
}
