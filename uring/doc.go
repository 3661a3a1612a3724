// Package uring is cvv's fast engine: it reads a source file once with
// O_DIRECT through io_uring into registered, aligned buffers and writes each
// block to every destination with one batched submission, hashing the bytes
// in flight. Engine implements cvv.Engine.
//
// The engine owns every buffer it reads into (a BufferPool over one mmap'd
// arena registered with the ring). A buffer goes back to the pool only when
// the kernel has completed every operation that uses it and the hasher is
// done with it.
//
// When io_uring is unavailable, New returns an error wrapping
// cvv.ErrNotHandled and the caller uses the portable engine. When a
// filesystem refuses O_DIRECT, that file is read or written buffered through
// the same ring and the result says so.
//
// This package must never hand a buffer back to the pool while the kernel may
// still read or write it, never close a file while an operation on it is in
// flight, never leave a temp file behind after a failure, and never import
// the io_uring library outside its *_linux.go files.
package uring
