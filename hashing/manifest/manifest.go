// Package manifest writes and reads the hash lists that prove a copy:
// GNU-style sums files that md5sum -c, sha1sum -c, sha256sum -c and
// xxhsum -c accept as they are, TeraCopy-style xxh lists, and ASC MHL v2
// histories (generations, chain file with C4 hashes, directory hashes).
//
// Every file is written atomically (temp file in the same directory, data,
// fsync, rename, directory fsync): a reader sees the old file or the
// complete new one. An existing ASC MHL generation is never rewritten; a
// new run adds the next generation. The readers refuse anything they cannot
// trust (malformed lines or XML, wrong namespace, a digest of the wrong
// length, a path that is absolute or climbs out of the root) with an error
// that wraps ErrCorrupt.
//
// This package never hashes file contents: the digests come from the
// engine that read the bytes.
package manifest

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"os/user"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cvv-project/cvv/hashing"
	"github.com/cvv-project/cvv/internal/atomicfile"
)

// Format is a kind of hash list.
type Format int

// The formats.
const (
	// Sums is one GNU coreutils line per file ("HASH  path"; for xxh3 the
	// "XXH3 (path) = HASH" tag line that xxhsum -c reads), in
	// Root/<rootname>.<alg>.
	Sums Format = iota
	// XXH is a TeraCopy-style list ("HASH *path"), in
	// Root/<rootname>.<alg>.xxh.
	XXH
	// MHL is an ASC MHL v2 generation in Root/ascmhl/.
	MHL
	// MHL1 is a classic MHL 1.1 file,
	// Root/<rootname>_<YYYY-MM-DD>_<HHMMSS>.mhl (see ClassicFileName).
	MHL1
)

