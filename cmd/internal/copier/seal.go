package copier

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/cmd/internal/plan"
	"github.com/cvv-project/cvv/cmd/internal/testhook"
	"github.com/cvv-project/cvv/internal/atomicfile"
)

// A copy gets its final name only once it is verified: the engine leaves
// each complete, synced copy under its temp name (cvv.Job.Hold), the
// verification reads that temp file, and seal renames the copies that
// passed. So a crash at any instant leaves under a final name either the
// old file or a verified copy, and the next run removes the temp files and
// copies again what was not verified. A verified copy also gets a
// plan.Record (the level reached, the hash) where the filesystem keeps
// extended attributes, so that a later run skips it only if it was
// verified at least as strictly as that run asks.
//
// A copy whose verification was declined (--ask) or interrupted is given
// its name with a LevelTransfer record (its size was checked), unless it
// would replace a file: the old file stays whole until a verified copy
// replaces it. The next run in source or full mode verifies it.

// held returns the temp file that holds fj's copy on destination i until
// it is verified or given up, "" if none.
func (fj *fileJob) held(i int) string {
	if fj.x == nil || fj.x.temps == nil {
		return ""
	}
	return fj.x.temps[i]
}

func (fj *fileJob) hold(i int, tmp string) {
	fj.extra()
	if fj.x.temps == nil {
		fj.x.temps = make([]string, len(fj.states()))
	}
	fj.x.temps[i] = tmp
}

// copyPath returns the file to verify for fj on destination i: the held
// temp file, or the final name.
func (r *runner) copyPath(fj *fileJob, i int) string {
	if t := fj.held(i); t != "" {
		return t
	}
	return r.target(fj, i)
}

// syncMode is what a rename of a copy into place must sync.
func (r *runner) syncMode() atomicfile.Sync {
	j := cvv.Job{NoFsync: r.opts.NoFsync, DeferDirSync: r.dirSync != nil}
	return j.SyncMode()
}

// record is the plan.Record of fj verified at level.
func (r *runner) record(fj *fileJob, level plan.Level) plan.Record {
	return plan.Record{Level: level, Alg: r.opts.Alg.String(), Hash: fj.hash(), Size: fj.size(), ModTime: fj.modTime()}
}

// writeRecord stores rec on path, a copy on destination i, reached from
// the root's descriptor (plan.WriteRecordIn from path's directory); a
// failure costs only a re-verification by a later run, so it is a
// warning.
func (r *runner) writeRecord(fj *fileJob, i int, path string, rec plan.Record) {
	if r.opts.NoPreserve {
		return // the copy keeps no source mtime: nothing will be skipped
	}
	err := r.at(i, path, func(dir *atomicfile.Dir, name string) error {
		_, err := plan.WriteRecordIn(dir, name, rec)
		return err
	})
	r.recordFailed(fj, path, err)
}

// writeRecordIn is writeRecord for name in dir, the directory of path,
// already open.
func (r *runner) writeRecordIn(fj *fileJob, dir *atomicfile.Dir, name, path string, rec plan.Record) {
	if r.opts.NoPreserve {
		return
	}
	_, err := plan.WriteRecordIn(dir, name, rec)
	r.recordFailed(fj, path, err)
}

// recordFailed warns that the record of fj's copy path could not be
// written (err; nothing when nil). The message names path once: the path
// of an error that names it again, or names a /proc/self/fd path, is left
// out.
func (r *runner) recordFailed(fj *fileJob, path string, err error) {
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) && (pe.Path == path || strings.HasPrefix(pe.Path, "/proc/")) {
			err = pe.Err
		}
		r.warn(fj.entry().Rel, fmt.Sprintf("cannot record the verification of %s (a later run verifies it again): %v", path, err))
	}
}

// seal gives fj's verified copies their final names, each with its record,
// and removes the held copies whose verification failed (the failure says
// so). Copies still unverified are left to keepUnverified.
func (r *runner) seal(fj *fileJob) {
	for i, s := range fj.states() {
		tmp := fj.held(i)
		if tmp == "" {
			continue
		}
		switch s {
		case dsOK:
			r.sealCopy(fj, i, tmp)
		case dsFailed:
			fj.x.temps[i] = ""
			r.dropCopy(fj, i, r.removeCopy(i, tmp))
		}
	}
}

// dropCopy tells, in the failure of fj's copy on destination i, whether
// its held copy was removed (err, the removal's error).
func (r *runner) dropCopy(fj *fileJob, i int, err error) {
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		fj.x.errs[i] = fmt.Errorf("%w; its copy could not be removed: %v", fj.x.errs[i], err)
	} else {
		fj.x.errs[i] = fmt.Errorf("%w; the copy was removed", fj.x.errs[i])
	}
}

// place renames the held copy of fj on destination i into place.
func (r *runner) place(fj *fileJob, i int) {
	tmp := fj.held(i)
	fj.x.temps[i] = ""
	if !r.opts.NoPreserve {
		// The source's mtime again, after the verification: nothing may
		// have moved it since (the engine set it before the check).
		err := r.at(i, tmp, func(dir *atomicfile.Dir, name string) error {
			return dir.Chtimes(name, unixTime(fj.modTime()))
		})
		if err != nil {
			r.removeCopy(i, tmp)
			fj.fail(i, cvv.DestError(err))
			return
		}
	}
	if err := atomicfile.Place(r.roots[i], tmp, r.target(fj, i), r.syncMode()); err != nil {
		fj.fail(i, cvv.DestError(err))
		return
	}
	r.placed(fj, i, func() { r.checkPlaced(fj, i) })
}

