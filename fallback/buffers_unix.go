//go:build unix

package fallback

import "golang.org/x/sys/unix"

// buffersInHeap: allocBuffer maps the buffers outside the Go heap.
const buffersInHeap = false

// allocBuffer maps n bytes of anonymous memory: outside the Go heap, so they
// neither count towards the collector's goal nor get scanned, and pages a
// short file never touches are never resident.
func allocBuffer(n int) []byte {
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		// Out of address space or map count: the heap still serves.
		return make([]byte, n)
	}
	return b
}

// freeBuffer unmaps b if allocBuffer mapped it.
func freeBuffer(b []byte) {
	// Munmap refuses a slice it did not map (EINVAL): a heap buffer is
	// left to the collector.
	_ = unix.Munmap(b)
}
