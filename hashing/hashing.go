// Package hashing provides the streaming hashes cvv computes in flight and
// the Stage that feeds one of them, in file order, from its own goroutine.
//
// Hex output is identical to the reference tools for the same bytes:
// xxhsum -H3 (xxh3), xxhsum -H64 (xxh64, canonical big-endian), xxhsum -H0
// (xxh32, canonical big-endian), xxh128sum,
// md5sum, sha1sum and sha256sum. This package never does file I/O.
package hashing

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"

	"github.com/cespare/xxhash/v2"
)

// Algorithm names a hash function.
type Algorithm int

// The algorithms. XXH3 (XXH3-64) is the default.
const (
	XXH3 Algorithm = iota
	XXH64
	XXH128
	MD5
	SHA1
	SHA256
	// XXH32 is the 32-bit xxHash (seed 0) that classic MHL files record as
	// "xxhash". It is last so that the numbers of the others stay put.
	XXH32
)

// Algorithms lists every algorithm, in flag order.
var Algorithms = []Algorithm{XXH3, XXH64, XXH128, MD5, SHA1, SHA256, XXH32}

// ErrUnknownAlgorithm is returned by Parse for a name it does not know.
var ErrUnknownAlgorithm = errors.New("unknown hash algorithm")

// String returns the canonical name: xxh3, xxh64, xxh128, md5, sha1, sha256.
func (a Algorithm) String() string {
	switch a {
	case XXH3:
		return "xxh3"
	case XXH64:
		return "xxh64"
	case XXH128:
		return "xxh128"
	case MD5:
		return "md5"
	case SHA1:
		return "sha1"
	case SHA256:
		return "sha256"
	case XXH32:
		return "xxh32"
	}
	return fmt.Sprintf("Algorithm(%d)", int(a))
}

// HexLen is the length of a's hex digest.
func (a Algorithm) HexLen() int {
	switch a {
	case XXH32:
		return 8
	case XXH3, XXH64:
		return 16
	case XXH128, MD5:
		return 32
	case SHA1:
		return 40
	case SHA256:
		return 64
	}
	return 0
}

// Parse returns the algorithm named s (case-insensitive); "xxh3_64" and
// "xxh3-64" are accepted for xxh3.
func Parse(s string) (Algorithm, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "xxh3", "xxh3_64", "xxh3-64", "xxh3_64bits":
		return XXH3, nil
	case "xxh64":
		return XXH64, nil
	case "xxh128", "xxh3_128":
		return XXH128, nil
	case "md5":
		return MD5, nil
	case "sha1", "sha-1":
		return SHA1, nil
	case "sha256", "sha-256":
		return SHA256, nil
	case "xxh32", "xxhash32":
		return XXH32, nil
	}
	return 0, fmt.Errorf("%w %q (want xxh3, xxh64, xxh128, md5, sha1, sha256 or xxh32)", ErrUnknownAlgorithm, s)
}

// Hasher is a streaming hash. Write never fails.
type Hasher interface {
	Write(p []byte) (int, error)
	// Hex returns the digest of everything written so far, in the reference
	// tools' hex form. It does not change the state.
	Hex() string
	// Reset returns the hasher to its initial state.
	Reset()
}

// New returns a new Hasher for a.
func (a Algorithm) New() Hasher {
	switch a {
	case XXH3:
		return xxh3Hasher{new(xxh3Stream)}
	case XXH128:
		return xxh128Hasher{new(xxh3Stream)}
	case XXH64:
		return &stdHasher{h: xxhash.New()}
	case MD5:
		return &stdHasher{h: md5.New()}
	case SHA1:
		return &stdHasher{h: sha1.New()}
	case SHA256:
		return &stdHasher{h: sha256.New()}
	case XXH32:
		return newXXH32()
	}
	panic("hashing: New of invalid " + a.String())
}

// Sum returns the hex digest of b.
func (a Algorithm) Sum(b []byte) string {
	h := a.New()
	h.Write(b)
	return h.Hex()
}

type stdHasher struct{ h hash.Hash }

func (s *stdHasher) Write(p []byte) (int, error) { return s.h.Write(p) }
func (s *stdHasher) Hex() string                 { return hex.EncodeToString(s.h.Sum(nil)) }
func (s *stdHasher) Reset()                      { s.h.Reset() }

type xxh3Hasher struct{ *xxh3Stream }

func (x xxh3Hasher) Reset() { x.h.Reset() }
func (x xxh3Hasher) Hex() string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], x.h.Sum64())
	return hex.EncodeToString(b[:])
}

type xxh128Hasher struct{ *xxh3Stream }

func (x xxh128Hasher) Reset() { x.h.Reset() }
func (x xxh128Hasher) Hex() string {
	s := x.h.Sum128()
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], s.Hi)
	binary.BigEndian.PutUint64(b[8:], s.Lo)
	return hex.EncodeToString(b[:])
}
