package copier

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/cmd/internal/plan"
	"github.com/cvv-project/cvv/hashing/manifest"
)

// HashFiles are the --hash-file settings.
type HashFiles struct {
	// Formats are the manifest formats to write; none when empty.
	Formats []manifest.Format
	// Source and Dest say where to write them.
	Source, Dest bool
}

// hashRecord is the manifest record of one root, and whether the run
// changed nothing there: every file was skipped with the hash of its
// verification records, none re-read or copied.
type hashRecord struct {
	manifest.Record
	unchanged bool
}

// writeHashFiles writes the manifests of the run: one Record per
// destination root that only selects (nil: every one) and/or, with only
// nil, for the source root. Files whose copy failed on a
// destination are left out of that destination's record; a file whose
// verification failed is listed with the action "failed". Every other
// action is manifest.Write's to choose against the existing history.
//
// Where the run changed nothing and a format's manifest already records
// exactly this (manifest.Current), it is not written again: a re-run adds
// no ASC MHL generation that only repeats the newest, and says so.
func (r *runner) writeHashFiles(only func(i int) bool) error {
	if err := r.files.err(); err != nil {
		// The files' fates cannot all be read back: no list may say them.
		return fmt.Errorf("hash lists not written: %w", err)
	}
	if r.shard != nil {
		return r.shardHashFiles()
	}
	hf := r.opts.HashFiles
	if len(hf.Formats) == 0 {
		return nil
	}
	dirs := r.manifestDirs()
	// One record at a time, its entries spooled to a temporary file:
	// nothing per file is held for it in memory.
	var errs []error
	write := func(rec hashRecord, err error) {
		if err == nil {
			err = writeHashRecord(rec, hf.Formats, r.listCheck(rec.Root), r.out)
			if cerr := rec.Spool.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("hash list record of %s: %w", rec.Root, cerr)
			}
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if hf.Dest {
		for i := range r.plan.Dests {
			if (only == nil || only(i)) && r.live(i) {
				write(r.destHashRecord(i, dirs))
			}
		}
	}
	if hf.Source && only == nil {
		write(r.sourceHashRecord(dirs))
	}
	return errors.Join(errs...)
}

// listChecks are the checks of the run's hash lists begun before its
// files are known (startListChecks), by the root of their lists.
type listChecks struct {
	byRoot map[string]*manifest.CurrentCheck
	// stopped: a file was hashed (logHash), so no list can be current.
	stopped atomic.Bool
}

// stop stops the checks begun, once: a run that read a file to hash it
// changed something, and no list is checked at its end.
func (l *listChecks) stop() {
	if l != nil && !l.stopped.Swap(true) {
		for _, c := range l.byRoot {
			c.Close()
		}
	}
}

// startListChecks begins, once the destinations are known, the checks
// of their hash lists (and the source's) that a run which changes nothing
// makes at its end: in one goroutine beside the copy, one root after
// another, each reads what the check needs besides the run's record
// (manifest.CurrentCheck.ReadAhead: the ASC MHL history). The end
// (writeHashRecord) then only compares the record with it.
func (r *runner) startListChecks() {
	hf := r.opts.HashFiles
	if r.shard != nil || !slices.Contains(hf.Formats, manifest.MHL) {
		return
	}
	dirs := r.manifestDirs()
	var roots []string
	if hf.Dest {
		for i := range r.plan.Dests {
			if r.live(i) {
				roots = append(roots, r.plan.Dests[i].Root(r.plan.IsDir))
			}
		}
	}
	if hf.Source {
		roots = append(roots, r.sourceRoot())
	}
	r.lists = &listChecks{byRoot: map[string]*manifest.CurrentCheck{}}
	var checks []*manifest.CurrentCheck
	for _, root := range roots {
		if r.lists.byRoot[root] == nil {
			r.lists.byRoot[root] = manifest.NewCurrentCheck(r.listRecord(root, dirs), hf.Formats)
			checks = append(checks, r.lists.byRoot[root])
		}
	}
	go func() {
		for _, c := range checks {
			c.ReadAhead()
		}
	}()
}

// closeListChecks stops the checks begun and releases them.
func (r *runner) closeListChecks() {
	r.lists.stop()
}

// listCheck is the check begun for root, nil when none was.
func (r *runner) listCheck(root string) *manifest.CurrentCheck {
	if r.lists == nil || r.lists.stopped.Load() {
		return nil
	}
	return r.lists.byRoot[root]
}

// manifestDirs are the directories of the tree below the root, as a
// manifest.Record lists them.
func (r *runner) manifestDirs() []string {
	var dirs []string
	for _, d := range r.tree.Dirs {
		if d.Rel != "" {
			dirs = append(dirs, filepath.ToSlash(d.Rel))
		}
	}
	return dirs
}

// HashRecordOutput is where writeHashRecord says what it did.
type HashRecordOutput interface {
	Notice(path, msg string)
	Wrote(kind, path string)
}

// writeHashRecord writes rec in formats, leaving out, where the run
// changed nothing, each format whose manifest already records exactly
// that (check, begun before the run's files were known, or else
// manifest.CurrentFormats), and says so.
func writeHashRecord(rec hashRecord, formats []manifest.Format, check *manifest.CurrentCheck, out HashRecordOutput) error {
	all := formats
	if rec.unchanged {
		var current []manifest.Format
		if check != nil {
			current = check.Formats(rec.Record)
		} else {
			current = manifest.CurrentFormats(rec.Record, formats)
		}
		formats = slices.DeleteFunc(slices.Clone(formats), func(f manifest.Format) bool {
			return slices.Contains(current, f)
		})
		if len(formats) < len(all) {
			out.Notice("", fmt.Sprintf("%s: nothing changed (every file skipped with the hash of its verification record) and the hash lists already record it: %s",
				displayName(rec.Root), notRewritten(all, formats)))
		}
	}
	written, err := manifest.Write(rec.Record, formats)
	for _, p := range written {
		out.Wrote("hashfile", p)
	}
	if err != nil {
		return fmt.Errorf("writing hash files in %s: %w", rec.Root, err)
	}
	return nil
}

// notRewritten says which of all were left out of kept.
func notRewritten(all, kept []manifest.Format) string {
	var out []string
	for _, f := range all {
		if slices.Contains(kept, f) {
			continue
		}
		if f == manifest.MHL {
			out = append(out, "no new ASC MHL generation")
		} else {
			out = append(out, f.String()+" list not rewritten")
		}
	}
	return strings.Join(out, ", ")
}

// destHashRecord is the manifest record of destination i's root, its
// entries in a spool (the caller closes it).
func (r *runner) destHashRecord(i int, dirs []string) (hashRecord, error) {
	root := r.plan.Dests[i].Root(r.plan.IsDir)
	rec := r.spooledRecord(root, dirs)
	var err error
	rec.unchanged = r.destHashEntries(i, root, func(_ int, f manifest.File) {
		if err == nil {
			err = rec.Spool.Add(f)
		}
	})
	rec.Comment = r.cascadeComment(i)
	return rec, r.spoolError(rec, err)
}

// spooledRecord is the manifest record of root, without its entries
// yet: they go to its spool.
func (r *runner) spooledRecord(root string, dirs []string) hashRecord {
	rec := r.listRecord(root, dirs)
	rec.Spool = manifest.NewFileSpool()
	return hashRecord{Record: rec}
}

// listRecord is the manifest record of root without its files.
func (r *runner) listRecord(root string, dirs []string) manifest.Record {
	return manifest.Record{Root: root, Alg: r.opts.Alg, Dirs: dirs, Start: r.start, Process: "transfer",
		Ignore: r.opts.Excludes.Patterns()}
}

// spoolError is err, the error of filling rec's spool, with the spool
// closed when there is one.
func (r *runner) spoolError(rec hashRecord, err error) error {
	if err == nil {
		return nil
	}
	return errors.Join(fmt.Errorf("hash list record of %s: %w", rec.Root, err), rec.Spool.Close())
}

// destHashEntries calls add with each entry of destination i's manifest
// record (root is its root), in any order (the spool sorts them by
// path), with its index in the order of the record (the files, then the
// hard links); with --shard the index is the one in the order of the
// whole tree (shardRun.seq). It reports whether the run changed nothing
// there.
func (r *runner) destHashEntries(i int, root string, add func(seq int, f manifest.File)) (unchanged bool) {
	unchanged = true
	var fj *fileJob
	for k := range r.files.len() {
		fj = r.peekIn(fj, k)
		unchanged = unchanged && fj.hashReused() && fj.states()[i] == dsSkipped
	}
	r.hashedFiles(func(k int, rel string, h *fileHash) {
		fj = r.peekIn(fj, k)
		if fj.unlisted(i) || fj.states()[i] == dsSkipped && !fj.hashReused() {
			return
		}
		// Action is left to manifest.Write, which records "original" for
		// a file its history has never seen and "verified" or "failed"
		// against the recorded hash otherwise; only a failed verification
		// is said here.
		target := r.targetAt(fj, i, rel)
		f := manifest.File{Path: r.relIn(root, target, rel), Size: h.size, ModTime: unixTime(h.modTime), Hash: h.hash, HashDate: h.time()}
		if fj.states()[i] != dsSkipped || !fj.has(flagSkipTimesExact) {
			// The copy's own mtime (a coarser one where the filesystem
			// keeps less); a file skipped with its source's exact time,
			// as decide saw it, has it already (h.modTime).
			if fi, err := os.Stat(target); err == nil {
				f.ModTime = fi.ModTime()
			}
		}
		if fj.states()[i] == dsFailed {
			f.Action = "failed"
		}
		add(r.seq(k), f)
	})
	r.linkFiles(i, root, func(k int, f manifest.File) { add(r.seq(r.files.len()+k), f) })
	return unchanged && !r.linksMade
}

// sourceHashRecord is the manifest record of the source root, its
// entries in a spool (the caller closes it).
func (r *runner) sourceHashRecord(dirs []string) (hashRecord, error) {
	root := r.sourceRoot()
	rec := r.spooledRecord(root, dirs)
	rec.unchanged = true
	var err error
	add := func(f manifest.File) {
		if err == nil {
			err = rec.Spool.Add(f)
		}
	}
	var fj *fileJob
	for k := range r.files.len() {
		fj = r.peekIn(fj, k)
		rec.unchanged = rec.unchanged && fj.hashReused() && !fj.failed()
	}
	r.hashedFiles(func(k int, rel string, h *fileHash) {
		fj = r.peekIn(fj, k)
		if fj.srcState() == srcError {
			return
		}
		f := manifest.File{Path: r.relIn(root, r.tree.Path(rel), rel), Size: h.size, ModTime: unixTime(h.modTime), Hash: h.hash, HashDate: h.time()}
		if fj.srcState() == srcChanged {
			f.Action = "failed"
		}
		add(f)
	})
	r.linkFiles(-1, root, func(_ int, f manifest.File) { add(f) })
	return rec, r.spoolError(rec, err)
}

// sourceRoot is the root of the source's hash lists.
func (r *runner) sourceRoot() string {
	if !r.plan.IsDir {
		return filepath.Dir(r.plan.Source)
	}
	return r.plan.Source
}

// time is when the hash was taken, zero when not by this run (a reused
// hash): the manifest then gives the run's start.
func (h *fileHash) time() time.Time {
	if h.hashDate == 0 {
		return time.Time{}
	}
	return unixTime(h.hashDate)
}

// logHash records fj's source hash, with its path, in the run's hash log
// once fj is settled: the manifests read them from there at the end of
// the run (hashedFiles), and fj lets go of it.
func (r *runner) logHash(fj *fileJob) {
	if !r.opts.hashFilesWanted() || fj.h == nil || fj.h.hash == "" || fj.logged() {
		return
	}
	if !fj.hashReused() {
		// Read to be hashed: this run changes the lists.
		r.lists.stop()
	}
	h := fj.h
	b := binary.AppendUvarint(nil, uint64(fj.k))
	b = appendString(b, fj.entry().Rel)
	b = appendString(b, h.hash)
	b = binary.AppendVarint(b, h.size)
	b = binary.AppendVarint(b, h.modTime)
	b = binary.AppendVarint(b, h.hashDate)
	// An error is the log's (Err): the run fails at its end.
	r.hashLog.Append(b)
	fj.set(flagLogged, true)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// hashedFiles calls fn with every file whose source hash is known: those
// in the hash log (logHash), then those not settled yet (their
// cascade destinations wait), with the file's index, path and hash.
func (r *runner) hashedFiles(fn func(k int, rel string, h *fileHash)) {
	for rec := range r.hashLog.Records() {
		k, rel, h, err := decodeHash(rec)
		if err != nil || k >= r.files.len() {
			r.hashLog.Fail(fmt.Errorf("hash log: a record does not decode (%v)", err))
			return
		}
		fn(k, rel, &h)
	}
	unlogged := func(fj *fileJob) bool { return fj.h != nil && fj.h.hash != "" && !fj.logged() }
	var fj *fileJob
	for k := range r.files.len() {
		if fj = r.peekIn(fj, k); unlogged(fj) {
			// One more pass, for their paths.
			for k, fj := range r.jobsWhere(unlogged) {
				fn(k, fj.entry().Rel, fj.h)
			}
			return
		}
	}
}

// decodeHash decodes a record of the hash log (logHash).
func decodeHash(b []byte) (k int, rel string, h fileHash, err error) {
	var ok bool
	next := func() int64 {
		v, n := binary.Varint(b)
		ok = ok && n > 0
		if n > 0 {
			b = b[n:]
		}
		return v
	}
	str := func() string {
		l, n := binary.Uvarint(b)
		if !ok || n <= 0 || uint64(len(b)-n) < l {
			ok = false
			return ""
		}
		s := string(b[n : n+int(l)])
		b = b[n+int(l):]
		return s
	}
	uk, n := binary.Uvarint(b)
	ok = n > 0
	if ok {
		b = b[n:]
	}
	rel, h.hash = str(), str()
	h.size, h.modTime, h.hashDate = next(), next(), next()
	if !ok {
		return 0, "", h, errors.New("corrupt record")
	}
	return int(uk), rel, h, nil
}

// hashSkipped gives fj, which the manifests list with its hash, a hash
// where it is skipped: the hash of its verification records when every
// destination skips it and their records agree (recordsHash), so that
// nothing is read; otherwise the destinations that skip it re-check it
// (hash both sides), as with --verify-existing. found[i] is what decide
// found on destination i, the record it read there with it: none is read
// again.
func (r *runner) hashSkipped(fj *fileJob, found []plan.Existing) {
	var buf [4]int
	skip := buf[:0]
	for i, a := range fj.actions() {
		if a == plan.Skip && fj.err(i) == nil {
			skip = append(skip, i)
		}
	}
	if len(skip) == 0 {
		return
	}
	if len(skip) == len(fj.actions()) {
		if h, ok := r.recordsHash(fj, skip, func(i int) (plan.Record, bool) { return found[i].Record, found[i].HasRecord }); ok {
			// Kept out of memory until the copy reaches fj
			// (runner.copyFeed).
			r.reused.Append([]byte(h.Hash))
			fj.set(flagHashReused, true)
			fj.set(flagSkipTimesExact, !slices.ContainsFunc(found, func(ex plan.Existing) bool {
				return ex.Info == nil || !ex.Info.ModTime().Equal(fj.entry().ModTime)
			}))
			return
		}
	}
	for _, i := range skip {
		fj.actions()[i] = plan.Recheck
	}
}

// relIn returns path relative to root with '/' separators; rel is the
// fallback (the entry's path in the tree).
func (r *runner) relIn(root, path, rel string) string {
	// Where path is root/rel (a copy under its own name), rel is the
	// answer: no new string for each file of a manifest.
	if rel != "" && len(path) == len(root)+1+len(rel) && path[len(root)] == filepath.Separator &&
		strings.HasPrefix(path, root) && strings.HasSuffix(path, rel) {
		return filepath.ToSlash(rel)
	}
	if p, err := filepath.Rel(root, path); err == nil && !strings.HasPrefix(p, "..") {
		return filepath.ToSlash(p)
	}
	return filepath.ToSlash(rel)
}

// isVerifyFailure reports whether err is a verification failure (the file
// exists at the destination but does not match), as opposed to a copy that
// did not happen.
func isVerifyFailure(err error) bool {
	return errors.Is(err, cvv.ErrVerifyMismatch) || errors.Is(err, cvv.ErrSourceChanged)
}

// hashFilesWanted reports whether the run records hashes in manifests, which
// needs the hash of every file, skipped ones too.
func (o Options) hashFilesWanted() bool { return len(o.HashFiles.Formats) > 0 }

// linkFiles calls add with the manifest entry of each hard link of the
// tree (tree.HardLinks) below root, with its index there: on destination
// i those made there, on the source (i < 0) all whose first path was
// read. Each has the hash of the file it is a link of.
func (r *runner) linkFiles(i int, root string, add func(k int, f manifest.File)) {
	for k, h := range r.tree.HardLinks {
		fj := r.peek(h.File)
		path := r.tree.Path(h.Rel)
		switch {
		case fj.hash() == "" || fj.srcState() == srcError:
			continue
		case i >= 0 && (r.linked == nil || !r.linked[i][k]):
			continue
		case i >= 0:
			path = r.plan.Target(i, h.Rel)
		}
		add(k, manifest.File{Path: r.relIn(root, path, h.Rel), Size: fj.size(), ModTime: unixTime(fj.modTime()), Hash: fj.hash(), HashDate: fj.h.time()})
	}
}