// String returns the flag spelling of f: "sums", "xxh", "mhl" or "mhl1".
func (f Format) String() string {
	switch f {
	case Sums:
		return "sums"
	case XXH:
		return "xxh"
	case MHL:
		return "mhl"
	case MHL1:
		return "mhl1"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// The package's sentinel errors. What a caller does with them (the CLI
// makes both its bad-input exit status) is the caller's business: this
// package knows nothing of exit codes.
var (
	// ErrCorrupt is wrapped by every error about a manifest that cannot be
	// trusted.
	ErrCorrupt = errors.New("corrupt manifest")
	// ErrInvalid is wrapped by every error about a request this package
	// refuses before writing anything: an unknown format, an algorithm a
	// format cannot record, a malformed Record.
	ErrInvalid = errors.New("invalid manifest request")
)

// invalidError is an ErrInvalid whose message is its text alone, so that
// a caller can show it as it is ("unknown hash file format ...").
type invalidError struct{ msg string }

func (e *invalidError) Error() string { return e.msg }
func (e *invalidError) Unwrap() error { return ErrInvalid }

// invalidf returns an error wrapping ErrInvalid whose message is the
// formatted text (%w formats as %v does).
func invalidf(format string, args ...any) error {
	return &invalidError{msg: fmt.Errorf(format, args...).Error()}
}

// ParseFormats parses a comma-separated list such as "sums,mhl". Duplicates
// are dropped; an unknown or empty name is an error wrapping ErrInvalid.
func ParseFormats(s string) ([]Format, error) {
	var out []Format
	for _, name := range strings.Split(s, ",") {
		var f Format
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "sums", "sum":
			f = Sums
		case "xxh", "teracopy":
			f = XXH
		case "mhl", "ascmhl":
			f = MHL
		case "mhl1", "classic-mhl":
			f = MHL1
		default:
			return nil, invalidf("unknown hash file format %q (want sums, xxh, mhl or mhl1)", name)
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out, nil
}

// CheckAlgorithm reports whether every format in formats can record alg.
// ASC MHL has no sha256 or xxh32 element and classic MHL only md5, sha1,
// xxh64 and xxh32: anything else is refused with an error wrapping
// ErrInvalid.
func CheckAlgorithm(formats []Format, alg hashing.Algorithm) error {
	if alg.HexLen() == 0 {
		return invalidf("invalid hash algorithm %v", alg)
	}
	if slices.Contains(formats, MHL) && mhlElement(alg) == "" {
		return invalidf("ASC MHL has no %s: use --hash xxh3, xxh64, xxh128, md5 or sha1 with --hash-file mhl", alg)
	}
	if slices.Contains(formats, MHL1) && classicElement(alg) == "" {
		return invalidf("classic MHL has no %s: use --hash xxh64, md5, sha1 or xxh32 with --hash-file mhl1", alg)
	}
	return nil
}

// File is one file of a Record.
type File struct {
	// Path is relative to Record.Root, with '/' separators.
	Path string
	// Size is the size in bytes.
	Size int64
	// ModTime is the file's modification time.
	ModTime time.Time
	// Hash is the hex digest in Record.Alg.
	Hash string
	// Action is the ASC MHL hash action: "original", "verified" or
	// "failed". Empty lets Write decide from the existing history:
	// "original" for a file it has never seen, otherwise "verified" or
	// "failed" against the file's original hash.
	Action string
	// HashDate is when the hash was computed; zero means the Record's Start.
	HashDate time.Time
}

// Record is the set of hashes one run produced for one root.
type Record struct {
	// Root is the directory the paths are relative to. The manifests are
	// written in it (MHL in Root/ascmhl/).
	Root string
	// Alg is the algorithm of every File.Hash.
	Alg hashing.Algorithm
	// Files are the hashed files, in any order.
	Files []File
	// Spool, when set, holds the files instead of Files (which must then
	// be empty): a record too large to keep in memory. Write reads it as
	// a stream (for the ASC MHL, sums and xxh lists and classic MHL,
	// and Current; partial records read Files only) and leaves it open.
	Spool *FileSpool
	// keep, when set, maps a file of Spool to the one this record lists
	// (false to leave it out): the manifests are left out, and a child
	// history's record lists its own files with paths relative to it.
	keep func(File) (File, bool)
	// Dirs are the relative paths of the directories below Root, empty ones
	// too; parents of files are added when missing. They get ASC MHL
	// directory hashes.
	Dirs []string
	// Start is the start of the run: the time in the MHL file name (UTC)
	// and the creation date.
	Start time.Time
	// Process is the MHL process type: "transfer" for a copy, "in-place"
	// for a verification. Empty means "transfer".
	Process string
	// Ignore are the gitignore-style patterns of what the run left out,
	// recorded in the ASC MHL ignore list (with the patterns of the
	// history's newest generation, as the reference tool keeps them).
	Ignore []string
	// Finish is the end of the run (classic MHL's finish date); zero means
	// when Write is called.
	Finish time.Time
	// Host is the host name recorded as the creator; empty means this
	// machine's (os.Hostname, else "localhost").
	Host string
	// User is the user name classic MHL records; empty means the current
	// user's ($USER when it cannot be looked up, else "unknown").
	User string
	// Comment, if set, is the ASC MHL creatorinfo comment: how the files
	// got there (a cascade from another copy).
	Comment string
}

// withDefaults fills what rec leaves to Write from the clock and the
// machine. It is the one place that reads them: rendering is a pure
// function of the Record, so a generation can be reproduced.
func (rec Record) withDefaults() Record {
	now := time.Now()
	if rec.Start.IsZero() {
		rec.Start = now
	}
	if rec.Finish.IsZero() {
		rec.Finish = now
	}
	if rec.Host == "" {
		if h, err := os.Hostname(); err == nil && h != "" {
			rec.Host = h
		} else {
			rec.Host = "localhost"
		}
	}
	if rec.User == "" {
		rec.User = os.Getenv("USER")
		if u, err := user.Current(); err == nil && u.Username != "" {
			rec.User = u.Username
		}
		if rec.User == "" {
			rec.User = "unknown"
		}
	}
	return rec
}

// Write writes rec in every format of formats and returns the paths it
// wrote (for MHL the new generation and the chain file). Files and
// directories for which IsManifest is true are left out of every list.
// Everything is checked before anything is written: on a bad record,
// nothing is.
func Write(rec Record, formats []Format) (written []string, err error) {
	if len(formats) == 0 {
		return nil, nil
	}
	if err := CheckAlgorithm(formats, rec.Alg); err != nil {
		return nil, err
	}
	if err := rec.check(slices.Contains(formats, MHL) || slices.Contains(formats, MHL1)); err != nil {
		return nil, err
	}
	rec = rec.withDefaults()
	// The manifests never list themselves (a copied ascmhl/ folder, an old
	// sums file that is about to be replaced).
	rec = normalized(rec)

	// Check and read everything first so that a bad record or history
	// leaves nothing behind; each list is then rendered straight into its
	// temp file, never whole in memory.
	type out struct {
		path   string
		render func(io.Writer) error
	}
	var outs []out
	var mhlGens []*mhlOutput
	for _, f := range formats {
		switch f {
		case Sums, XXH:
			outs = append(outs, out{FileName(rec.Root, f, rec.Alg), func(w io.Writer) error { return writeSums(w, rec, f) }})
		case MHL:
			if mhlGens, err = prepareMHL(rec, formats); err != nil {
				return nil, err
			}
			defer closeHistories(mhlGens)
		case MHL1:
			p := ClassicFileName(rec.Root, rec.Start)
			if _, err := os.Lstat(p); err == nil {
				return nil, &os.PathError{Op: "write classic MHL", Path: p, Err: os.ErrExist}
			}
			outs = append(outs, out{p, func(w io.Writer) error { return writeClassic(w, rec) }})
		default:
			return nil, invalidf("invalid format %v", f)
		}
	}
	// Below the root, nothing is reached through a symlink.
	root, err := atomicfile.OpenRoot(rec.Root)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	for _, o := range outs {
		if err := writeAtomicFunc(root, o.path, o.render); err != nil {
			return written, err
		}
		written = append(written, o.path)
	}
	// Child histories first: a parent references their new generations.
	for _, g := range mhlGens {
		paths, err := g.commit(root)
		written = append(written, paths...)
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// FileName returns the path of the sums or xxh list for root and alg:
// Root/<rootname>.<alg> (footage.md5) and Root/<rootname>.<alg>.xxh. For
// MHL it returns the history directory Root/ascmhl.
func FileName(root string, f Format, alg hashing.Algorithm) string {
	switch f {
	case MHL:
		return filepath.Join(root, HistoryDir)
	case XXH:
		return filepath.Join(root, rootName(root)+"."+alg.String()+".xxh")
	}
	return filepath.Join(root, rootName(root)+"."+alg.String())
}

// IsManifest reports whether rel, a path relative to root with '/'
// separators, is one of the files this package writes there: an ascmhl
// history (the root's or a child's, at any depth, as the ASC reference
// tool's "ascmhl" ignore pattern matches) or a sums or xxh list named after
// root. Verification skips them.
func IsManifest(root, rel string) bool {
	for el := range strings.SplitSeq(rel, "/") {
		if el == HistoryDir {
			return true
		}
	}
	if strings.Contains(rel, "/") {
		return false
	}
	for _, alg := range hashing.Algorithms {
		for _, f := range []Format{Sums, XXH} {
			if rel == filepath.Base(FileName(root, f, alg)) {
				return true
			}
		}
	}
	return false
}

// rootName is the base name of root, made absolute first so that "." has
// a name too.
func rootName(root string) string {
	if abs, err := filepath.Abs(root); err == nil {
		root = abs
	}
	name := filepath.Base(root)
	if name == "/" || name == "." || name == "" {
		return "root"
	}
	return name
}

// files yields the record's files: Files, or those of Spool that keep
// keeps. An error reading Spool ends them.
func (rec *Record) files() iter.Seq2[File, error] {
	return func(yield func(File, error) bool) {
		if rec.Spool == nil {
			for _, f := range rec.Files {
				if !yield(f, nil) {
					return
				}
			}
			return
		}
		for f, err := range rec.Spool.files() {
			if err == nil && rec.keep != nil {
				var ok bool
				if f, ok = rec.keep(f); !ok {
					continue
				}
			}
			if !yield(f, err) || err != nil {
				return
			}
		}
	}
}

// hasFiles reports whether the record lists a file; an error reading
// Spool is returned.
func (rec *Record) hasFiles() (bool, error) {
	for _, err := range rec.files() {
		return err == nil, err
	}
	return false, nil
}

// check validates the record before anything is written.
func (rec *Record) check(forMHL bool) error {
	if rec.Root == "" {
		return invalidf("manifest root not set")
	}
	st, err := os.Stat(rec.Root)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return &os.PathError{Op: "write manifest", Path: rec.Root, Err: errors.New("not a directory")}
	}
	switch rec.Process {
	case "", "transfer", "in-place", "flatten":
	default:
		return invalidf("invalid MHL process %q", rec.Process)
	}
	if rec.Spool != nil && len(rec.Files) > 0 {
		return invalidf("a record has Files or a Spool, not both")
	}
	// A path twice in a Spool is found as it is sorted. The directories
	// are looked up in a sorted copy of their list, not a map.
	seen := make(map[string]bool, len(rec.Files))
	dirs := slices.Clone(rec.Dirs)
	slices.Sort(dirs)
	for f, err := range rec.files() {
		if err != nil {
			return err
		}
		if err := checkPath(f.Path); err != nil {
			return invalidf("%w", err)
		}
		if forMHL {
			if err := checkXMLText(f.Path); err != nil {
				return invalidf("ASC MHL cannot record %q: %w", f.Path, err)
			}
		}
		if seen[f.Path] {
			return invalidf("%q recorded twice", f.Path)
		}
		if rec.Spool == nil {
			seen[f.Path] = true
		}
		if _, ok := slices.BinarySearch(dirs, f.Path); ok {
			return invalidf("%q is both a file and a directory", f.Path)
		}
		if err := checkHex(f.Hash, rec.Alg); err != nil {
			return invalidf("%q: %w", f.Path, err)
		}
		switch f.Action {
		case "", "original", "verified", "failed":
		default:
			return invalidf("%q: invalid hash action %q", f.Path, f.Action)
		}
		if f.Size < 0 {
			return invalidf("%q: negative size", f.Path)
		}
	}
	for _, d := range rec.Dirs {
		if err := checkPath(d); err != nil {
			return invalidf("directory: %w", err)
		}
		if forMHL {
			if err := checkXMLText(d); err != nil {
				return invalidf("ASC MHL cannot record %q: %w", d, err)
			}
		}
	}
	return nil
}

// checkPath reports whether p is a clean relative path with '/'
// separators that stays below the root.
func checkPath(p string) error {
	switch {
	case p == "":
		return errors.New("empty path")
	case strings.ContainsRune(p, 0):
		return fmt.Errorf("path %q contains a NUL byte", p)
	case strings.HasPrefix(p, "/"):
		return fmt.Errorf("absolute path %q", p)
	}
	for el := range strings.SplitSeq(p, "/") {
		switch el {
		case "..":
			return fmt.Errorf("path %q escapes the root", p)
		case "", ".":
			return fmt.Errorf("path %q is not clean", p)
		}
	}
	if path.Clean(p) != p {
		return fmt.Errorf("path %q is not clean", p)
	}
	return nil
}

// checkHex reports whether h is a lower- or upper-case hex digest of alg.
func checkHex(h string, alg hashing.Algorithm) error {
	if len(h) != alg.HexLen() {
		return fmt.Errorf("%s digest %q has %d hex digits, want %d", alg, h, len(h), alg.HexLen())
	}
	if _, err := hex.DecodeString(h); err != nil {
		return fmt.Errorf("%s digest %q is not hex", alg, h)
	}
	return nil
}

// checkXMLText reports whether s can be written as XML 1.0 character data
// and read back unchanged.
func checkXMLText(s string) error {
	if !utf8.ValidString(s) {
		return errors.New("not valid UTF-8")
	}
	for _, r := range s {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0xFFFE || r == 0xFFFF {
			return fmt.Errorf("control character %U not allowed in XML", r)
		}
	}
	return nil
}

// writeAtomic writes data to final, a path below root, through a synced
// temp file.
func writeAtomic(root *atomicfile.Dir, final string, data []byte) error {
	return writeAtomicFunc(root, final, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// writeAtomicFunc writes what render writes to final, a path below root,
// through a buffer and a synced temp file renamed into place, reaching
// nothing below root through a symlink; a symlink at final itself is
// replaced, never written through.
func writeAtomicFunc(root *atomicfile.Dir, final string, render func(io.Writer) error) error {
	pf, err := atomicfile.CreatePending(root, final, 0)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(pf.File, 256<<10)
	if err := render(w); err != nil {
		return errors.Join(err, pf.Abort())
	}
	if err := w.Flush(); err != nil {
		return errors.Join(err, pf.Abort())
	}
	return pf.Commit(&atomicfile.SourceAttrs{Mode: 0o644, ModTime: time.Now()}, atomicfile.SyncFull)
}
