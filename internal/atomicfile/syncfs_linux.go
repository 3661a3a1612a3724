package atomicfile

import (
	"os"

	"github.com/cvv-project/cvv/internal/fserr"
	"golang.org/x/sys/unix"
)

// SyncFS makes everything written to the filesystem holding d durable:
// syncfs(2) on d's descriptor. Since Linux 5.8 it also reports a writeback
// error of the filesystem recorded since d was opened, once for each open
// descriptor (the descriptor's errseq cursor advances when it reports), and
// a filesystem's own sync failure (an xfs shut down, an ext4 whose journal
// aborted) every time. A caller that shares d between several waiters must
// therefore tell them all when one call fails.
//
// The kernel syncs nothing on a read-only filesystem and returns success
// there, so a filesystem found read-only after the sync (an ext4 mounted
// errors=remount-ro after an error) is reported as an error: what was
// written before it went read-only may be lost.
//
// Whether a successful SyncFS makes names durable depends on the
// filesystem (a journaling one commits its journal); the caller decides
// where to trust it.
func (d *Dir) SyncFS() error {
	err := ignoringEINTR(func() error { return unix.Syncfs(d.sys.fd) })
	if err != nil {
		return &os.PathError{Op: "syncfs", Path: d.path, Err: fserr.Strip(err)}
	}
	var st unix.Statfs_t
	if err := ignoringEINTR(func() error { return unix.Fstatfs(d.sys.fd, &st) }); err != nil {
		return &os.PathError{Op: "statfs", Path: d.path, Err: err}
	}
	if st.Flags&unix.ST_RDONLY != 0 {
		return &os.PathError{Op: "syncfs", Path: d.path, Err: unix.EROFS}
	}
	return nil
}
