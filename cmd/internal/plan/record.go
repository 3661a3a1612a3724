package plan

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cvv-project/cvv/internal/atomicfile"
)

// Level is how strictly a copy is (or was) verified, weakest first. The
// copy command's --mode uses the same scale, so that a record left on a
// destination file can be compared with what a later run asks.
type Level int8

// The levels.
const (
	// LevelTransfer: the copy's size was checked; the in-flight source hash
	// is known.
	LevelTransfer Level = iota
	// LevelSource: the source was re-read and gave the in-flight hash, size
	// and mtime again.
	LevelSource
	// LevelFull: the source and the copy were re-read from the media and
	// both gave the in-flight hash.
	LevelFull
)

// String returns the --mode spelling of l.
func (l Level) String() string {
	switch l {
	case LevelTransfer:
		return "transfer"
	case LevelSource:
		return "source"
	case LevelFull:
		return "full"
	}
	return "Level(" + strconv.Itoa(int(l)) + ")"
}

// ParseLevel parses "transfer", "source" or "full".
func ParseLevel(s string) (Level, bool) {
	switch strings.ToLower(s) {
	case "transfer":
		return LevelTransfer, true
	case "source":
		return LevelSource, true
	case "full":
		return LevelFull, true
	}
	return 0, false
}

// Record is what cvv keeps on a destination file about the verification
// that gave it its final name: the level reached, the hash algorithm and
// source digest, and the source's size and mtime it was copied from. It is
// stored in the extended attribute RecordAttr where the filesystem has
// them; where it has not (exFAT, FAT), a file under its final name with
// the source's size and mtime counts as verified at LevelTransfer only, the
// least a final name promises (see Classify).
//
// A record only ever understates: it is written after the verification it
// describes, before the rename that gives the file its name, so a crash
// can lose it (the file is then re-verified) but never make it claim more.
type Record struct {
	Level   Level
	Alg     string // hashing.Algorithm spelling, "xxh3"
	Hash    string // hex digest of the source bytes the copy was made from
	Size    int64
	ModTime int64 // source mtime, Unix nanoseconds
}

// RecordAttr is the extended attribute that holds a Record.
const RecordAttr = atomicfile.VerifiedAttr

// recordVersion starts every stored record; a record of another version is
// ignored (the file is then re-verified, never trusted more).
const recordVersion = "1"

// String is the stored form: "1 LEVEL ALG HASH SIZE MTIME".
func (rec Record) String() string {
	return fmt.Sprintf("%s %s %s %s %d %d", recordVersion, rec.Level, rec.Alg, rec.Hash, rec.Size, rec.ModTime)
}

// ParseRecord parses the stored form; ok is false for anything else.
func ParseRecord(s string) (rec Record, ok bool) {
	var f [6]string
	if !recordFields(s, &f) || f[0] != recordVersion {
		return Record{}, false
	}
	if rec.Level, ok = ParseLevel(f[1]); !ok {
		return Record{}, false
	}
	// The hash outlives s in a run that keeps it (for its manifests):
	// its own string, not one holding the whole record.
	rec.Alg, rec.Hash = f[2], strings.Clone(f[3])
	var err1, err2 error
	rec.Size, err1 = strconv.ParseInt(f[4], 10, 64)
	rec.ModTime, err2 = strconv.ParseInt(f[5], 10, 64)
	if err1 != nil || err2 != nil || rec.Alg == "" || rec.Hash == "" {
		return Record{}, false
	}
	return rec, true
}

// recordFields splits s around white space as strings.Fields does, into
// f, without allocating: a re-run parses the record of every file. It
// reports whether s has exactly len(f) fields.
func recordFields(s string, f *[6]string) bool {
	n := 0
	for i := 0; i < len(s); {
		if c := s[i]; c >= utf8.RuneSelf {
			// Unicode white space: what strings.Fields says.
			all := strings.Fields(s)
			return len(all) == len(f) && copy(f[:], all) == len(f)
		} else if asciiSpace(c) {
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] < utf8.RuneSelf && !asciiSpace(s[j]) {
			j++
		}
		if j < len(s) && s[j] >= utf8.RuneSelf {
			all := strings.Fields(s)
			return len(all) == len(f) && copy(f[:], all) == len(f)
		}
		if n == len(f) {
			return false
		}
		f[n] = s[i:j]
		n++
		i = j
	}
	return n == len(f)
}

// asciiSpace reports whether c is an ASCII white space character, as
// unicode.IsSpace says.
func asciiSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// Of reports whether rec describes a copy of the source file e (same size
// and mtime, to the nanosecond).
func (rec Record) Of(e Entry) bool {
	return rec.Size == e.Size && rec.ModTime == e.ModTime.UnixNano()
}

// Covers reports whether rec proves a copy of e verified at least as
// strictly as pol asks: the same source, a level at least pol.Level and,
// above LevelTransfer, the same hash algorithm.
func (rec Record) Covers(e Entry, pol Policy) bool {
	if !rec.Of(e) || rec.Level < pol.Level {
		return false
	}
	return pol.Level == LevelTransfer || rec.Alg == pol.Alg
}
