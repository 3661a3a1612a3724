package fallback

import "sync"

// bufferPool hands out the engine's block buffers and keeps every one it
// made for the next copy. Where the system allows, the buffers are mapped
// outside the Go heap (allocBuffer): held in the heap, the buffers in flight
// were most of its live size, and the collector lets the heap grow to twice
// that before it runs, so a copy of a tree to three destinations peaked at
// 66 MiB of RSS. A sync.Pool, which every collection empties, also made a
// fresh buffer after each one.
type bufferPool struct {
	size int

	mu     sync.Mutex
	free   []*[]byte
	closed bool
}

// HeapBuffers reports whether the engine's block buffers come from the Go
// heap (only where they cannot be mapped outside it), for a caller that
// sizes the heap's limit.
func (e *Engine) HeapBuffers() bool { return buffersInHeap }

// get returns a buffer of p.size bytes.
func (p *bufferPool) get() *[]byte {
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		p.mu.Unlock()
		return b
	}
	p.mu.Unlock()
	b := allocBuffer(p.size)
	return &b
}

// put takes b back; after close it releases b instead.
func (p *bufferPool) put(b *[]byte) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		freeBuffer(*b)
		return
	}
	p.free = append(p.free, b)
	p.mu.Unlock()
}

// close releases the buffers held; those still in use are released when
// they come back.
func (p *bufferPool) close() {
	p.mu.Lock()
	free := p.free
	p.free, p.closed = nil, true
	p.mu.Unlock()
	for _, b := range free {
		freeBuffer(*b)
	}
}
