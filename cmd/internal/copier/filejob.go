package copier

import (
	"bytes"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/cmd/internal/plan"
	"github.com/cvv-project/cvv/cmd/internal/ui"
	"github.com/cvv-project/cvv/internal/spill"
)

// fileJob is one source file and its fate on every destination, as a
// pass over the tree's files (runner.jobs) or a worker sees it: a view,
// made for the pass and dropped after it, of what the run keeps for the
// file (see the memory bound in docs/USAGE.md).
//
// What is kept for every file of the tree until the end of the run is
// its record in the run's jobTable, by the file's index: one byte of
// flags (fileFlags), one byte of action and one of state per
// destination, and one bit per destination that says a failure there
// leaves the file out of its manifests (unlisted), in a spill.Table (out of memory but for the pages the
// passes are at). A view holds a copy of the record (rec), written back
// when the pass moves on (jobTable.keep); a file worked on (pin) shares
// its record through its slot until it is released. The entry (path,
// size, mode, mtime) stays in the tree's FileList, out of memory: a
// view holds it while a pass is at the file, or while the file is
// worked on. What only some files need (errors, temps, the source hash,
// hashes re-read from the destinations) is the file's fileSlot, which
// the table keeps only while it holds something: a file settled holds
// nothing else, be it well or failed (its errors go once it is
// reported: the record says where it failed). The source hash is
// released once the file is reported: a manifest finds it in the run's
// hash log (runner.hashLog).
type fileJob struct {
	// fileSlot is shared by every view of the file: the one the table
	// keeps, or a new one, which the table keeps if the view fills it
	// (jobTable.keep).
	*fileSlot
	t *jobTable
	// rec is the file's record (jobTable): flags, then the actions, then
	// the states, then the unlisted bits; the slot's while the file is pinned, else a copy, of
	// which orig is the record as read.
	rec, orig []byte
	// e is the file's entry, nil in a view made without it (runner.peek).
	e *plan.Entry
	// k is the file's index in t.
	k int32
	// dir is the index in runner.tree.Dirs of the file's directory (0
	// for a file source or a view made without the entry).
	dir int32
	// pinned: the view was handed to a worker, which releases it.
	pinned bool
	// newSlot: the view made its slot (the table kept none for the
	// file), which no other view shares unless the table keeps it.
	newSlot bool
}

// fileSlot is what only some files need, or need only while they are
// worked on.
type fileSlot struct {
	x *fileExtra
	// h is the source hash and what it was taken of, nil when not known
	// or released.
	h *fileHash
	// rec is the file's record while it is pinned (fileJob.rec), nil
	// when it is in the table.
	rec []byte
}

// fileFlags are the flags a run keeps for every file.
type fileFlags uint8

const (
	// flagsSource masks the file's srcStatus.
	flagsSource fileFlags = 3
	// flagVerified: the file's verification completed (countVerified).
	flagVerified fileFlags = 1 << 2
	// flagWrote: at least one destination was written by this run.
	flagWrote fileFlags = 1 << 3
	// flagHashReused: the source hash is the one the verification
	// records of the destinations hold (reusableHash), not a read of
	// the source.
	flagHashReused fileFlags = 1 << 4
	// flagLogged: the source hash went to the run's hash log
	// (runner.logHash).
	flagLogged fileFlags = 1 << 5
	// flagSourceFailed: the source could not be copied or verified
	// (fileJob.failSource); the error itself goes once the file is
	// reported.
	flagSourceFailed fileFlags = 1 << 6
	// flagSkipTimesExact: fj is skipped on every destination with the
	// hash of its records (flagHashReused), and each copy's mtime was the
	// source's to the nanosecond when decide looked at it: its manifest
	// entry there takes that time without another stat.
	flagSkipTimesExact fileFlags = 1 << 7
)

// fileHash is the source hash of a file and what it was taken of.
type fileHash struct {
	hash     string // in-flight source hash
	size     int64
	modTime  int64 // source mtime seen by the copy, Unix nanoseconds
	hashDate int64 // when hash was taken, Unix nanoseconds; 0 for a reused hash
}

// jobTable is what a run keeps for every file: the record of file k of
// the tree (recordSize(n) bytes for n destinations: its flags, its
// action on each destination, its state on each, a bit for each) is
// record k of recs; slots[k] is its fileSlot while that holds something
// or the file is pinned.
type jobTable struct {
	recs  *spill.Table
	n     int
	mu    sync.Mutex
	slots map[int32]*fileSlot
	// dropped[i] is why destination i was given up before the copy
	// (runner.dropped): every file fails there with it, which is held
	// once here rather than once per file.
	dropped []error
	// notCopied[i][d] is why the files of directory d of the tree are
	// not copied to destination i (blockFiles), nil when they are; held
	// once for the directory, not once per file.
	notCopied [][]error
}

