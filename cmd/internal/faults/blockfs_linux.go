package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
)

// BlockFS is a FUSE filesystem that serves one disk image and loses, on a
// power cut, what a disk with a volatile write cache may lose. A loop
// device over the image (buffered, not direct I/O) turns a real
// filesystem's cache flushes (REQ_PREFLUSH; the loop driver has no FUA, so
// the block layer emulates FUA by a flush) into fsync of the image, and
// without FUSE's writeback cache every write reaches the server before the
// loop driver completes it. So the server sees every write and every flush
// of a real ext4 or xfs, journal included, and keeps beside the image its
// durable state:
//   - a flush makes every block written before it durable;
//   - a cut loses any subset of the blocks written since the last flush
//     (a block is BlockSize bytes, the loop device's logical sector, which
//     the disk writes whole).
//
// PowerFS models a filesystem's promises (what fsync and a directory fsync
// make durable); BlockFS tests a real filesystem's journal under the
// program, and catches what a program relying on anything the filesystem
// does not promise would lose: syncfs, which PowerFS never sees, included.
//
// Everything in the image when the server starts is durable. The cut is
// made by the test (Cut) or by the server itself as the CutAtFlush-th flush
// arrives: that flush and every later write and flush fail with EIO, so
// nothing after the cut can be mistaken for durable. At the cut the server
// writes the possible durable images into Out: "none.img" (no write since
// the last flush survived), "all.img" (all did) and "seed-N.img" for each
// of Seeds (a seeded random half of the blocks did).
//
// It runs in its own process (see fuseProcess), needs root and /dev/fuse.
type BlockFS struct {
	// Image is the served image file, under the mount.
	Image string
	// Out receives the images at the cut.
	Out string

	proc    *fuseProcess
	unmount sync.Once
	err     error
}

// BlockSize is the unit a BlockFS keeps or loses whole: the logical sector
// size of the loop device over it (losetup -b).
const BlockSize = 4096

// BlockImageName is the name of the image in the directory a BlockFS
// serves.
const BlockImageName = "disk.img"

// BlockFSOptions configure StartBlockFS.
type BlockFSOptions struct {
	// CutAtFlush, when > 0, cuts the power as the CutAtFlush-th flush
	// after Arm arrives: it does not take effect.
	CutAtFlush int
	// Seeds are the random subsets written at the cut, besides none and
	// all.
	Seeds []uint64
}

// blockFSConfig is what the server process is started with.
type blockFSConfig struct {
	Live, Mountpoint, Store, Out string
	Options                      BlockFSOptions
}

// BlockServeEnv is the environment variable that makes a process started
// by StartBlockFS serve the filesystem; its value is the configuration.
const BlockServeEnv = "CVV_BLOCKFS_SERVE"

// StartBlockFS starts exe (a binary whose main calls ServeBlockFS when
// BlockServeEnv is set) to serve live, a directory holding the image
// BlockImageName (a multiple of BlockSize bytes), on mountpoint. The server
// keeps the durable image in store and writes the images at the cut to out.
// All four directories must exist. Unmount it when done.
func StartBlockFS(exe, live, store, out, mountpoint string, opts BlockFSOptions) (*BlockFS, error) {
	cfg, err := json.Marshal(blockFSConfig{Live: live, Mountpoint: mountpoint, Store: store, Out: out, Options: opts})
	if err != nil {
		return nil, err
	}
	proc, err := startFUSEProcess(exe, BlockServeEnv, string(cfg), mountpoint)
	if err != nil {
		return nil, err
	}
	return &BlockFS{Image: filepath.Join(mountpoint, BlockImageName), Out: out, proc: proc}, nil
}

// BlockCut is the outcome of a cut.
type BlockCut struct {
	// Flushes and Writes are the flushes and block writes that took
	// effect after Arm and before the cut; Pending is the number of blocks written
	// since the last flush, which the images keep or lose.
	Flushes, Writes, Pending int
	// Images are the possible durable images, by name (none, all,
	// seed-N).
	Images map[string]string
}

// Arm starts counting flushes for CutAtFlush (and the counts of Cut) from
// now on: a disk's mkfs and mount flush too.
func (b *BlockFS) Arm() error {
	if err := b.proc.cmd.Process.Signal(syscall.SIGUSR2); err != nil {
		return err
	}
	_, err := b.proc.expectPrefix("armed ", time.Minute)
	return err
}

