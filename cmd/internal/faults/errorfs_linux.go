package faults

import (
	"context"
	"fmt"
	"os"
	"path"
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
	OpOpen  Op = "open"  // open(2) of an existing file
	OpRead  Op = "read"  // read(2) and pread(2)
	OpWrite Op = "write" // write(2) and pwrite(2)
	OpFsync Op = "fsync" // fsync(2) and fdatasync(2)
	OpFlush Op = "flush" // close(2): FUSE_FLUSH
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
	if (op == OpRead || op == OpWrite) && off+n <= f.From {
		return false
	}
	return true
}

// ErrorFS is a loopback FUSE filesystem over a backing directory that fails
// chosen operations with a chosen errno. Everything else is passed through to
// the backing directory, so a test can prepare and inspect files there.
//
// It needs root (it mounts with mount(2), no fusermount) and /dev/fuse.
type ErrorFS struct {
	// Backing is the directory the filesystem mirrors.
	Backing string
	// Mountpoint is where it is mounted.
	Mountpoint string

	directIO     bool
	refuseDirect bool
	server   *fuse.Server
	root     *fs.Inode

	mu     sync.Mutex
	faults []Fault
	hits   map[Op]int
	log    []string
}

// ErrorFSOptions configure MountErrorFS.
type ErrorFSOptions struct {
	// DirectIO opens every file with FOPEN_DIRECT_IO: no page cache, every
	// read and write reaches the filesystem, and O_DIRECT opens are honoured.
	DirectIO bool
	// RefuseDirect fails every open and create with O_DIRECT with EINVAL,
	// as many filesystems do.
	RefuseDirect bool
}

// MountErrorFS mounts an ErrorFS mirroring backing on mountpoint; both
// directories must exist. Unmount it when done.
func MountErrorFS(backing, mountpoint string, opts ErrorFSOptions) (*ErrorFS, error) {
	e := &ErrorFS{Backing: backing, Mountpoint: mountpoint, directIO: opts.DirectIO, refuseDirect: opts.RefuseDirect, hits: map[Op]int{}}
	var st syscall.Stat_t
	if err := syscall.Stat(backing, &st); err != nil {
		return nil, &os.PathError{Op: "stat", Path: backing, Err: err}
	}
	lr := &fs.LoopbackRoot{Path: backing, Dev: uint64(st.Dev)}
	lr.NewNode = func(r *fs.LoopbackRoot, parent *fs.Inode, name string, st *syscall.Stat_t) fs.InodeEmbedder {
		return &errorNode{LoopbackNode: fs.LoopbackNode{RootData: r}, efs: e}
	}
	rootNode := lr.NewNode(lr, nil, "", &st)
	lr.RootNode = rootNode
	zero := time.Duration(0)
	server, err := fs.Mount(mountpoint, rootNode, &fs.Options{
		// No attribute or entry caching: a test that changes the backing
		// directory sees the change through the mount at once.
		AttrTimeout:     &zero,
		EntryTimeout:    &zero,
		NegativeTimeout: &zero,
		MountOptions: fuse.MountOptions{
			DirectMountStrict: true,
			FsName:            "cvv-errorfs",
			Name:              "errorfs",
			AllowOther:        true,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("mount errorfs on %s: %w", mountpoint, err)
	}
	e.server = server
	e.root = rootNode.EmbeddedInode()
	return e, nil
}

// Inject adds a fault. Faults stay until Clear.
func (e *ErrorFS) Inject(f Fault) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = append(e.faults, f)
}

// Clear removes every fault.
func (e *ErrorFS) Clear() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = nil
}

// Hits returns how many times a fault of op fired.
func (e *ErrorFS) Hits(op Op) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.hits[op]
}

// Log returns a line for every fault that fired: "op path errno".
func (e *ErrorFS) Log() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.log...)
}

// Unmount unmounts the filesystem and waits for the server to stop.
func (e *ErrorFS) Unmount() error {
	var err error
	for range 50 {
		if err = e.server.Unmount(); err == nil {
			e.server.Wait()
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("unmount errorfs %s: %w", e.Mountpoint, err)
}

// check returns the errno of the first fault matching the operation, or 0.
func (e *ErrorFS) check(op Op, in *fs.Inode, off, n int64) syscall.Errno {
	rel := in.Path(e.root)
	if os.Getenv("ERRORFS_DEBUG") != "" {
		fmt.Fprintf(os.Stderr, "errorfs: %s %q off=%d n=%d\n", op, rel, off, n)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, f := range e.faults {
		if f.matches(op, rel, off, n) {
			e.hits[op]++
			e.log = append(e.log, fmt.Sprintf("%s %s %v", op, rel, f.Errno))
			return f.Errno
		}
	}
	return 0
}

func (e *ErrorFS) fuseFlags() uint32 {
	if e.directIO {
		return fuse.FOPEN_DIRECT_IO
	}
	return 0
}

// errorNode is a loopback node whose files are errorFiles.
type errorNode struct {
	fs.LoopbackNode
	efs *ErrorFS
}

var (
	_ fs.NodeOpener  = (*errorNode)(nil)
	_ fs.NodeCreater = (*errorNode)(nil)
)

// Open opens the backing file without O_DIRECT (the FUSE server's buffers
// are not aligned; the kernel side honours O_DIRECT itself) and wraps it.
func (n *errorNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if errno := n.efs.check(OpOpen, n.EmbeddedInode(), 0, 0); errno != 0 {
		return nil, 0, errno
	}
	if n.efs.refuseDirect && flags&syscall.O_DIRECT != 0 {
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
	if n.efs.refuseDirect && flags&syscall.O_DIRECT != 0 {
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
	efs  *ErrorFS
	node *fs.Inode
}

var (
	_ fs.FileReader   = (*errorFile)(nil)
	_ fs.FileWriter   = (*errorFile)(nil)
	_ fs.FileWritever = (*errorFile)(nil)
	_ fs.FileFsyncer  = (*errorFile)(nil)
	_ fs.FileFlusher  = (*errorFile)(nil)
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

// PassthroughFd refuses FUSE passthrough: with it the kernel would do reads
// and writes on the backing file itself and no fault could fire.
func (f *errorFile) PassthroughFd() (int, bool) { return -1, false }
