//go:build !unix

package fallback

// buffersInHeap: allocBuffer takes the buffers from the Go heap.
const buffersInHeap = true

// allocBuffer returns n bytes from the heap.
func allocBuffer(n int) []byte { return make([]byte, n) }

// freeBuffer leaves b to the collector.
func freeBuffer([]byte) {}