// Cut cuts the power (unless the server did, at CutAtFlush) and returns
// once the images are written.
func (b *BlockFS) Cut() (BlockCut, error) {
	if err := b.proc.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		return BlockCut{}, err
	}
	line, err := b.proc.expectPrefix("cut ", 5*time.Minute)
	if err != nil {
		return BlockCut{}, err
	}
	c := BlockCut{Images: map[string]string{}}
	if _, err := fmt.Sscanf(line, "cut flushes=%d writes=%d pending=%d", &c.Flushes, &c.Writes, &c.Pending); err != nil {
		return c, fmt.Errorf("blockfs said %q: %w", line, err)
	}
	names, err := filepath.Glob(filepath.Join(b.Out, "*.img"))
	for _, n := range names {
		c.Images[strings.TrimSuffix(filepath.Base(n), ".img")] = n
	}
	return c, err
}

// Unmount unmounts the filesystem and waits for the server to exit. Only
// the first call does anything.
func (b *BlockFS) Unmount() error {
	b.unmount.Do(func() { b.err = b.proc.unmount() })
	return b.err
}

// ServeBlockFS is the server process: it mounts the filesystem config (the
// value of BlockServeEnv) describes, prints "ready", cuts the power on
// SIGUSR1 (printing "cut" and the counts, or "error" and why), starts
// counting flushes for CutAtFlush on SIGUSR2 (printing "armed") and serves
// until the filesystem is unmounted.
func ServeBlockFS(config string) error {
	var cfg blockFSConfig
	if err := json.Unmarshal([]byte(config), &cfg); err != nil {
		return fmt.Errorf("%s: %w", BlockServeEnv, err)
	}
	s, err := newBlockServer(cfg)
	if err != nil {
		return err
	}
	server, _, err := mountLoopback(cfg.Live, cfg.Mountpoint, "blockfs", func(r *fs.LoopbackRoot) fs.InodeEmbedder {
		return &blockNode{LoopbackNode: fs.LoopbackNode{RootData: r}, bs: s}
	})
	if err != nil {
		return err
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGUSR2)
	go func() {
		for sig := range sigs {
			if sig == syscall.SIGUSR2 {
				fmt.Println("armed", s.arm())
				continue
			}
			if c, err := s.cut(); err != nil {
				fmt.Println("error", err)
			} else {
				fmt.Println("cut", c)
			}
		}
	}()
	fmt.Println("ready")
	server.Wait()
	return nil
}

// blockServer is the state of the server process.
type blockServer struct {
	cfg     blockFSConfig
	live    *os.File // the image as the loop device sees it
	durable *os.File // the image as of the last flush

	mu      sync.Mutex
	armed   bool // CutAtFlush counts
	cutAt   bool
	dirty   map[int64]bool // blocks written since the last flush
	flushes int            // since armed
	writes  int            // blocks, since armed
	// counts is the counts at the cut, once made, and cutErr what went
	// wrong writing the images then.
	counts string
	cutErr error
}

// newBlockServer makes the image as it is now durable.
func newBlockServer(cfg blockFSConfig) (*blockServer, error) {
	img := filepath.Join(cfg.Live, BlockImageName)
	durable := filepath.Join(cfg.Store, "durable.img")
	if err := sparseCopy(img, durable); err != nil {
		return nil, err
	}
	s := &blockServer{cfg: cfg, dirty: map[int64]bool{}}
	var err error
	if s.live, err = os.Open(img); err != nil {
		return nil, err
	}
	if s.durable, err = os.OpenFile(durable, os.O_RDWR, 0); err != nil {
		return nil, err
	}
	return s, nil
}

// sparseCopy copies src to a new file dst, keeping holes.
func sparseCopy(src, dst string) error {
	if out, err := exec.Command("cp", "--sparse=always", src, dst).CombinedOutput(); err != nil {
		return fmt.Errorf("cp %s %s: %w: %s", src, dst, err, out)
	}
	return nil
}

// wrote records a write of n bytes at off. The caller holds s.mu.
func (s *blockServer) wrote(off, n int64) {
	if n <= 0 {
		return
	}
	for b := off / BlockSize; b <= (off+n-1)/BlockSize; b++ {
		s.dirty[b] = true
		s.writes++
	}
}

// arm starts counting flushes and writes from zero, and returns the
// flushes before.
func (s *blockServer) arm() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.flushes
	s.flushes, s.writes, s.armed = 0, 0, true
	return n
}

