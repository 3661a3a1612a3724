package plan

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Fold is how a filesystem compares names.
type Fold uint8

// The ways of comparing names.
const (
	// FoldNone compares names byte for byte (POSIX filesystems).
	FoldNone Fold = iota
	// FoldUpcase maps each UTF-16 unit through an upcase table, without
	// normalisation, as FAT, exFAT and NTFS do: "Take.wav" and "TAKE.WAV"
	// are one name, "é" and "É" too, but "é" precomposed and "e" with a
	// combining accent are two.
	FoldUpcase
	// FoldCasefold normalises to NFD and applies Unicode case folding, as
	// the casefold directories of ext4, f2fs and tmpfs do.
	FoldCasefold
)

// DestFS is what cvv knows of a destination filesystem: which names and
// sizes it can hold and how finely it keeps modification times. The zero
// DestFS is an ordinary POSIX filesystem: names compared byte for byte, any
// size, nanosecond times.
type DestFS struct {
	// Type names the filesystem in messages: "exfat", "vfat", "ntfs3",
	// "exfat (exfat-fuse)", "fat (fusefat)", ...
	Type string
	// Fold is how the filesystem compares names (for an ext4, f2fs or tmpfs
	// filesystem, see Casefold: it is a property of each directory).
	Fold Fold
	// Casefold says the filesystem can have case-folding directories
	// (FS_CASEFOLD_FL); Fold is then FoldCasefold in those directories
	// only.
	Casefold bool
	// WindowsChars says names must be valid UTF-8 and hold none of
	// "*/:<>?\| or the control characters (FAT, exFAT; NTFS mounted with
	// windows_names).
	WindowsChars bool
	// MaxNameUTF16 is the longest name in UTF-16 units (255 on FAT, exFAT
	// and NTFS); 0 when names are limited in bytes only (NAME_MAX).
	MaxNameUTF16 int
	// ASCIINames says the driver refuses every name with a byte above 0x7F
	// (fusefat).
	ASCIINames bool
	// DropsTrailingDots says the driver strips dots from the end of a name
	// ("take." becomes "take"): such a name is refused.
	DropsTrailingDots bool
	// MaxFileSize is the size of the largest file the filesystem holds; 0
	// when there is no limit that matters (FAT32: 4 GiB - 1).
	MaxFileSize int64
	// TimeGranularity is the step of the modification times the driver
	// really keeps: FAT 2 s, exfat-fuse 1 s, exFAT (kernel) 10 ms, NTFS
	// 100 ns; 0 for nanoseconds or not known.
	TimeGranularity time.Duration
	// NoSymlinks says the filesystem cannot hold symbolic links (FAT,
	// exFAT: the drivers answer ENOSYS or EPERM).
	NoSymlinks bool
	// NoModes says the filesystem keeps no permission bits (FAT, exFAT): a
	// copy's mode is neither set nor checked there.
	NoModes bool
	// SyncFS says one syncfs(2) of the filesystem makes every write and
	// rename made before it durable, and fails when the filesystem lost
	// any write since the descriptor it is called on was opened: a local
	// journaling filesystem (ext4 with its journal, xfs, btrfs) on Linux
	// 5.8 or later, where syncfs reports writeback errors. Not FUSE, a
	// network filesystem, tmpfs, FAT or exFAT, nor ext4 without a journal
	// (its syncfs writes the directory blocks after its cache flush). A
	// tree copy makes names durable there with syncfs (copier/namesync.go).
	SyncFS bool
}

// Restricted reports whether names on fs need checking at all.
func (fs DestFS) Restricted() bool {
	return fs.Fold != FoldNone || fs.Casefold || fs.WindowsChars || fs.MaxNameUTF16 > 0 || fs.ASCIINames || fs.DropsTrailingDots || fs.MaxFileSize > 0 || fs.NoSymlinks
}

// Key returns the name the filesystem stores for name under the folding f:
// two names with the same key are one file there.
func (f Fold) Key(name string) string {
	switch f {
	case FoldUpcase:
		return strings.Map(upcase, name)
	case FoldCasefold:
		return cases.Fold().String(norm.NFD.String(name))
	}
	return name
}

// upcase maps a rune as the upcase tables of FAT, exFAT and NTFS do: a
// simple (one to one) upper-case mapping of the Basic Multilingual Plane.
func upcase(r rune) rune {
	if r > 0xFFFF {
		return r
	}
	if u := unicode.ToUpper(r); u <= 0xFFFF {
		return u
	}
	return r
}

// MaxFAT32File is the largest file FAT32 holds: 4 GiB - 1 byte.
const MaxFAT32File = 1<<32 - 1

// CheckName returns why fs refuses the name (one path component), nil if
// it can hold it.
func (fs DestFS) CheckName(name string) error {
	if fs.WindowsChars || fs.ASCIINames || fs.MaxNameUTF16 > 0 {
		if !utf8.ValidString(name) {
			return fmt.Errorf("the name is not valid UTF-8, which %s cannot store", fs.Type)
		}
	}
	if n := utf16Len(name); fs.MaxNameUTF16 > 0 && n > fs.MaxNameUTF16 {
		return fmt.Errorf("the name is %d UTF-16 units long, %s holds at most %d", n, fs.Type, fs.MaxNameUTF16)
	}
	if fs.WindowsChars {
		for _, r := range name {
			if r < 0x20 || r == 0x7F || strings.ContainsRune(`"*/:<>?\|`, r) {
				return fmt.Errorf("%s refuses the character %q in names", fs.Type, r)
			}
		}
	}
	if fs.ASCIINames {
		for _, r := range name {
			if r > 0x7F {
				return fmt.Errorf("%s refuses the non-ASCII character %q in names", fs.Type, r)
			}
		}
	}
	if fs.DropsTrailingDots && strings.HasSuffix(name, ".") {
		return fmt.Errorf("%s drops the trailing dot of names", fs.Type)
	}
	return nil
}

// CheckSize returns why fs cannot hold a file of size bytes, nil if it can.
func (fs DestFS) CheckSize(size int64) error {
	if fs.MaxFileSize > 0 && size > fs.MaxFileSize {
		return fmt.Errorf("the file has %d bytes, %s holds at most %d (4 GiB - 1) in one file", size, fs.Type, fs.MaxFileSize)
	}
	return nil
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// SameTimeOn reports whether the destination time dst records the source
// time src on a filesystem that keeps times in steps of g (0: not known,
// see SameTime). Drivers truncate or round to their step, so any dst less
// than one step away from src records it.
func SameTimeOn(src, dst time.Time, g time.Duration) bool {
	if g > 1 {
		d := src.Sub(dst)
		return d < g && d > -g
	}
	return SameTime(src, dst)
}

// TypeOr returns fs.Type, or def when the type is not known.
func (fs DestFS) TypeOr(def string) string {
	if fs.Type == "" {
		return def
	}
	return fs.Type
}