// recordSize is the size of a file's record for n destinations: its
// flags, n actions, n states and n unlisted bits.
func recordSize(n int) int { return 1 + 2*n + (n+7)/8 }

// newJobTable returns the table of nf files on the destinations of which
// dropped says why each was given up (nil while it takes part; the table
// reads it as it is then).
func newJobTable(nf int, dropped []error) (*jobTable, error) {
	n := len(dropped)
	recs, err := spill.NewTable(nf, recordSize(n))
	if err != nil {
		return nil, err
	}
	return &jobTable{recs: recs, n: n, slots: make(map[int32]*fileSlot), dropped: dropped}, nil
}

// len returns the number of files in t.
func (t *jobTable) len() int {
	if t == nil {
		return 0
	}
	return t.recs.Len()
}

// err returns the first error of t's temporary file: what was written
// since may be lost.
func (t *jobTable) err() error {
	if t == nil {
		return nil
	}
	return t.recs.Err()
}

// close releases t's temporary file.
func (t *jobTable) close() {
	if t != nil {
		t.recs.Close()
	}
}

// view returns a view of file k with its entry e (nil when not at hand),
// its record and its slot: the one t keeps, or a new empty one.
func (t *jobTable) view(k int32, e *plan.Entry) *fileJob { return t.viewIn(nil, k, e) }

// viewIn is view, made in the storage of old when old is not nil: a
// view of t that nobody holds any more (its pass moved on from it, it
// was not pinned, and t.keep took what it had to keep). Its record
// buffers are used again, and its slot when that holds nothing (t does
// not keep it then): a pass over every file allocates nothing for a
// file that has no slot of its own.
func (t *jobTable) viewIn(old *fileJob, k int32, e *plan.Entry) *fileJob {
	t.mu.Lock()
	s := t.slots[k]
	var rec []byte
	if s != nil {
		rec = s.rec
	}
	t.mu.Unlock()
	fj := old
	if fj == nil {
		fj = &fileJob{}
	}
	var recBuf, origBuf []byte
	if old != nil && old.orig != nil {
		// Its own copy of the record (below), not a slot's.
		recBuf, origBuf = old.rec, old.orig
	}
	newSlot := s == nil
	if newSlot {
		if old != nil && old.newSlot && old.x == nil && old.h == nil && old.fileSlot.rec == nil {
			// Empty, so the table did not keep it: only old had it.
			s = old.fileSlot
		} else {
			s = &fileSlot{}
		}
	}
	*fj = fileJob{fileSlot: s, t: t, e: e, k: k, rec: rec, newSlot: newSlot}
	if rec == nil {
		if recBuf == nil {
			m := recordSize(t.n)
			buf := make([]byte, 2*m)
			recBuf, origBuf = buf[:m:m], buf[m:]
		}
		fj.rec, fj.orig = recBuf, origBuf
		t.recs.Get(int(k), fj.rec)
		copy(fj.orig, fj.rec)
	}
	return fj
}