// flush makes the blocks written since the last flush durable, or cuts
// the power if this flush is the one to cut at.
func (s *blockServer) flush() syscall.Errno {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cutAt {
		return syscall.EIO
	}
	if n := s.cfg.Options.CutAtFlush; s.armed && n > 0 && s.flushes+1 == n {
		s.cutLocked()
		return syscall.EIO
	}
	buf := make([]byte, BlockSize)
	for b := range s.dirty {
		if err := copyBlock(s.durable, s.live, b, buf); err != nil {
			fmt.Fprintln(os.Stderr, "blockfs: flush:", err)
			return syscall.EIO
		}
	}
	clear(s.dirty)
	s.flushes++
	return 0
}

// copyBlock copies block b of src to dst.
func copyBlock(dst, src *os.File, b int64, buf []byte) error {
	n, err := src.ReadAt(buf, b*BlockSize)
	if err != nil && n == 0 {
		return err
	}
	_, err = dst.WriteAt(buf[:n], b*BlockSize)
	return err
}

// cut cuts the power, unless the server did already, and returns the
// counts.
func (s *blockServer) cut() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.cutAt {
		s.cutLocked()
	}
	return s.counts, s.cutErr
}

// cutLocked freezes the state and writes the images, with s.mu held.
func (s *blockServer) cutLocked() {
	s.cutAt = true
	pending := make([]int64, 0, len(s.dirty))
	for b := range s.dirty {
		pending = append(pending, b)
	}
	slices.Sort(pending)
	s.counts = fmt.Sprintf("flushes=%d writes=%d pending=%d", s.flushes, s.writes, len(pending))
	s.cutErr = s.writeImages(pending)
}

// writeImages writes the possible durable images into cfg.Out.
func (s *blockServer) writeImages(pending []int64) error {
	out := s.cfg.Out
	if err := sparseCopy(s.live.Name(), filepath.Join(out, "all.img")); err != nil {
		return err
	}
	if err := sparseCopy(s.durable.Name(), filepath.Join(out, "none.img")); err != nil {
		return err
	}
	buf := make([]byte, BlockSize)
	for _, seed := range s.cfg.Options.Seeds {
		name := filepath.Join(out, fmt.Sprintf("seed-%d.img", seed))
		if err := sparseCopy(s.durable.Name(), name); err != nil {
			return err
		}
		f, err := os.OpenFile(name, os.O_RDWR, 0)
		if err != nil {
			return err
		}
		rng := rand.New(rand.NewPCG(seed, 0x626c6f636b))
		for _, b := range pending {
			if rng.IntN(2) == 0 {
				continue
			}
			if err = copyBlock(f, s.live, b, buf); err != nil {
				break
			}
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// blockNode is a loopback node whose files record writes and flushes.
type blockNode struct {
	fs.LoopbackNode
	bs *blockServer
}

var (
	_ fs.NodeOpener          = (*blockNode)(nil)
	_ fs.FileWriter          = (*blockFile)(nil)
	_ fs.FileFsyncer         = (*blockFile)(nil)
	_ fs.FileAllocater       = (*blockFile)(nil)
	_ fs.FilePassthroughFder = (*blockFile)(nil)
)

// Open opens the backing file without O_DIRECT (see ErrorFS).
func (n *blockNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	fh, _, errno := n.LoopbackNode.Open(ctx, flags&^syscall.O_DIRECT)
	if errno != 0 {
		return nil, 0, errno
	}
	return &blockFile{LoopbackFile: fh.(*fs.LoopbackFile), bs: n.bs}, 0, 0
}

// blockFile is the image opened: its writes are recorded and its fsync is
// the disk's flush.
type blockFile struct {
	*fs.LoopbackFile
	bs *blockServer
}

// Write writes through to the image and records the blocks written.
func (f *blockFile) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	s := f.bs
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cutAt {
		return 0, syscall.EIO
	}
	n, errno := f.LoopbackFile.Write(ctx, data, off)
	s.wrote(off, int64(n))
	return n, errno
}

// Allocate is a discard or write-zeroes of the loop device: a write.
func (f *blockFile) Allocate(ctx context.Context, off uint64, size uint64, mode uint32) syscall.Errno {
	s := f.bs
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cutAt {
		return syscall.EIO
	}
	errno := f.LoopbackFile.Allocate(ctx, off, size, mode)
	if errno == 0 {
		s.wrote(int64(off), int64(size))
	}
	return errno
}

// Fsync is the disk's cache flush.
func (f *blockFile) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	return f.bs.flush()
}

// PassthroughFd refuses FUSE passthrough: the kernel would write to the
// backing file behind the model's back.
func (f *blockFile) PassthroughFd() (int, bool) { return -1, false }
