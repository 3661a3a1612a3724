package hashing

import (
	"fmt"
	"sync"
)

// Stage feeds one Hasher from its own goroutine, strictly in file order,
// whatever order the chunks arrive in. It lets an engine keep submitting I/O
// while the hash is computed; the engine only waits for the Stage when
// hashing itself is the bottleneck (more chunks outstanding than the Stage's
// capacity).
//
// One goroutine (the engine's loop) calls Push, Close and Abort; release
// callbacks run on the Stage's goroutine.
type Stage struct {
	h    Hasher
	in   chan chunk
	wg   sync.WaitGroup
	stop chan struct{}

	// Written by the Stage goroutine, read after wg.Wait.
	next    int64
	pending map[int64]chunk
}

type chunk struct {
	off     int64
	data    []byte
	zeros   int64 // a hole: this many zero bytes, data nil
	release func()
}

// size is the number of bytes c stands for.
func (c chunk) size() int64 {
	if c.data == nil {
		return c.zeros
	}
	return int64(len(c.data))
}

// NewStage starts a Stage that hashes into h. capacity is the number of
// chunks Push accepts without waiting; it should be at least the number of
// buffers the engine has in flight.
func NewStage(h Hasher, capacity int) *Stage {
	if capacity < 1 {
		capacity = 1
	}
	s := &Stage{
		h:       h,
		in:      make(chan chunk, capacity),
		stop:    make(chan struct{}),
		pending: make(map[int64]chunk),
	}
	s.wg.Add(1)
	go s.run()
	return s
}

// Push hands the bytes data, found at offset off of the file, to the Stage.
// The caller must not modify data until release (if not nil) is called, on
// the Stage's goroutine, once the bytes are hashed or the Stage is aborted.
// Offsets must tile the file without overlap; an empty chunk is ignored.
func (s *Stage) Push(off int64, data []byte, release func()) {
	if len(data) == 0 {
		if release != nil {
			release()
		}
		return
	}
	s.in <- chunk{off: off, data: data, release: release}
}

// PushZeros hands the Stage n zero bytes at offset off: a hole of a sparse
// file, hashed as the zeros a read of it would give without being read.
func (s *Stage) PushZeros(off, n int64) {
	if n > 0 {
		s.in <- chunk{off: off, zeros: n}
	}
}

func (s *Stage) run() {
	defer s.wg.Done()
	aborted := false
	for c := range s.in {
		if aborted {
			c.free()
			continue
		}
		select {
		case <-s.stop:
			aborted = true
			c.free()
			for _, p := range s.pending {
				p.free()
			}
			clear(s.pending)
			continue
		default:
		}
		if c.off != s.next {
			s.pending[c.off] = c
			continue
		}
		s.consume(c)
		for {
			p, ok := s.pending[s.next]
			if !ok {
				break
			}
			delete(s.pending, s.next)
			s.consume(p)
		}
	}
	for _, p := range s.pending {
		p.free()
	}
}

func (s *Stage) consume(c chunk) {
	if c.data == nil {
		WriteZeros(s.h, c.zeros)
	} else {
		s.h.Write(c.data)
	}
	s.next += c.size()
	c.free()
}

func (c chunk) free() {
	if c.release != nil {
		c.release()
	}
}

// Close waits until every pushed chunk is hashed and returns the digest and
// the number of bytes hashed. It fails if the pushed chunks left a gap.
func (s *Stage) Close() (string, int64, error) {
	close(s.in)
	s.wg.Wait()
	if len(s.pending) != 0 {
		return "", s.next, fmt.Errorf("hashing: %d chunks after a gap at offset %d", len(s.pending), s.next)
	}
	return s.h.Hex(), s.next, nil
}

// Abort stops hashing: chunks not yet hashed are released unhashed. It waits
// for the Stage's goroutine to finish.
func (s *Stage) Abort() {
	close(s.stop)
	close(s.in)
	s.wg.Wait()
}

// zeroBlock is what WriteZeros hashes from; never written to.
var zeroBlock [64 << 10]byte

// WriteZeros writes n zero bytes to h without allocating them.
func WriteZeros(h Hasher, n int64) {
	for n > 0 {
		k := min(n, int64(len(zeroBlock)))
		h.Write(zeroBlock[:k])
		n -= k
	}
}
