package hashing

import (
	"reflect"
	"unsafe"

	"github.com/zeebo/xxh3"
)

// xxh3Stream feeds an xxh3.Hasher so that whole 1 KiB blocks are hashed
// where they lie instead of being copied first.
//
// zeebo/xxh3's Hasher hashes in place only on its very first Write: after
// that every byte goes through its internal buffer (a memmove as costly as
// the hash itself for cvv's 1 MiB chunks). Its state between writes is the
// accumulators, the count of blocks done, and buf[:len], the bytes after
// those blocks, which always start at a block boundary. The in-place loop
// runs while len is 0, so Write empties len before handing a chunk over:
// at most one block made of the pending bytes and the head of the chunk is
// assembled (copied) in scratch and hashed from there, then the rest of the
// chunk, now starting at a block boundary, is hashed in place; only its
// tail (at most one block and one stripe) is copied. Every step is a call
// of the library's own Write, so the digests are the library's.
//
// Setting len needs the library's unexported layout; xxh3Layout is checked
// against it once, and without a match Write is the library's plain Write.
type xxh3Stream struct {
	h       xxh3.Hasher
	scratch [xxh3Buf + 1]byte
}

const (
	xxh3Block = 1024           // bytes per block (16 stripes of 64)
	xxh3Buf   = xxh3Block + 64 // the Hasher's buffer: one block and one stripe
)

// xxh3Layout is the prefix of xxh3.Hasher that xxh3Stream touches.
type xxh3Layout struct {
	acc [8]uint64
	blk uint64
	len uint64
	key unsafe.Pointer
	buf [xxh3Buf]byte
}

// xxh3InPlace says whether xxh3.Hasher has the layout xxh3Layout mirrors.
var xxh3InPlace = layoutMatches(reflect.TypeFor[xxh3.Hasher](), reflect.TypeFor[xxh3Layout]())

// layoutMatches reports whether every field of mirror is in lib under the
// same name, at the same offset, with the same kind and size.
func layoutMatches(lib, mirror reflect.Type) bool {
	for i := range mirror.NumField() {
		m := mirror.Field(i)
		f, ok := lib.FieldByName(m.Name)
		if !ok || f.Offset != m.Offset || f.Type.Kind() != m.Type.Kind() || f.Type.Size() != m.Type.Size() {
			return false
		}
	}
	return true
}

func (s *xxh3Stream) layout() *xxh3Layout { return (*xxh3Layout)(unsafe.Pointer(&s.h)) }

// Write hashes p; see xxh3Stream.
func (s *xxh3Stream) Write(p []byte) (int, error) {
	n := len(p)
	if !xxh3InPlace {
		return s.h.Write(p)
	}
	l := s.layout()
	for l.len > 0 && l.len+uint64(len(p)) > xxh3Buf {
		// The pending bytes and the head of p make one block with more
		// bytes after it: hash that block from scratch.
		pend := copy(s.scratch[:], l.buf[:l.len])
		head := copy(s.scratch[pend:], p)
		l.len = 0
		s.h.Write(s.scratch[:])
		// The library hashed scratch's first block and kept its last
		// stripe and one byte, all past the block, in buf. When the
		// block took pending bytes only part of p, p from the block's
		// end is what follows it: drop the library's copy.
		if pend <= xxh3Block {
			l.len = 0
			p = p[xxh3Block-pend:]
		} else {
			p = p[head:]
		}
	}
	s.h.Write(p)
	return n, nil
}
