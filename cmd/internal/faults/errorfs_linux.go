package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// Op is a filesystem operation an ErrorFS can fail.
type Op string

// The operations an ErrorFS can fail.
const (
	OpOpen  Op = "open"  // open(2) of an existing file or directory
	OpRead  Op = "read"  // read(2) and pread(2)
	OpWrite Op = "write" // write(2) and pwrite(2)
	OpFsync Op = "fsync" // fsync(2) and fdatasync(2)
	OpFlush Op = "flush" // close(2): FUSE_FLUSH
	// OpAllocate is fallocate(2); with EOPNOTSUPP the filesystem looks
	// like one that cannot reserve space (FAT, many FUSE filesystems).
	OpAllocate Op = "fallocate"
	// OpCorrupt is a write that succeeds but stores its first byte
	// flipped: a drive that keeps other bytes than it was given. Errno is
	// not used.
	OpCorrupt Op = "corrupt"
)

// Fault makes an ErrorFS fail one operation on matching files.
type Fault struct {
	// Op is the operation that fails.
	Op Op
	// Match is a path.Match pattern for the path relative to the mount
	// root, slash-separated ("a/b.bin", "*/*.partial"); empty matches every
	// file. The path is taken when the operation runs, so a pattern on a
	// final name also matches a file renamed onto it.
	Match string
	// Errno is the error returned.
	Errno syscall.Errno
	// From makes read and write faults apply only to requests that end past
	// this file offset, so a copy fails part-way through a file.
	From int64
}

func (f Fault) matches(op Op, rel string, off, n int64) bool {
	if f.Op != op {
		return false
	}
	if f.Match != "" {
		if ok, _ := path.Match(f.Match, rel); !ok {
			return false
		}
	}
	if (op == OpRead || op == OpWrite || op == OpCorrupt) && off+n <= f.From {
		return false
	}
	return true
}

// ErrorFS is a loopback FUSE filesystem over a backing directory that fails
// chosen operations with a chosen errno. Everything else is passed through to
// the backing directory, so a test can prepare and inspect files there.
//
// The filesystem is served by a separate process (StartErrorFS re-executes
// the test binary, whose TestMain calls ServeErrorFS; see fuseProcess).
// Faults are passed through a rules file the server re-reads when it
// changes.
//
// It needs root (it mounts with mount(2), no fusermount) and /dev/fuse.
type ErrorFS struct {
	// Backing is the directory the filesystem mirrors.
	Backing string
	// Mountpoint is where it is mounted.
	Mountpoint string

	ctl  string // control directory: rules.json, hits.log
	proc *fuseProcess

	mu     sync.Mutex
	faults []Fault
}

// ErrorFSOptions configure StartErrorFS.
type ErrorFSOptions struct {
	// DirectIO opens every file with FOPEN_DIRECT_IO: no page cache, every
	// read and write reaches the filesystem, and O_DIRECT opens are honoured.
	DirectIO bool
	// RefuseDirect fails every open and create with O_DIRECT with EINVAL,
	// as many filesystems do.
	RefuseDirect bool
}

// errorFSConfig is what the server process is started with.
type errorFSConfig struct {
	Backing, Mountpoint, Control string
	Options                      ErrorFSOptions
}

// ServeEnv is the environment variable that makes a process started by
// StartErrorFS serve the filesystem; its value is the configuration.
const ServeEnv = "CVV_ERRORFS_SERVE"

// StartErrorFS starts exe (a binary whose main calls ServeErrorFS when
// ServeEnv is set) to mount an ErrorFS mirroring backing on mountpoint;
// both directories must exist. It returns once the filesystem is mounted.
// Unmount it when done.
func StartErrorFS(exe, backing, mountpoint string, opts ErrorFSOptions) (*ErrorFS, error) {
	ctl, err := os.MkdirTemp("", "cvv-errorfs-ctl-")
	if err != nil {
		return nil, err
	}
	e := &ErrorFS{Backing: backing, Mountpoint: mountpoint, ctl: ctl}
	if err := e.writeRules(nil); err != nil {
		return nil, err
	}
	cfg, err := json.Marshal(errorFSConfig{Backing: backing, Mountpoint: mountpoint, Control: ctl, Options: opts})
	if err != nil {
		return nil, err
	}
	e.proc, err = startFUSEProcess(exe, ServeEnv, string(cfg), mountpoint)
	if err != nil {
		os.RemoveAll(ctl)
		return nil, err
	}
	return e, nil
}

// Inject adds a fault. Faults stay until Clear. The server sees it before
// Inject returns.
func (e *ErrorFS) Inject(f Fault) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = append(e.faults, f)
	if err := e.writeRules(e.faults); err != nil {
		panic(err) // a rig failure; the test cannot go on
	}
}

// Clear removes every fault.
func (e *ErrorFS) Clear() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = nil
	if err := e.writeRules(nil); err != nil {
		panic(err)
	}
}