// keep writes fj's record back to t if it is a copy that changed, and
// makes t keep fj's slot if it holds something (or a pinned record),
// and drop it if not.
func (t *jobTable) keep(fj *fileJob) {
	if fj.orig != nil && !bytes.Equal(fj.rec, fj.orig) {
		t.recs.Put(int(fj.k), fj.rec)
		copy(fj.orig, fj.rec)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if fj.x == nil && fj.h == nil && fj.fileSlot.rec == nil {
		if t.slots[fj.k] == fj.fileSlot {
			delete(t.slots, fj.k)
		}
		return
	}
	t.slots[fj.k] = fj.fileSlot
}

// entry returns fj's entry in the walked tree, nil in a view made
// without it (runner.peek).
func (fj *fileJob) entry() *plan.Entry { return fj.e }

// pin makes fj a worker's: the table keeps its slot, which holds its
// record (another view of the file shares them), until fj is released,
// and the pass that made fj leaves it alone.
func (fj *fileJob) pin() {
	fj.pinned = true
	fj.t.mu.Lock()
	defer fj.t.mu.Unlock()
	if fj.orig != nil {
		fj.fileSlot.rec, fj.orig = fj.rec, nil
	}
	fj.t.slots[fj.k] = fj.fileSlot
}

// unpin writes fj's record back to the table: the file is no longer
// worked on.
func (fj *fileJob) unpin() {
	fj.t.mu.Lock()
	rec := fj.fileSlot.rec
	fj.fileSlot.rec = nil
	fj.t.mu.Unlock()
	if rec != nil {
		fj.t.recs.Put(int(fj.k), rec)
	}
}

// actions returns what to do with fj on each destination (a window of
// the shared array: writes go to it).
func (fj *fileJob) actions() []plan.Action {
	n := fj.t.n
	return unsafe.Slice((*plan.Action)(&fj.rec[1]), n)
}

// states returns fj's state on each destination (a window of the shared
// array: writes go to it).
func (fj *fileJob) states() []destState {
	n := fj.t.n
	return unsafe.Slice((*destState)(&fj.rec[1+n]), n)
}

// has reports whether fj has flag f.
func (fj *fileJob) has(f fileFlags) bool { return fileFlags(fj.rec[0])&f != 0 }

// set sets flag f of fj, or clears it.
func (fj *fileJob) set(f fileFlags, on bool) {
	if on {
		fj.rec[0] |= byte(f)
	} else {
		fj.rec[0] &^= byte(f)
	}
}

// srcState returns what a re-read of fj's source found.
func (fj *fileJob) srcState() srcStatus { return srcStatus(fileFlags(fj.rec[0]) & flagsSource) }

// setSrcState records what a re-read of fj's source found.
func (fj *fileJob) setSrcState(s srcStatus) {
	fj.rec[0] = byte(fileFlags(fj.rec[0])&^flagsSource | fileFlags(s)&flagsSource)
}

// verified reports whether fj's verification completed.
func (fj *fileJob) verified() bool { return fj.has(flagVerified) }

// wrote reports whether this run wrote fj to at least one destination.
func (fj *fileJob) wrote() bool { return fj.has(flagWrote) }

// hashReused reports whether fj's source hash is the one its
// destinations' verification records hold.
func (fj *fileJob) hashReused() bool { return fj.has(flagHashReused) }

// unlisted reports whether fj failed on destination i other than by its
// verification (a copy that is there and differs, or a source that
// changed): the manifests of destination i leave it out.
func (fj *fileJob) unlisted(i int) bool {
	return fj.rec[1+2*fj.t.n+i/8]&(1<<(i%8)) != 0
}

func (fj *fileJob) setUnlisted(i int, on bool) {
	b := &fj.rec[1+2*fj.t.n+i/8]
	if on {
		*b |= 1 << (i % 8)
	} else {
		*b &^= 1 << (i % 8)
	}
}

// logged reports whether fj's source hash went to the run's hash log.
func (fj *fileJob) logged() bool { return fj.has(flagLogged) }

// hash returns fj's source hash, "" when not known or released.
func (fj *fileJob) hash() string {
	if fj.h == nil {
		return ""
	}
	return fj.h.hash
}

// size returns the size fj's source hash was taken of.
func (fj *fileJob) size() int64 {
	if fj.h == nil {
		return 0
	}
	return fj.h.size
}

// modTime returns the source mtime the copy saw, Unix nanoseconds.
func (fj *fileJob) modTime() int64 {
	if fj.h == nil {
		return 0
	}
	return fj.h.modTime
}

// srcStatus is what a re-read of a file's source found (ui.SourceState).
type srcStatus = ui.SourceState

const (
	srcNotRead = ui.NotRead       // not re-read
	srcOK      = ui.SourceOK      // re-read and matched
	srcChanged = ui.SourceChanged // re-read and differs, or its size or mtime changed
	srcError   = ui.SourceError   // could not be read
)

// fileExtra is the part of a fileJob that only some files need, or need
// only while they are worked on.
type fileExtra struct {
	// errs[i] is why destination i failed; nil until a destination fails.
	errs []error
	// srcErr is why the source could not be copied or verified.
	srcErr error
	// destHash[i] is the hash re-read from destination i (full mode and
	// rechecks); nil until one is read, released once reported.
	destHash []string
	// temps[i] is the temp file holding the copy to destination i until it
	// is verified (seal.go); nil until a copy is held.
	temps []string
	// conflicts[i] is how a conflict on destination i was resolved (the
	// copy's other name, or what it replaces); nil if there was none.
	conflicts []conflictFate
	// readBack is what the engine read back behind the copy (readback.go):
	// the source, then each destination; nil where it did not.
	readBack []*cvv.ReadBack
	// elapsed is the time the engine took for the copy.
	elapsed time.Duration
	// reported is the number of bytes counted in the progress so far.
	reported atomic.Int64
	// slot is the job's place among runner.active, nil where there is
	// none to give up (slots.go).
	slot *slot
}

// extra returns fj.x, allocated if need be.
func (fj *fileJob) extra() *fileExtra {
	if fj.x == nil {
		fj.x = &fileExtra{}
	}
	return fj.x
}

// sourceErr returns why fj's source could not be copied or verified, nil
// if it could or once fj is reported (failed says it failed).
func (fj *fileJob) sourceErr() error {
	if fj.x == nil {
		return nil
	}
	return fj.x.srcErr
}

// elapsed returns the time the engine took to copy fj, 0 if not copied.
func (fj *fileJob) elapsed() time.Duration {
	if fj.x == nil {
		return 0
	}
	return fj.x.elapsed
}

// err returns why destination i failed, nil if it did not. Once fj is
// reported its own error is gone (its state and unlisted say how it
// failed); one the table holds for many files (sharedErr) stays.
func (fj *fileJob) err(i int) error {
	if fj.x != nil && fj.x.errs != nil && fj.x.errs[i] != nil {
		return fj.x.errs[i]
	}
	if fj.states()[i] == dsFailed {
		return fj.sharedErr(i)
	}
	return nil
}

// sharedErr returns the error the table holds for every file of fj's
// kind that fails on destination i, nil if there is none: that the
// destination was given up before the copy, or that fj's directory could
// not be made there. fj must have been made with its entry (its
// directory).
func (fj *fileJob) sharedErr(i int) error {
	t := fj.t
	if t.dropped != nil && t.dropped[i] != nil {
		return t.dropped[i]
	}
	if t.notCopied != nil && t.notCopied[i] != nil {
		return t.notCopied[i][fj.dir]
	}
	return nil
}

// destHashOf returns the hash re-read from destination i, "" if none.
func (fj *fileJob) destHashOf(i int) string {
	if fj.x == nil || fj.x.destHash == nil {
		return ""
	}
	return fj.x.destHash[i]
}

func (fj *fileJob) setDestHash(i int, h string) {
	fj.extra()
	if fj.x.destHash == nil {
		fj.x.destHash = make([]string, len(fj.states()))
	}
	fj.x.destHash[i] = h
}

// release drops what is no longer needed once fj is reported: the
// hashes re-read from the destinations, the copy's timing, the source
// hash unless keepHash, and its errors unless keepErrs (a report still
// to come needs them). Only the temps of copies still held and the
// conflicts' other names are kept (and the table keeps nothing but the
// record of a file without): a failed file's record says where it
// failed, so no list of failures grows with the run.
func (fj *fileJob) release(keepHash, keepErrs bool) {
	if x := fj.x; x != nil {
		// Sealed copies leave their temps empty: nothing to keep.
		temps := x.temps
		if !slices.ContainsFunc(temps, func(t string) bool { return t != "" }) {
			temps = nil
		}
		var errs []error
		var srcErr error
		if keepErrs {
			errs, srcErr = x.errs, x.srcErr
		}
		if errs == nil && srcErr == nil && temps == nil && x.conflicts == nil {
			fj.x = nil
		} else {
			fj.x = &fileExtra{errs: errs, srcErr: srcErr, temps: temps, conflicts: x.conflicts}
		}
	}
	if !keepHash {
		fj.h = nil
	}
	if fj.pinned {
		fj.unpin()
	}
	fj.t.keep(fj)
}

func unixTime(ns int64) time.Time { return time.Unix(0, ns) }

func (fj *fileJob) needsCopy() bool {
	for _, a := range fj.actions() {
		if a != plan.Skip {
			return true
		}
	}
	return false
}

func (fj *fileJob) failed() bool {
	return fj.has(flagSourceFailed) || slices.Contains(fj.states(), dsFailed)
}

// fail records that destination i failed with err. An error the table
// holds for many files (sharedErr) is not held per file.
func (fj *fileJob) fail(i int, err error) {
	fj.states()[i] = dsFailed
	fj.setUnlisted(i, !isVerifyFailure(err))
	if err != nil && err == fj.sharedErr(i) {
		if fj.x != nil && fj.x.errs != nil {
			fj.x.errs[i] = nil
		}
		return
	}
	fj.extra()
	if fj.x.errs == nil {
		fj.x.errs = make([]error, len(fj.states()))
	}
	fj.x.errs[i] = err
}

// failSource records that fj's source could not be copied or verified,
// with err.
func (fj *fileJob) failSource(err error) {
	fj.extra().srcErr = err
	fj.set(flagSourceFailed, true)
}
