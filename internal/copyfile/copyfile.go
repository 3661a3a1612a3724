// Package copyfile holds the per-file steps both engines take around their
// own data path, written once: open and check the source, create and
// preallocate the destinations' temp files, the attributes a destination
// inherits, the check that the source did not change while it was read,
// dropping cached pages, and the commit of every destination, in parallel.
// How the bytes move (io_uring or pread/pwrite) is the engines' business.
//
// It sits between the contract and the engines: it imports the root
// package and internal/atomicfile, never an engine, and the CLI has no use
// for it.
package copyfile

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/internal/atomicfile"
)

// OpenSource opens path with open (OpenFile or a test seam) and flag
// (os.O_RDONLY plus O_DIRECT, say) and checks that it is a regular file.
// It returns the file and its file information, from stat (an engine's
// statx that also asks what it needs) or, if nil, from f.Stat.
func OpenSource(open func(string, int, os.FileMode) (*os.File, error), stat func(*os.File) (os.FileInfo, error), path string, flag int) (*os.File, os.FileInfo, error) {
	f, err := open(path, flag, 0)
	if err != nil {
		return nil, nil, err
	}
	if stat == nil {
		stat = (*os.File).Stat
	}
	fi, err := stat(f)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, &os.PathError{Op: "open", Path: path, Err: errors.New("not a regular file")}
	}
	return f, fi, nil
}

// CreateTemp creates the temp file of final below root with create
// (atomicfile.CreatePending or a test seam) and preallocates size bytes.
// Errors wrap cvv.ErrDiskFull where the filesystem is full.
func CreateTemp(create func(*atomicfile.Dir, string, int) (*atomicfile.PendingFile, error), root *atomicfile.Dir, final string, size int64) (*atomicfile.PendingFile, error) {
	pf, err := create(root, final, 0)
	if err != nil {
		return nil, cvv.DestError(err)
	}
	if err := atomicfile.Preallocate(pf.File, size); err != nil {
		pf.Abort()
		return nil, cvv.DestError(&os.PathError{Op: "fallocate", Path: final, Err: err})
	}
	return pf, nil
}

// Attrs returns what a copy of f (which is fi) inherits under job: nil
// with Job.NoPreserve; else the mode and mtime, the owner when running as
// root, and the extended attributes and ACLs unless Job.NoXattrs.
func Attrs(job *cvv.Job, f *os.File, fi os.FileInfo) (*atomicfile.SourceAttrs, error) {
	if job.NoPreserve {
		return nil, nil
	}
	return atomicfile.AttrsOf(f, fi, !job.NoXattrs)
}

// CheckUnchanged fails with cvv.ErrSourceChanged if f's size or
// modification time moved since before (its Stat when it was opened).
func CheckUnchanged(f *os.File, path string, before os.FileInfo) error {
	after, err := f.Stat()
	if err != nil {
		return err
	}
	if after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) {
		return fmt.Errorf("%w: %s (size %d -> %d, mtime %s -> %s)", cvv.ErrSourceChanged, path,
			before.Size(), after.Size(), before.ModTime().Format(time.RFC3339Nano), after.ModTime().Format(time.RFC3339Nano))
	}
	return nil
}

// Committed is how the commit of one destination ended.
type Committed struct {
	// Held is the finished temp file handed over with Job.Hold.
	Held string
	// Err is the commit's error, wrapped by cvv.DestError.
	Err error
	// Unkept is the PendingFile's Unkept: the extended attributes the
	// destination's filesystem could not hold.
	Unkept error
}

// CommitAll completes every non-nil temp file of pfs with complete, all
// at once: the destinations' fdatasync latencies overlap instead of adding
// up. complete is Complete, with whatever an engine does first (the
// io_uring engine cuts a padded O_DIRECT tail); it must abort the temp
// file on failure, as Complete does.
//
// It has no context on purpose: once the data is written, every commit
// runs to its end, so that a copy never reports a failure after it has
// renamed a destination into place.
func CommitAll(pfs []*atomicfile.PendingFile, complete func(*atomicfile.PendingFile) (string, error)) []Committed {
	out := make([]Committed, len(pfs))
	var wg sync.WaitGroup
	for i, pf := range pfs {
		if pf == nil {
			continue
		}
		wg.Go(func() {
			held, err := complete(pf)
			out[i] = Committed{Held: held, Err: cvv.DestError(err), Unkept: pf.Unkept}
		})
	}
	wg.Wait()
	return out
}

// Complete ends the copy to one destination as job asks: Commit
// (attributes, sync, rename, directory fsync), or with job.Hold only
// Finish, handing the finished temp file over (see atomicfile.Place). On
// failure the temp file is removed.
func Complete(job *cvv.Job, pf *atomicfile.PendingFile, attrs *atomicfile.SourceAttrs) (held string, err error) {
	if job.Hold {
		if err := pf.Finish(attrs, job.SyncMode()); err != nil {
			return "", err
		}
		return pf.Hold(), nil
	}
	return "", pf.Commit(attrs, job.SyncMode())
}
