package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// PowerFS is a loopback FUSE filesystem that loses, on a power cut, what a
// real filesystem may lose: it models the page cache the way LazyFS does
// (Ramos et al., "When Amnesia Strikes", PVLDB 17(11), 2024), at the
// strictness POSIX allows.
//
// Every operation goes through to Live (a private tmpfs, so that inode
// numbers are never reused) at once; beside it the server keeps the durable
// state, which changes only on a sync:
//   - fsync or fdatasync of a file makes its data and size durable (as one
//     copy of the whole file), fsync also its mode and mtime; fdatasync
//     leaves them as they were last made durable;
//   - fsync of a directory makes its entries durable as they are (names
//     created, renamed, unlinked; files, directories, symlinks). A file that
//     becomes reachable so before its own sync is empty, with the mode and
//     mtime it has then; a new directory is empty until it is synced itself;
//   - nothing else is durable: not close (FUSE FLUSH), not a rename, not a
//     chmod or utimes, not the data of a renamed file.
//
// Everything in Live when the filesystem starts is durable. Cut throws the
// rest away: it writes the durable state, as a fresh tree, to Durable; from
// then on every sync fails with EIO, so nothing a program does after the
// cut can be mistaken for durable. The test then kills the program, unmounts
// and inspects Durable.
//
// Like ErrorFS it runs in its own process (see fuseProcess), needs root and
// /dev/fuse, and hands files out without O_DIRECT on the backing side (the
// kernel honours O_DIRECT on the FUSE side; with DirectIO every open is
// FOPEN_DIRECT_IO). Without FUSE's writeback cache, which it does not
// enable, every write reaches the server before write(2) returns, so the
// kernel holds no dirty data the model does not see.
type PowerFS struct {
	// Live is the backing directory: the state before a cut.
	Live string
	// Mountpoint is where the filesystem is mounted.
	Mountpoint string
	// Durable receives the durable state at the cut; it must be empty.
	Durable string

	proc    *fuseProcess
	unmount sync.Once
	err     error
}

// PowerFSOptions configure StartPowerFS.
type PowerFSOptions struct {
	// DirectIO opens every file with FOPEN_DIRECT_IO.
	DirectIO bool
	// CutAfter, with CutAfterN > 0, makes the server cut the power by
	// itself the moment the CutAfterN-th operation of that kind has taken
	// effect: "fsync" (a file's fsync or fdatasync), "fsyncdir" or
	// "rename". The program sees that operation succeed and every later
	// sync fail; Cut then returns the state frozen at that moment. It
	// aims a cut at a window (between a batch's file syncs and its
	// renames, say) that a cut at a random time hits only by chance.
	CutAfter  string
	CutAfterN int
}

// powerFSConfig is what the server process is started with.
type powerFSConfig struct {
	Live, Mountpoint, Store, Durable string
	Options                          PowerFSOptions
}

// PowerServeEnv is the environment variable that makes a process started
// by StartPowerFS serve the filesystem; its value is the configuration.
const PowerServeEnv = "CVV_POWERFS_SERVE"

// StartPowerFS starts exe (a binary whose main calls ServePowerFS when
// PowerServeEnv is set) to mount a PowerFS over live on mountpoint. The
// server keeps durable file data in store, which must be on a filesystem
// other than live's, and writes the durable state to durable at the cut.
// All four directories must exist. Unmount it when done.
func StartPowerFS(exe, live, store, durable, mountpoint string, opts PowerFSOptions) (*PowerFS, error) {
	cfg, err := json.Marshal(powerFSConfig{Live: live, Mountpoint: mountpoint, Store: store, Durable: durable, Options: opts})
	if err != nil {
		return nil, err
	}
	proc, err := startFUSEProcess(exe, PowerServeEnv, string(cfg), mountpoint)
	if err != nil {
		return nil, err
	}
	return &PowerFS{Live: live, Mountpoint: mountpoint, Durable: durable, proc: proc}, nil
}

// Cut cuts the power and returns once Durable holds the durable state, with
// the number of syncs the server saw ("fsync=3 fdatasync=10 fsyncdir=4").
func (p *PowerFS) Cut() (string, error) {
	if err := p.proc.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		return "", err
	}
	line, err := p.proc.expectPrefix("cut ", time.Minute)
	return strings.TrimPrefix(line, "cut "), err
}

// Unmount unmounts the filesystem and waits for the server to exit. Only
// the first call does anything.
func (p *PowerFS) Unmount() error {
	p.unmount.Do(func() { p.err = p.proc.unmount() })
	return p.err
}

