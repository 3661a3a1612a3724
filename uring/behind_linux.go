//go:build linux

package uring

import (
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Write-behind of a page-cache destination (cvv.WriteBuffered): as written
// stretches add up to behindWindow bytes, their writeback is started
// (sync_file_range SYNC_FILE_RANGE_WRITE, which queues it and returns); once
// behindLag bytes more have been started, the oldest stretch is waited for
// and its pages dropped from the cache (FADV_DONTNEED). The device thus gets
// large sequential writes in between the source's reads, dirty memory stays
// under about behindLag + behindWindow per destination, and the fdatasync
// before the rename finds little left to do. None of this is for
// durability: that is still the fdatasync; errors here are ignored, and
// writeback errors surface there.
const (
	behindWindow = 16 << 20
	behindLag    = 64 << 20
	// behindQueue bounds the stretches waiting for the write-behind
	// goroutine; when it is full a stretch is left to the fdatasync.
	behindQueue = 64
)

// span is a byte range of a destination file.
type span struct{ off, end int64 }

// writeBehind runs the write-behind of one destination in a goroutine of
// its own, so that a wait for the device never holds up the ring.
type writeBehind struct {
	fd    int
	spans chan span
	done  chan struct{}
}

// Seams for tests.
var (
	syncFileRange = unix.SyncFileRange
	fadvise       = unix.Fadvise
)

// behindsStarted counts the write-behinds started, for tests.
var behindsStarted atomic.Int64

// startWriteBehind starts the write-behind of fd.
func startWriteBehind(fd int) *writeBehind {
	behindsStarted.Add(1)
	w := &writeBehind{fd: fd, spans: make(chan span, behindQueue), done: make(chan struct{})}
	go w.run()
	return w
}

// written notes that [off, end) is written. It never blocks.
func (w *writeBehind) written(off, end int64) {
	select {
	case w.spans <- span{off, end}:
	default:
	}
}

// stop ends the goroutine and waits for it; the file may then be closed.
func (w *writeBehind) stop() {
	close(w.spans)
	<-w.done
}

func (w *writeBehind) run() {
	defer close(w.done)
	var cur span       // written, writeback not started yet
	var started []span // writeback started, not yet waited for
	var lag int64
	for s := range w.spans {
		if cur.end > cur.off {
			// Completions come slightly out of order: cover both; a hole
			// in between is not dirty yet and is left to the fdatasync.
			cur = span{min(cur.off, s.off), max(cur.end, s.end)}
		} else {
			cur = s
		}
		if cur.end-cur.off < behindWindow {
			continue
		}
		_ = syncFileRange(w.fd, cur.off, cur.end-cur.off, unix.SYNC_FILE_RANGE_WRITE)
		started = append(started, cur)
		lag += cur.end - cur.off
		cur = span{}
		for lag > behindLag && len(started) > 1 {
			old := started[0]
			started = started[1:]
			lag -= old.end - old.off
			_ = syncFileRange(w.fd, old.off, old.end-old.off,
				unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER)
			_ = fadvise(w.fd, old.off, old.end-old.off, unix.FADV_DONTNEED)
		}
	}
}