// sealCopy records and places fj's verified copy tmp on destination i,
// all from one opening of its directory when the final name is in the
// same one (it always is but for a test seam): the record, the source's
// mtime again, the rename, and the checks of the final name.
func (r *runner) sealCopy(fj *fileJob, i int, tmp string) {
	final := r.target(fj, i)
	if filepath.Dir(tmp) != filepath.Dir(final) {
		r.writeRecord(fj, i, tmp, r.record(fj, r.opts.Mode))
		r.place(fj, i)
		return
	}
	fj.x.temps[i] = ""
	err := r.at(i, tmp, func(dir *atomicfile.Dir, tmpName string) error {
		return r.sealIn(fj, i, dir, tmpName, tmp, nil)
	})
	if err != nil {
		fj.fail(i, cvv.DestError(err))
	}
}

// sealIn is sealCopy in dir, the directory of fj's verified copy tmp
// (tmpName in it) and of its final name, already open. checked, if not
// nil, is what an Lstat of tmpName just gave, through the same opening
// of dir: the source's mtime is not set again when the copy already has
// it.
func (r *runner) sealIn(fj *fileJob, i int, dir *atomicfile.Dir, tmpName, tmp string, checked fs.FileInfo) error {
	r.writeRecordIn(fj, dir, tmpName, tmp, r.record(fj, r.opts.Mode))
	if !r.opts.NoPreserve && (checked == nil || checked.ModTime().UnixNano() != fj.modTime()) {
		// As in place: the source's mtime again, after the
		// verification.
		if err := dir.Chtimes(tmpName, unixTime(fj.modTime())); err != nil {
			dir.Remove(tmpName)
			return err
		}
	}
	name := filepath.Base(r.target(fj, i))
	if err := dir.Place(tmpName, name, r.syncMode()); err != nil {
		return err
	}
	r.placed(fj, i, func() { r.checkPlacedIn(fj, i, dir, name) })
	return nil
}

// checkAndSeal is checkSizes then seal for the copies idx of fj, each
// from one opening of its directory (r.at: the root's path and the
// directory's place checked once) instead of two: the size check, then,
// at once, the record, the rename and the checks of the final name, or
// the removal of a copy of the wrong size. Nothing is written through the
// directory but right after the check, as with two openings: the Lstat is
// all that runs between the check and what sealIn writes. A copy whose
// temp file is not in its final name's directory (a test seam) is checked
// as checkSizes does and left to seal.
func (r *runner) checkAndSeal(fj *fileJob, idx []int) {
	for _, i := range idx {
		tmp := fj.held(i)
		if fj.states()[i] != dsCopied || tmp == "" || filepath.Dir(tmp) != filepath.Dir(r.target(fj, i)) {
			r.checkSizes(fj, []int{i})
			continue
		}
		ran := false
		err := r.at(i, tmp, func(dir *atomicfile.Dir, tmpName string) error {
			ran = true
			fj.x.temps[i] = ""
			fi, err := dir.Lstat(tmpName)
			if !r.sizeChecked(fj, i, fi, err) {
				r.dropCopy(fj, i, dir.Remove(tmpName))
				return nil
			}
			return r.sealIn(fj, i, dir, tmpName, tmp, fi)
		})
		switch {
		case err == nil:
		case ran:
			fj.fail(i, cvv.DestError(err))
		default:
			// Not reached: as checkSizes, the copy fails; seal tries to
			// remove it.
			fj.fail(i, err)
		}
	}
}

// placed follows the rename of fj's copy into place on destination i:
// check checks it under its final name, then the conflict's notice.
func (r *runner) placed(fj *fileJob, i int, check func()) {
	fj.set(flagWrote, true)
	if err := testhook.AfterPlace(fj.entry().Rel, r.target(fj, i)); err != nil {
		r.warn(fj.entry().Rel, fmt.Sprintf("test hook: %v", err))
	}
	check()
	r.reportConflict(fj, i)
}

// keepUnverified deals with fj's copies that are still held unverified
// (the verification was declined or interrupted): a copy of the right size
// that replaces nothing gets its final name and a LevelTransfer record;
// any other is removed, and what was there stays.
func (r *runner) keepUnverified(fj *fileJob) {
	for i, s := range fj.states() {
		tmp := fj.held(i)
		if tmp == "" || s != dsCopied {
			continue
		}
		fi, err := r.lstatCopy(i, tmp)
		_, lerr := r.lstatCopy(i, r.target(fj, i))
		if err != nil || !fi.Mode().IsRegular() || fi.Size() != fj.size() || !errors.Is(lerr, fs.ErrNotExist) {
			// Still dsCopied: counted as not verified.
			fj.x.temps[i] = ""
			r.removeCopy(i, tmp)
			continue
		}
		r.writeRecord(fj, i, tmp, r.record(fj, plan.LevelTransfer))
		r.place(fj, i)
	}
}

// keepAllUnverified is keepUnverified for every file, once no worker runs.
func (r *runner) keepAllUnverified() {
	for _, fj := range r.jobs() {
		if fj.x != nil && fj.x.temps != nil {
			r.keepUnverified(fj)
		}
	}
}