// ServePowerFS is the server process: it mounts the filesystem config (the
// value of PowerServeEnv) describes, prints "ready", cuts the power on
// SIGUSR1 (printing "cut" and the sync counts, or "error" and why) and
// serves until the filesystem is unmounted.
func ServePowerFS(config string) error {
	var cfg powerFSConfig
	if err := json.Unmarshal([]byte(config), &cfg); err != nil {
		return fmt.Errorf("%s: %w", PowerServeEnv, err)
	}
	s := &powerServer{cfg: cfg, files: map[uint64]*durableFile{}, dirs: map[uint64]*durableDir{}}
	if err := s.snapshot(cfg.Live); err != nil {
		return fmt.Errorf("initial state of %s: %w", cfg.Live, err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(cfg.Live, &st); err != nil {
		return &os.PathError{Op: "stat", Path: cfg.Live, Err: err}
	}
	s.rootIno = st.Ino
	server, root, err := mountLoopback(cfg.Live, cfg.Mountpoint, "powerfs", func(r *fs.LoopbackRoot) fs.InodeEmbedder {
		return &powerNode{LoopbackNode: fs.LoopbackNode{RootData: r}, ps: s}
	})
	if err != nil {
		return err
	}
	s.root = root
	cuts := make(chan os.Signal, 1)
	signal.Notify(cuts, syscall.SIGUSR1)
	go func() {
		for range cuts {
			if counts, err := s.cut(); err != nil {
				fmt.Println("error", err)
			} else {
				fmt.Println("cut", counts)
			}
		}
	}()
	fmt.Println("ready")
	server.Wait()
	return nil
}

// durableFile is the durable state of a regular file (an inode).
type durableFile struct {
	blob  string // the file in Store holding its data; "" when empty
	mode  uint32
	mtime unix.Timespec
}

// durableEntry is a durable name in a directory.
type durableEntry struct {
	ino    uint64
	mode   uint32 // the S_IFMT bits
	target string // of a symlink
}

// durableDir is the durable state of a directory (an inode).
type durableDir struct {
	mode    uint32
	mtime   unix.Timespec
	entries map[string]durableEntry
}

// powerServer is the state of the server process.
type powerServer struct {
	cfg     powerFSConfig
	root    *fs.Inode
	rootIno uint64

	mu    sync.Mutex
	cutAt bool
	files map[uint64]*durableFile // by inode number in Live
	dirs  map[uint64]*durableDir
	blobs int // blob files written, for unique names
	// counts of the syncs seen before the cut
	fsyncs, fdatasyncs, dirSyncs int
	// renames seen before the cut
	renames int
	// cutCounts is the sync counts at the cut, once made, and cutErr
	// what went wrong writing the durable state then
	cutCounts string
	cutErr    error
}

// snapshot makes everything under dir durable (the state at the start).
func (s *powerServer) snapshot(dir string) error {
	return filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			return s.syncDir(p)
		case unix.S_IFREG:
			fd, err := unix.Open(p, unix.O_RDONLY, 0)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			return s.syncFile(fd, false)
		}
		return nil
	})
}

// syncFile makes the file open as fd durable: its data, and its mode and
// mtime unless datasync. The caller holds s.mu.
func (s *powerServer) syncFile(fd int, datasync bool) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	// Read through a new descriptor: fd may be write-only.
	src, err := os.Open(fmt.Sprintf("/proc/self/fd/%d", fd))
	if err != nil {
		return err
	}
	defer src.Close()
	s.blobs++
	blob := filepath.Join(s.cfg.Store, fmt.Sprintf("%d.%d", st.Ino, s.blobs))
	dst, err := os.OpenFile(blob, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(dst, src)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	df := s.files[st.Ino]
	if df == nil {
		df = &durableFile{mode: st.Mode, mtime: st.Mtim}
		s.files[st.Ino] = df
	} else if df.blob != "" {
		os.Remove(df.blob)
	}
	df.blob = blob
	if !datasync {
		df.mode, df.mtime = st.Mode, st.Mtim
	}
	return nil
}

