package hashing

import (
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/zeebo/xxh3"
)

// BenchmarkXXH3Stream hashes 256 MiB, more than the caches hold, in the
// 1 MiB chunks the engines read, with the library's Hasher as is and
// through xxh3Stream. cpu-ns/op is the thread's CPU time, which a loaded
// machine disturbs less than the wall time ns/op.
func BenchmarkXXH3Stream(b *testing.B) {
	const chunks = 256
	data := make([]byte, chunks<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	b.Run("library", func(b *testing.B) {
		b.SetBytes(chunks << 20)
		b.ReportAllocs()
		cpu := startThreadCPU(b)
		for b.Loop() {
			h := xxh3.New()
			for c := range chunks {
				h.Write(data[c<<20 : (c+1)<<20])
			}
			h.Sum128()
		}
		cpu.report()
	})
	b.Run("inplace", func(b *testing.B) {
		b.SetBytes(chunks << 20)
		b.ReportAllocs()
		cpu := startThreadCPU(b)
		for b.Loop() {
			h := XXH128.New()
			for c := range chunks {
				h.Write(data[c<<20 : (c+1)<<20])
			}
			h.Hex()
		}
		cpu.report()
	})
}

// threadCPU measures the CPU time of the benchmark's own thread.
type threadCPU struct {
	b     *testing.B
	start time.Duration
}

func startThreadCPU(b *testing.B) threadCPU {
	runtime.LockOSThread()
	b.Cleanup(runtime.UnlockOSThread)
	return threadCPU{b, threadCPUTime(b)}
}

func (c threadCPU) report() {
	c.b.ReportMetric(float64(threadCPUTime(c.b)-c.start)/float64(c.b.N), "cpu-ns/op")
}

func threadCPUTime(b *testing.B) time.Duration {
	const rusageThread = 1 // RUSAGE_THREAD
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
