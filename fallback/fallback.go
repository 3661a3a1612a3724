// Package fallback is cvv's portable engine: pread/pwrite on plain file
// descriptors, with one reader, one writer goroutine per destination and the
// in-order hashing Stage, so the source is still read once and the
// destinations are written concurrently. It serves systems without io_uring,
// filesystems where the fast path is refused, and tests.
//
// It must build on every GOOS cvv supports; it never imports io_uring and
// never requires O_DIRECT.
package fallback

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/hashing"
	"github.com/cvv-project/cvv/internal/atomicfile"
	"github.com/cvv-project/cvv/internal/copyfile"
	"github.com/cvv-project/cvv/internal/fserr"
)

var (
	_ cvv.Engine         = (*Engine)(nil)
	_ cvv.ProgressHasher = (*Engine)(nil)
)

// Engine is the portable copy engine. It is safe for concurrent use.
type Engine struct {
	opts cvv.Options
	// pool hands out buffers of opts.BlockSize; shared by all copies.
	pool *bufferPool
}

// New returns a portable engine tuned by opts.
func New(opts cvv.Options) *Engine {
	e := &Engine{opts: opts.WithDefaults()}
	e.pool = &bufferPool{size: e.opts.BlockSize}
	return e
}

// Name returns "fallback".
func (e *Engine) Name() string { return "fallback" }

// Close releases the engine's buffers; those of a copy still running are
// released as it gives them back.
func (e *Engine) Close() error {
	e.pool.close()
	return nil
}

// Seams for fault-injection tests. Production code never changes them.
var (
	// pread reads from the source at off.
	pread = func(f *os.File, b []byte, off int64) (int, error) { return f.ReadAt(b, off) }
	// pwrite writes to a destination at off.
	pwrite = func(f *os.File, b []byte, off int64) (int, error) { return f.WriteAt(b, off) }
	// complete commits a destination (or finishes it for Hold).
	complete = copyfile.Complete
	// startWriteback starts the write-back of a range written.
	startWriteback = copyfile.StartWriteback
)

// block is one chunk of the source in flight. refs counts the holders (each
// live writer and the hasher); the last release returns buf to the pool.
type block struct {
	buf     *[]byte
	data    []byte
	off     int64
	refs    atomic.Int32
	release func()
}

// done drops one reference; the last one gives the buffer back.
func (b *block) done() {
	if b.refs.Add(-1) == 0 {
		b.release()
	}
}

// dest is one destination of a copy.
type dest struct {
	final string
	pf    *atomicfile.PendingFile // the temp file; nil once committed or aborted
	f     *os.File                // pf.File
	in    chan *block
	n     int64 // bytes written
	ops   int64 // write calls
	err   error
	live  *atomic.Int32 // destinations still writing, shared by a copy
	// behind: the write-back of a block that ends before it is started
	// at once (0: none), where the copy ends in a sync.
	behind int64
}