// syncDir makes the entries of the directory at path durable, and its own
// mode and mtime. The caller holds s.mu.
func (s *powerServer) syncDir(path string) error {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return err
	}
	des, err := os.ReadDir(path)
	if err != nil {
		return err
	}
	dd := &durableDir{mode: st.Mode, mtime: st.Mtim, entries: make(map[string]durableEntry, len(des))}
	for _, de := range des {
		p := filepath.Join(path, de.Name())
		var est unix.Stat_t
		if err := unix.Lstat(p, &est); err != nil {
			return err
		}
		e := durableEntry{ino: est.Ino, mode: est.Mode & unix.S_IFMT}
		switch e.mode {
		case unix.S_IFLNK:
			if e.target, err = os.Readlink(p); err != nil {
				return err
			}
		case unix.S_IFREG:
			if s.files[est.Ino] == nil {
				// Reachable before its data was synced: empty.
				s.files[est.Ino] = &durableFile{mode: est.Mode, mtime: est.Mtim}
			}
		case unix.S_IFDIR:
			if s.dirs[est.Ino] == nil {
				s.dirs[est.Ino] = &durableDir{mode: est.Mode, mtime: est.Mtim}
			}
		default:
			continue // FIFOs, sockets, devices: not modelled
		}
		dd.entries[de.Name()] = e
	}
	s.dirs[st.Ino] = dd
	return nil
}

// sync is a file or directory sync from the kernel.
func (s *powerServer) sync(what string, do func() error) syscall.Errno {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cutAt {
		return syscall.EIO
	}
	if err := do(); err != nil {
		fmt.Fprintf(os.Stderr, "powerfs: %s: %v\n", what, err)
		return fs.ToErrno(err)
	}
	n := map[string]int{"fsync": s.fsyncs + s.fdatasyncs, "fsyncdir": s.dirSyncs}[what]
	s.cutIfDue(what, n)
	return 0
}

// cutIfDue cuts the power if the n-th operation of kind what is the one
// the options cut after. The caller holds s.mu.
func (s *powerServer) cutIfDue(what string, n int) {
	if o := s.cfg.Options; o.CutAfterN == 0 || o.CutAfter != what || o.CutAfterN != n {
		return
	}
	s.cutLocked()
}

// cut freezes the durable state, writes it to cfg.Durable and returns the
// sync counts.
func (s *powerServer) cut() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.cutAt {
		s.cutLocked()
	}
	// (Else cut already, by the server itself: CutAfter.)
	return s.cutCounts, s.cutErr
}

// cutLocked freezes the durable state and writes it out, with s.mu held.
func (s *powerServer) cutLocked() {
	s.cutAt = true
	s.cutCounts = fmt.Sprintf("fsync=%d fdatasync=%d fsyncdir=%d rename=%d", s.fsyncs, s.fdatasyncs, s.dirSyncs, s.renames)
	s.cutErr = s.materialize(s.cfg.Durable, s.rootIno, map[uint64]bool{}, map[uint64]string{})
}

// materialize writes the durable directory ino into dir, which exists.
// The durable names of one file are hard links to the first one written
// (files maps its inode to it).
func (s *powerServer) materialize(dir string, ino uint64, seen map[uint64]bool, files map[uint64]string) error {
	seen[ino] = true
	dd := s.dirs[ino]
	for name, e := range dd.entries {
		p := filepath.Join(dir, name)
		var err error
		switch e.mode {
		case unix.S_IFDIR:
			if seen[e.ino] {
				continue // a directory renamed with both parents synced
			}
			if err = os.Mkdir(p, 0o700); err == nil {
				err = s.materialize(p, e.ino, seen, files)
			}
		case unix.S_IFLNK:
			err = os.Symlink(e.target, p)
		case unix.S_IFREG:
			if first, ok := files[e.ino]; ok {
				err = os.Link(first, p)
				break
			}
			files[e.ino] = p
			err = s.materializeFile(p, s.files[e.ino])
		}
		if err != nil {
			return err
		}
	}
	if err := os.Chmod(dir, os.FileMode(dd.mode&0o777)); err != nil {
		return err
	}
	return unix.UtimesNano(dir, []unix.Timespec{dd.mtime, dd.mtime})
}

func (s *powerServer) materializeFile(p string, df *durableFile) error {
	dst, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if df.blob != "" {
		var src *os.File
		if src, err = os.Open(df.blob); err == nil {
			_, err = io.Copy(dst, src)
			src.Close()
		}
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(p, os.FileMode(df.mode&0o777))
	}
	if err == nil {
		err = unix.UtimesNano(p, []unix.Timespec{df.mtime, df.mtime})
	}
	return err
}

// livePath returns the path in Live of the node in.
func (s *powerServer) livePath(in *fs.Inode) string {
	return filepath.Join(s.cfg.Live, in.Path(s.root))
}

