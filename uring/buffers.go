package uring

// BufferInfo describes an engine's buffer arena.
type BufferInfo struct {
	// Count is the number of buffers; Size the bytes in each.
	Count, Size int
	// Free is the number of buffers in the pool now (Count when idle).
	Free int
	// Registered reports that the buffers are registered with the ring, so
	// that reads and writes use READ_FIXED and WRITE_FIXED.
	Registered bool
	// Reason says why the buffers are not registered; empty if they are.
	Reason string
}