// writeRules replaces the rules file atomically (a new inode, which is how
// the server notices).
func (e *ErrorFS) writeRules(faults []Fault) error {
	b, err := json.Marshal(faults)
	if err != nil {
		return err
	}
	tmp := filepath.Join(e.ctl, "rules.json.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(e.ctl, "rules.json"))
}

// Log returns a line for every fault that fired: "op path errno".
func (e *ErrorFS) Log() []string {
	b, err := os.ReadFile(filepath.Join(e.ctl, "hits.log"))
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}

// Hits returns how many times a fault of op fired.
func (e *ErrorFS) Hits(op Op) int {
	n := 0
	for _, l := range e.Log() {
		if strings.HasPrefix(l, string(op)+" ") {
			n++
		}
	}
	return n
}

// Unmount unmounts the filesystem and waits for the server to exit.
func (e *ErrorFS) Unmount() error {
	defer os.RemoveAll(e.ctl)
	return e.proc.unmount()
}

// ServeErrorFS is the server process: it mounts the filesystem config (the
// value of ServeEnv) describes, prints "ready" on stdout and serves until
// the filesystem is unmounted.
func ServeErrorFS(config string) error {
	var cfg errorFSConfig
	if err := json.Unmarshal([]byte(config), &cfg); err != nil {
		return fmt.Errorf("%s: %w", ServeEnv, err)
	}
	hits, err := os.OpenFile(filepath.Join(cfg.Control, "hits.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer hits.Close()
	s := &errorServer{cfg: cfg, hits: hits}
	server, root, err := mountLoopback(cfg.Backing, cfg.Mountpoint, "errorfs", func(r *fs.LoopbackRoot) fs.InodeEmbedder {
		return &errorNode{LoopbackNode: fs.LoopbackNode{RootData: r}, efs: s}
	})
	if err != nil {
		return err
	}
	s.root = root
	fmt.Println("ready")
	server.Wait()
	return nil
}

// mountLoopback mounts, at mountpoint, a FUSE loopback of the directory
// backing whose nodes newNode makes (the fault filesystems wrap
// fs.LoopbackNode), with no attribute or entry caching: a test that
// changes the backing directory sees the change through the mount at once.
// It returns the server and the root inode.
func mountLoopback(backing, mountpoint, name string, newNode func(*fs.LoopbackRoot) fs.InodeEmbedder) (*fuse.Server, *fs.Inode, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(backing, &st); err != nil {
		return nil, nil, &os.PathError{Op: "stat", Path: backing, Err: err}
	}
	lr := &fs.LoopbackRoot{Path: backing, Dev: uint64(st.Dev)}
	lr.NewNode = func(r *fs.LoopbackRoot, _ *fs.Inode, _ string, _ *syscall.Stat_t) fs.InodeEmbedder { return newNode(r) }
	rootNode := lr.NewNode(lr, nil, "", &st)
	lr.RootNode = rootNode
	zero := time.Duration(0)
	server, err := fs.Mount(mountpoint, rootNode, &fs.Options{
		AttrTimeout:     &zero,
		EntryTimeout:    &zero,
		NegativeTimeout: &zero,
		MountOptions: fuse.MountOptions{
			DirectMountStrict: true,
			FsName:            "cvv-" + name,
			Name:              name,
			AllowOther:        true,
		},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("mount %s on %s: %w", name, mountpoint, err)
	}
	return server, rootNode.EmbeddedInode(), nil
}

// errorServer is the state of the server process.
type errorServer struct {
	cfg  errorFSConfig
	root *fs.Inode
	hits *os.File

	mu       sync.Mutex
	rulesIno uint64
	faults   []Fault
}

// check returns the errno of the first fault matching the operation, or 0.
func (e *errorServer) check(op Op, in *fs.Inode, off, n int64) syscall.Errno {
	rel := in.Path(e.root)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.reload()
	for _, f := range e.faults {
		if f.matches(op, rel, off, n) {
			fmt.Fprintf(e.hits, "%s %s %v\n", op, rel, f.Errno)
			return f.Errno
		}
	}
	return 0
}

// corrupts reports whether a corrupt fault matches a write of n bytes at
// off, and logs it.
func (e *errorServer) corrupts(in *fs.Inode, off, n int64) bool {
	rel := in.Path(e.root)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.reload()
	for _, f := range e.faults {
		if f.matches(OpCorrupt, rel, off, n) {
			fmt.Fprintf(e.hits, "%s %s %v\n", OpCorrupt, rel, f.Errno)
			return true
		}
	}
	return false
}

// reload re-reads the rules file if it was replaced.
func (e *errorServer) reload() {
	p := filepath.Join(e.cfg.Control, "rules.json")
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil || st.Ino == e.rulesIno {
		return
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return
	}
	var faults []Fault
	if err := json.Unmarshal(b, &faults); err != nil {
		return
	}
	e.faults, e.rulesIno = faults, st.Ino
}

func (e *errorServer) fuseFlags() uint32 {
	if e.cfg.Options.DirectIO {
		return fuse.FOPEN_DIRECT_IO
	}
	return 0
}

// errorNode is a loopback node whose files are errorFiles.
type errorNode struct {
	fs.LoopbackNode
	efs *errorServer
}

var (
	_ fs.NodeOpener         = (*errorNode)(nil)
	_ fs.NodeCreater        = (*errorNode)(nil)
	_ fs.NodeOpendirHandler = (*errorNode)(nil)
)

// OpendirHandle opens a directory, unless an open fault matches it: a
// directory that cannot be listed, even by root.
func (n *errorNode) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if errno := n.efs.check(OpOpen, n.EmbeddedInode(), 0, 0); errno != 0 {
		return nil, 0, errno
	}
	return n.LoopbackNode.OpendirHandle(ctx, flags)
}

// Open opens the backing file without O_DIRECT (the FUSE server's buffers
// are not aligned; the kernel side honours O_DIRECT itself) and wraps it.
func (n *errorNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if errno := n.efs.check(OpOpen, n.EmbeddedInode(), 0, 0); errno != 0 {
		return nil, 0, errno
	}
	if n.efs.cfg.Options.RefuseDirect && flags&syscall.O_DIRECT != 0 {
		return nil, 0, syscall.EINVAL
	}
	fh, _, errno := n.LoopbackNode.Open(ctx, flags&^syscall.O_DIRECT)
	if errno != 0 {
		return nil, 0, errno
	}
	return &errorFile{LoopbackFile: fh.(*fs.LoopbackFile), efs: n.efs, node: n.EmbeddedInode()}, n.efs.fuseFlags(), 0
}

// Create creates the backing file without O_DIRECT and wraps it.
func (n *errorNode) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	if n.efs.cfg.Options.RefuseDirect && flags&syscall.O_DIRECT != 0 {
		return nil, nil, 0, syscall.EINVAL
	}
	in, fh, _, errno := n.LoopbackNode.Create(ctx, name, flags&^syscall.O_DIRECT, mode, out)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	return in, &errorFile{LoopbackFile: fh.(*fs.LoopbackFile), efs: n.efs, node: in}, n.efs.fuseFlags(), 0
}

// errorFile is a loopback file handle that consults the faults first.
type errorFile struct {
	*fs.LoopbackFile
	efs  *errorServer
	node *fs.Inode
}

var (
	_ fs.FileReader    = (*errorFile)(nil)
	_ fs.FileWriter    = (*errorFile)(nil)
	_ fs.FileWritever  = (*errorFile)(nil)
	_ fs.FileFsyncer   = (*errorFile)(nil)
	_ fs.FileFlusher   = (*errorFile)(nil)
	_ fs.FileAllocater = (*errorFile)(nil)
)

func (f *errorFile) Read(ctx context.Context, buf []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if errno := f.efs.check(OpRead, f.node, off, int64(len(buf))); errno != 0 {
		return nil, errno
	}
	return f.LoopbackFile.Read(ctx, buf, off)
}

func (f *errorFile) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	if errno := f.efs.check(OpWrite, f.node, off, int64(len(data))); errno != 0 {
		return 0, errno
	}
	if len(data) > 0 && f.efs.corrupts(f.node, off, int64(len(data))) {
		data = append([]byte{data[0] ^ 0x5a}, data[1:]...)
	}
	return f.LoopbackFile.Write(ctx, data, off)
}

func (f *errorFile) Writev(ctx context.Context, data [][]byte, off int64) (uint32, syscall.Errno) {
	var n int64
	for _, d := range data {
		n += int64(len(d))
	}
	if errno := f.efs.check(OpWrite, f.node, off, n); errno != 0 {
		return 0, errno
	}
	if len(data) > 0 && len(data[0]) > 0 && f.efs.corrupts(f.node, off, n) {
		data = append([][]byte{append([]byte{data[0][0] ^ 0x5a}, data[0][1:]...)}, data[1:]...)
	}
	return f.LoopbackFile.Writev(ctx, data, off)
}

func (f *errorFile) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	if errno := f.efs.check(OpFsync, f.node, 0, 0); errno != 0 {
		return errno
	}
	return f.LoopbackFile.Fsync(ctx, flags)
}

func (f *errorFile) Flush(ctx context.Context) syscall.Errno {
	if errno := f.efs.check(OpFlush, f.node, 0, 0); errno != 0 {
		return errno
	}
	return f.LoopbackFile.Flush(ctx)
}

func (f *errorFile) Allocate(ctx context.Context, off uint64, size uint64, mode uint32) syscall.Errno {
	if errno := f.efs.check(OpAllocate, f.node, 0, 0); errno != 0 {
		return errno
	}
	return f.LoopbackFile.Allocate(ctx, off, size, mode)
}

// PassthroughFd refuses FUSE passthrough: with it the kernel would do reads
// and writes on the backing file itself and no fault could fire.
func (f *errorFile) PassthroughFd() (int, bool) { return -1, false }
