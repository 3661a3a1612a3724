package copier

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/cvv-project/cvv/cmd/internal/usage"
)

// errLocked is what tryLock returns when another process holds the lock.
var errLocked = errors.New("locked")

// lockPoll is how often a --wait run tries a held lock again.
const lockPoll = 100 * time.Millisecond

// DestLock is one run's hold on a destination root: an exclusive flock(2)
// on the directory itself, so nothing is added to the copy and the kernel
// drops the lock when the process ends, however it ends. While it is held
// no other cvv run writes into the root, sweeps its temp files or records a
// generation in it.
//
// The lock is advisory and per root directory: two runs into nested roots
// are not kept apart by it (one run's destinations never nest, see
// plan.Resolve). The shards of one job (--shard) take it shared
// (LOCK_SH), so they write together; every other run takes it exclusive,
// so it still excludes them and they it (shard.go keeps two sharded jobs
// apart, and sweeps nothing under the shared lock).
type DestLock struct {
	dir string
	fd  int
}

// LockDest locks the destination root dir. When another run holds it,
// LockDest fails at once with a usage error naming dir and, where
// /proc/locks shows it, the holder's PID; with wait it calls waiting once
// with that message and tries again until it gets the lock or ctx is done.
func LockDest(ctx context.Context, dir string, wait bool, waiting func(msg string)) (*DestLock, error) {
	return lockDestAs(ctx, dir, false, wait, waiting)
}

// lockDestAs is lockDest taking the lock shared (a shard) or exclusive.
func lockDestAs(ctx context.Context, dir string, shared, wait bool, waiting func(msg string)) (*DestLock, error) {
	for first := true; ; first = false {
		l, err := tryFlock(dir, shared)
		if err == nil {
			return l, nil
		}
		if !errors.Is(err, errLocked) {
			return nil, fmt.Errorf("locking destination %s: %w", dir, err)
		}
		msg := fmt.Sprintf("destination %s is in use by another cvv run%s", dir, lockHolder(dir))
		if !wait {
			return nil, usage.Errorf("%s (--wait waits for it)", msg)
		}
		if first {
			waiting(msg + "; waiting for it to finish")
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(lockPoll):
		}
	}
}

// lockHolder returns " (pid N)" for the process that holds the flock on
// dir, or "" when it cannot be found.
func lockHolder(dir string) string {
	if pid := flockHolder(dir); pid > 0 {
		return fmt.Sprintf(" (pid %d)", pid)
	}
	return ""
}

// lockDests locks the root of every destination (once per directory: the
// roots of file copies into one directory are one), before anything in them
// is read for the decisions or swept. The roots must exist (createRoots).
func (r *runner) lockDests(ctx context.Context) error {
	var seen []os.FileInfo
	for _, d := range r.plan.Dests {
		root := d.Root(r.plan.IsDir)
		fi, err := os.Stat(root)
		if err != nil {
			r.unlockDests()
			return fmt.Errorf("locking destination %s: %w", d.Arg, err)
		}
		if slices.ContainsFunc(seen, func(s os.FileInfo) bool { return os.SameFile(s, fi) }) {
			continue
		}
		seen = append(seen, fi)
		l, err := lockDestAs(ctx, root, r.shard != nil, r.opts.Wait, func(msg string) {
			fmt.Fprintf(r.stderr, "cvv: %s\n", msg)
		})
		if err != nil {
			r.unlockDests()
			return err
		}
		r.locks = append(r.locks, l)
		if r.shard != nil {
			if err := r.shard.join(ctx, root, r.opts.NoFsync); err != nil {
				r.unlockDests()
				return err
			}
		}
	}
	return nil
}

// unlockDests releases the locks lockDests took.
func (r *runner) unlockDests() {
	if r.shard != nil {
		r.shard.leave()
	}
	for _, l := range r.locks {
		l.Unlock()
	}
	r.locks = nil
}