// Copy implements cvv.Engine.
func (e *Engine) Copy(ctx context.Context, job cvv.Job) (res *cvv.Result, err error) {
	if err := job.Validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	src, fi, err := copyfile.OpenSource(copyfile.OpenFile, nil, job.Source, os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	size := fi.Size()
	if size > int64(e.opts.BlockSize) {
		// One read takes a smaller file whole: no read-ahead to ask for.
		copyfile.AdviseSequential(src)
	}
	layout := copyfile.NewLayout(src, fi)
	prealloc := layout.Prealloc(e.opts.BlockSize)

	res = &cvv.Result{
		Source:  job.Source,
		ModTime: fi.ModTime(),
		Engine:  e.Name(),
		Dests:   make([]cvv.DestResult, len(job.Dests)),
	}
	dests := make([]*dest, len(job.Dests))
	for i, p := range job.Dests {
		d := &dest{final: p}
		dests[i] = d
		if d.pf, d.err = copyfile.CreateTemp(atomicfile.CreatePending, job.Root(i), p, prealloc); d.err == nil {
			d.f = d.pf.File
			d.pf.SyncFile = job.SyncFile(i)
		}
	}
	// Whatever happens below, no temp file outlives a failure.
	defer func() {
		for _, d := range dests {
			d.abort()
		}
	}()

	if err := e.pump(ctx, src, layout, size, dests, job, res); err != nil {
		return nil, err
	}
	if err := copyfile.CheckUnchanged(src, job.Source, fi); err != nil {
		return nil, err
	}
	// The last point where cancelling stops the copy: the commits below
	// all run to their end (copyfile.CommitAll).
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("copy %s: %w", job.Source, err)
	}
	attrs, err := copyfile.Attrs(&job, src, fi)
	if err != nil {
		return nil, err
	}
	pfs := make([]*atomicfile.PendingFile, len(dests))
	for i, d := range dests {
		if d.err == nil && d.f != nil {
			pfs[i] = d.pf
			d.pf, d.f = nil, nil
		}
	}
	done := copyfile.CommitAll(pfs, func(pf *atomicfile.PendingFile) (string, error) { return commit(pf, layout, size, attrs, &job) })
	for i, d := range dests {
		if pfs[i] != nil {
			d.err = done[i].Err
		}
		res.Dests[i] = cvv.DestResult{Path: d.final, Mode: "pwrite", Bytes: d.n, Temp: done[i].Held, Err: d.err, Unkept: done[i].Unkept}
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// pump reads the source's data once and fans every block out to the live
// destinations' writers and to the hashing Stage, which also gets the
// holes as zeros. It returns an error only for a failure of the source or a
// cancellation.
func (e *Engine) pump(ctx context.Context, src *os.File, layout *copyfile.Layout, size int64, dests []*dest, job cvv.Job, res *cvv.Result) error {
	depth := e.opts.QueueDepth
	stage := hashing.NewStage(job.Hash.New(), depth+1)
	free := make(chan struct{}, depth) // tokens: at most depth blocks in flight
	for range depth {
		free <- struct{}{}
	}
	var live atomic.Int32
	finish := startWriters(dests, &live, depth, writeBehind(&job, size))

	var off, end int64 // end: of the data region off is in
	var readErr error
	for off < size && live.Load() > 0 {
		if off >= end {
			var start int64
			start, end = layout.Next(off, 1)
			stage.PushZeros(off, start-off)
			if job.Progress != nil && start > off {
				job.Progress(start - off)
			}
			off = start
			continue
		}
		select {
		case <-ctx.Done():
			readErr = fmt.Errorf("copy %s: %w", job.Source, ctx.Err())
		case <-free:
		}
		if readErr != nil {
			break
		}
		var b *block
		b, readErr = e.readBlock(src, off, end, job.Source, free)
		if readErr != nil {
			break
		}
		res.Stats.Reads++
		fanOut(b, dests, stage)
		off += int64(len(b.data))
		if job.Progress != nil {
			job.Progress(int64(len(b.data)))
		}
	}
	finish()
	for _, d := range dests {
		res.Stats.Writes += d.ops
	}
	if readErr != nil {
		stage.Abort()
		return readErr
	}
	if off < size {
		// Every destination failed: there is nothing to hash for.
		stage.Abort()
		res.Size = off
		return nil
	}
	sum, hashed, err := stage.Close()
	if err != nil {
		return err
	}
	res.Size = hashed
	res.SourceHash = sum
	return nil
}

// writeBehind returns dest.behind for a copy of size bytes: where the copy
// ends in a sync (fdatasync, or the syncfs of Job.SyncData), each block's
// write-back is started as it is written, so that it overlaps the copy
// instead of piling up for the sync; but not the last block's, which the
// sync follows at once (a file of one block has nothing to overlap: a
// sync_file_range there was one more system call and write a file, 7% of
// a copy of small files' samples).
func writeBehind(job *cvv.Job, size int64) int64 {
	if job.NoFsync {
		return 0
	}
	return size
}

// startWriters starts a writer for every destination that has not failed
// yet, counting them in live; behind is dest.behind. The returned func
// closes their queues and waits for them.
func startWriters(dests []*dest, live *atomic.Int32, depth int, behind int64) (finish func()) {
	var wg sync.WaitGroup
	for _, d := range dests {
		if d.err != nil {
			continue
		}
		live.Add(1)
		d.live = live
		d.behind = behind
		d.in = make(chan *block, depth)
		wg.Go(d.write)
	}
	return func() {
		for _, d := range dests {
			if d.in != nil {
				close(d.in)
			}
		}
		wg.Wait()
	}
}

// readBlock reads the block of the source at off, up to end, into a pool
// buffer; the block gives the buffer and a free token back when released.
func (e *Engine) readBlock(src *os.File, off, end int64, path string, free chan struct{}) (*block, error) {
	buf := e.pool.get()
	want := min(int64(len(*buf)), end-off)
	n, err := readFull(src, (*buf)[:want], off)
	if err != nil {
		e.pool.put(buf)
		free <- struct{}{}
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: %s shrank to %d bytes while it was read", cvv.ErrSourceChanged, path, off+int64(n))
		}
		return nil, &os.PathError{Op: "pread", Path: path, Err: fserr.Strip(err)}
	}
	b := &block{buf: buf, data: (*buf)[:n], off: off}
	b.release = func() {
		e.pool.put(b.buf)
		free <- struct{}{}
	}
	return b, nil
}

// fanOut hands b to every live destination's writer and to the Stage.
func fanOut(b *block, dests []*dest, stage *hashing.Stage) {
	for _, d := range dests {
		if d.in != nil {
			b.refs.Add(1)
		}
	}
	b.refs.Add(1) // the hasher
	for _, d := range dests {
		if d.in != nil {
			d.in <- b
		}
	}
	stage.Push(b.off, b.data, b.done)
}

// commit gives the temp file of a sparse source its full size (a hole at
// the end is never written) and completes it as the job asks.
func commit(pf *atomicfile.PendingFile, layout *copyfile.Layout, size int64, attrs *atomicfile.SourceAttrs, job *cvv.Job) (string, error) {
	if layout.Sparse() {
		if err := copyfile.Resize(pf.File, size); err != nil {
			pf.Abort()
			return "", err
		}
	}
	return complete(job, pf, attrs)
}

// write drains d.in, writing each block at its offset. After a failure it
// keeps draining (releasing blocks) without writing.
func (d *dest) write() {
	for b := range d.in {
		if d.err == nil {
			ops, err := writeFull(d.f, b.data, b.off)
			d.ops += ops
			if err != nil {
				d.err = cvv.DestError(&os.PathError{Op: "pwrite", Path: d.final, Err: fserr.Strip(err)})
				d.abort()
				d.live.Add(-1)
			} else {
				d.n += int64(len(b.data))
				if end := b.off + int64(len(b.data)); end < d.behind {
					startWriteback(d.f, b.off, int64(len(b.data)))
				}
			}
		}
		b.done()
	}
}

// abort removes d's temp file, if it still has one.
func (d *dest) abort() {
	if d.pf != nil {
		d.pf.Abort()
		d.pf, d.f = nil, nil
	}
}

// readFull reads len(b) bytes at off, continuing short reads and retrying
// EINTR/EAGAIN. It returns io.EOF (with the count) if the file ends first.
func readFull(f *os.File, b []byte, off int64) (int, error) {
	n := 0
	for n < len(b) {
		m, err := pread(f, b[n:], off+int64(n))
		n += m
		if err != nil {
			if errors.Is(err, syscall.EINTR) || errors.Is(err, syscall.EAGAIN) {
				continue
			}
			if errors.Is(err, io.EOF) && n == len(b) {
				return n, nil
			}
			return n, err
		}
		if m == 0 {
			return n, io.EOF
		}
	}
	return n, nil
}

// writeFull writes all of b at off, continuing short writes and retrying
// EINTR/EAGAIN. It returns the number of write calls made.
func writeFull(f *os.File, b []byte, off int64) (ops int64, err error) {
	for len(b) > 0 {
		m, err := pwrite(f, b, off)
		ops++
		b = b[m:]
		off += int64(m)
		if err != nil {
			if errors.Is(err, syscall.EINTR) || errors.Is(err, syscall.EAGAIN) {
				continue
			}
			return ops, err
		}
		if m == 0 {
			return ops, io.ErrShortWrite
		}
	}
	return ops, nil
}

// Hash implements cvv.Engine. Where the platform allows, the file's cached
// pages are dropped first so the bytes come from the media.
func (e *Engine) Hash(ctx context.Context, path string, alg hashing.Algorithm) (cvv.HashResult, error) {
	return e.HashProgress(ctx, path, alg, nil)
}

// HashProgress is Hash that reports the bytes hashed (cvv.ProgressHasher).
func (e *Engine) HashProgress(ctx context.Context, path string, alg hashing.Algorithm, progress func(int64)) (cvv.HashResult, error) {
	f, fi, err := copyfile.OpenSource(copyfile.OpenFile, nil, path, os.O_RDONLY)
	if err != nil {
		return cvv.HashResult{}, err
	}
	defer f.Close()
	// The portable engine never uses O_DIRECT: HashResult.Direct stays
	// false. Dropping the cached pages still makes the reads come from the
	// media where the platform supports it (best effort).
	_ = copyfile.DropCache(f)
	copyfile.AdviseSequential(f)
	h := alg.New()
	off, err := e.hashData(ctx, f, copyfile.NewLayout(f, fi), h, progress)
	if err != nil {
		return cvv.HashResult{}, err
	}
	// The layout is of the file as it was opened: one that changed since
	// is not what was hashed.
	if err := copyfile.CheckUnchanged(f, path, fi); err != nil {
		return cvv.HashResult{}, err
	}
	return cvv.HashResult{Path: path, Size: off, Hash: h.Hex()}, nil
}

// hashData writes f's bytes to h, its holes as zeros without reading them,
// and returns how many.
func (e *Engine) hashData(ctx context.Context, f *os.File, layout *copyfile.Layout, h hashing.Hasher, progress func(int64)) (int64, error) {
	buf := e.pool.get()
	defer e.pool.put(buf)
	var off, end int64
	for {
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("hash %s: %w", f.Name(), err)
		}
		if off >= end {
			start, next := layout.Next(off, 1)
			hashing.WriteZeros(h, start-off)
			if progress != nil && start > off {
				progress(start - off)
			}
			off, end = start, next
			if off >= end {
				return off, nil // only a hole (or nothing) was left
			}
		}
		n, err := readFull(f, (*buf)[:min(int64(len(*buf)), end-off)], off)
		h.Write((*buf)[:n])
		off += int64(n)
		if progress != nil && n > 0 {
			progress(int64(n))
		}
		if errors.Is(err, io.EOF) {
			return off, nil
		}
		if err != nil {
			return 0, &os.PathError{Op: "pread", Path: f.Name(), Err: fserr.Strip(err)}
		}
	}
}