func (s *powerServer) fuseFlags() uint32 {
	if s.cfg.Options.DirectIO {
		return fuse.FOPEN_DIRECT_IO
	}
	return 0
}

// powerNode is a loopback node whose files and directory handles sync
// into the durable state.
type powerNode struct {
	fs.LoopbackNode
	ps *powerServer
}

var (
	_ fs.NodeOpener          = (*powerNode)(nil)
	_ fs.NodeCreater         = (*powerNode)(nil)
	_ fs.NodeOpendirHandler  = (*powerNode)(nil)
	_ fs.NodeRenamer         = (*powerNode)(nil)
	_ fs.FileFsyncer         = (*powerFile)(nil)
	_ fs.FileFsyncdirer      = (*powerDir)(nil)
	_ fs.FileReaddirenter    = (*powerDir)(nil)
	_ fs.FileSeekdirer       = (*powerDir)(nil)
	_ fs.FileReleasedirer    = (*powerDir)(nil)
	_ fs.FilePassthroughFder = (*powerFile)(nil)
)

// Open opens the backing file without O_DIRECT (see ErrorFS).
func (n *powerNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	fh, _, errno := n.LoopbackNode.Open(ctx, flags&^syscall.O_DIRECT)
	if errno != 0 {
		return nil, 0, errno
	}
	return &powerFile{LoopbackFile: fh.(*fs.LoopbackFile), ps: n.ps}, n.ps.fuseFlags(), 0
}

// Create creates the backing file without O_DIRECT.
func (n *powerNode) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	in, fh, _, errno := n.LoopbackNode.Create(ctx, name, flags&^syscall.O_DIRECT, mode, out)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	return in, &powerFile{LoopbackFile: fh.(*fs.LoopbackFile), ps: n.ps}, n.ps.fuseFlags(), 0
}

// Rename renames in Live (not durable until the directories are synced)
// and counts the rename for CutAfter.
func (n *powerNode) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	errno := n.LoopbackNode.Rename(ctx, name, newParent, newName, flags)
	if errno != 0 {
		return errno
	}
	ps := n.ps
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if !ps.cutAt {
		ps.renames++
		ps.cutIfDue("rename", ps.renames)
	}
	return 0
}

// OpendirHandle wraps the loopback directory stream so that its fsync
// reaches the model.
func (n *powerNode) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	fh, fflags, errno := n.LoopbackNode.OpendirHandle(ctx, flags)
	if errno != 0 {
		return nil, 0, errno
	}
	return &powerDir{DirStream: fh.(fs.DirStream), node: n}, fflags, 0
}

// fsyncFdatasync is FUSE_FSYNC_FDATASYNC (include/uapi/linux/fuse.h): the
// fsync_flags bit of an fdatasync(2).
const fsyncFdatasync = 1

// powerFile is a loopback file whose fsync makes it durable.
type powerFile struct {
	*fs.LoopbackFile
	ps *powerServer
}

// Fsync is fsync(2) (flags 0) or fdatasync(2) (flags bit 0).
func (f *powerFile) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	fd, ok := f.LoopbackFile.PassthroughFd()
	if !ok {
		return syscall.EBADF
	}
	datasync := flags&fsyncFdatasync != 0
	return f.ps.sync("fsync", func() error {
		if datasync {
			f.ps.fdatasyncs++
		} else {
			f.ps.fsyncs++
		}
		return f.ps.syncFile(fd, datasync)
	})
}

// PassthroughFd refuses FUSE passthrough: the kernel would write to the
// backing file behind the model's back.
func (f *powerFile) PassthroughFd() (int, bool) { return -1, false }

// powerDir is a loopback directory stream whose fsync makes the
// directory's entries durable.
type powerDir struct {
	fs.DirStream
	node *powerNode
}

func (d *powerDir) Fsyncdir(ctx context.Context, flags uint32) syscall.Errno {
	ps := d.node.ps
	return ps.sync("fsyncdir", func() error {
		ps.dirSyncs++
		return ps.syncDir(ps.livePath(d.node.EmbeddedInode()))
	})
}

func (d *powerDir) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	return d.DirStream.(fs.FileReaddirenter).Readdirent(ctx)
}

func (d *powerDir) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	return d.DirStream.(fs.FileSeekdirer).Seekdir(ctx, off)
}

func (d *powerDir) Releasedir(ctx context.Context, flags uint32) {
	d.DirStream.(fs.FileReleasedirer).Releasedir(ctx, flags)
}
