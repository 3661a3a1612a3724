package ui

import "time"

// State is where one file stands on one destination.
type State uint8

// The states of a file on a destination.
const (
	Pending State = iota // to be copied (or its check not done)
	Skipped              // existing file kept, not re-read
	Copied               // copied, not verified (yet)
	OK                   // copied (or kept) and verified
	Failed               // copy or verification failed
)

// SourceState is what a re-read of a file's source found.
type SourceState uint8

// The states of a file's source.
const (
	NotRead       SourceState = iota // not re-read
	SourceOK                         // re-read and matched
	SourceChanged                    // re-read and differs, or its size or mtime changed
	SourceError                      // could not be read
)

// String returns the JSON spelling of s ("" for NotRead).
func (s SourceState) String() string {
	switch s {
	case SourceOK:
		return "ok"
	case SourceChanged:
		return "changed"
	case SourceError:
		return "error"
	}
	return ""
}

// Start is the start of a copy, as its JSON "start" event says it.
type Start struct {
	Event       string   `json:"event"`
	Version     int      `json:"version"`
	Time        string   `json:"time"`
	Source      string   `json:"source"`
	SourceIsDir bool     `json:"source_is_dir"`
	Dests       []string `json:"dests"`
	Mode        string   `json:"mode"`
	Hash        string   `json:"hash"`
	Engine      string   `json:"engine"`
	Jobs        int      `json:"jobs"`
	VerifyAfter bool     `json:"verify_after"`
	Files       int      `json:"files"`
	Dirs        int      `json:"dirs"`
	Symlinks    int      `json:"symlinks"`
	Bytes       int64    `json:"bytes"`
	FilesToCopy int      `json:"files_to_copy"`
	BytesToCopy int64    `json:"bytes_to_copy"`
	// Writes says how each destination is written, in Dests order.
	Writes []Write `json:"writes"`
	// Shard is this process's part of a sharded job (--shard), nil when
	// the run is not sharded; Files and Bytes are then the part's.
	Shard *Shard `json:"shard,omitempty"`

	// Cascade are the destinations filled from a verified copy of the
	// others once the source is released (--cascade; added in version 1).
	Cascade []string `json:"cascade,omitempty"`

	// Names are the destinations as given (for the text legend);
	// Verbose: -v, the text says how each destination is written.
	Names   []string `json:"-"`
	Verbose bool     `json:"-"`
}

// Shard is part Index of Count of a sharded job named Job.
type Shard struct {
	Index int    `json:"index"`
	Count int    `json:"count"`
	Job   string `json:"job"`
}

// Write is how one destination is written: "direct" (O_DIRECT),
// "buffered" (the page cache, with write-behind) or "pwrite" (the portable
// engine, through the page cache), and why.
type Write struct {
	Dest string `json:"dest"`
	Path string `json:"path"`
	Why  string `json:"why"`
}

// Dest is one file on one destination.
type Dest struct {
	// Path is the copy's path (where a renamed copy went).
	Path  string
	State State
	// Hash is the hash re-read from the copy, "" if none was.
	Hash string
	// Err is why the destination failed.
	Err error
	// Reported: Err was reported once for the whole destination (it was
	// given up before the copy) and is not repeated file by file.
	Reported bool
	// RenamedFrom is the name the copy would have had (--on-conflict
	// rename put it at Path instead); Replaces describes the different
	// file the copy replaces (--on-conflict overwrite).
	RenamedFrom, Replaces string
}

// File is one file of a copy and its fate on every destination.
type File struct {
	// Rel is its path in the tree, Source its source path.
	Rel, Source string
	// Size is its size in the tree; Bytes the bytes the copy read,
	// in Elapsed.
	Size, Bytes int64
	Elapsed     time.Duration
	// Mode and Alg are the run's verification mode and hash; Hash the
	// source's hash ("" when not known).
	Mode, Alg, Hash string
	SourceState     SourceState
	// SourceErr is why the source could not be copied or verified.
	SourceErr error
	// Verified: the file's verification completed (whatever it found).
	Verified bool
	// HashReused: Hash is the one the destinations' verification records
	// hold, not a read of the source.
	HashReused bool
	Dests      []Dest
}

// Failed reports whether the file failed on its source or a destination.
func (f *File) Failed() bool {
	if f.SourceErr != nil {
		return true
	}
	for _, d := range f.Dests {
		if d.State == Failed {
			return true
		}
	}
	return false
}

// Summary is the end of a copy, as its JSON "summary" event says it, and
// what only the text line shows.
type Summary struct {
	Event         string  `json:"event"`
	Time          string  `json:"time"`
	Files         int     `json:"files"`
	FilesCopied   int     `json:"files_copied"`
	FilesSkipped  int     `json:"files_skipped"`
	FilesFailed   int     `json:"files_failed"`
	FilesVerified int64   `json:"files_verified"`
	Symlinks      int64   `json:"symlinks"`
	Dirs          int     `json:"dirs"`
	Failures      int64   `json:"failures"`
	Warnings      int64   `json:"warnings"`
	Bytes         int64   `json:"bytes"`
	BytesCopied   int64   `json:"bytes_copied"`
	Seconds       float64 `json:"seconds"`
	BytesPerSec   float64 `json:"bytes_per_sec"`
	// SourceReleased is when the run stopped reading the source, in
	// seconds after the start; nil when it did not get there
	// (interrupted first). Added in schema version 1.
	SourceReleased *float64 `json:"source_released_seconds,omitempty"`
	// Dests is how each destination ended (added in schema version 1).
	Dests       []DestSummary `json:"dests"`
	Interrupted bool          `json:"interrupted"`
	OK          bool          `json:"ok"`
	// Added in schema version 1 (fields are only added).
	FilesNotVerified int `json:"files_not_verified"`
	FilesNotStarted  int `json:"files_not_started"`
	FilesHashReused  int `json:"files_hash_reused"`

	// For the text line: the wall time, the number of destinations and
	// the verification mode; ShowRelease: say when the source was
	// released (--cascade).
	ShowRelease bool          `json:"-"`
	Elapsed     time.Duration `json:"-"`
	DestsCount  int           `json:"-"`
	Mode        string        `json:"-"`
}

// SourceReleased is the moment a copy stops reading its source, as its
// JSON "source_released" event says it: the source's data and metadata are
// no longer read, so a card may be ejected (with --cascade, before the
// cascade destinations are filled).
type SourceReleased struct {
	Event  string `json:"event"`
	Time   string `json:"time"`
	Source string `json:"source"`
	// Seconds is the time since the start of the run.
	Seconds float64 `json:"seconds"`
	// Reads is the number of times the data of each source file was
	// read at most (1 for the copy, 2 with the re-read of source and
	// full modes).
	Reads int `json:"reads"`
	// Pending are the destinations still to be filled (--cascade).
	Pending []string `json:"pending"`
}

// Cascade is the filling of one file's cascade destinations from a verified
// copy on another destination, as its JSON "cascade" event says it.
type Cascade struct {
	// Rel is its path in the tree; Size its size; Alg and Hash the source
	// hash every cascade copy is checked against.
	Rel       string
	Size      int64
	Mode, Alg string
	Hash      string
	// From is the verified copy the cascade copies were made from ("" when
	// none could be read).
	From string
	// Bytes were read from From in Elapsed.
	Bytes   int64
	Elapsed time.Duration
	// Dests are the cascade destinations (only those).
	Dests []Dest
}

// Failed reports whether a cascade destination failed.
func (c *Cascade) Failed() bool {
	for _, d := range c.Dests {
		if d.State == Failed {
			return true
		}
	}
	return false
}

// Snapshot is the state of a run's progress.
type Snapshot struct {
	// Phase is "copy" or "verify".
	Phase                 string
	BytesDone, BytesTotal int64
	FilesDone, Verified   int64
	FilesTotal            int
	// Rate is in bytes per second; ETA < 0 is unknown.
	Rate float64
	ETA  time.Duration
	// Current are (some of) the files in flight, sorted.
	Current []string
	// Verifies: the run verifies the files (the count of verified files
	// means something).
	Verifies bool
	// VerifyDone and VerifyTotal are the bytes the verification read so
	// far and is to read in all (the source and each copy in full mode),
	// at VerifyRate bytes per second; VerifyETA < 0 is unknown.
	VerifyDone, VerifyTotal int64
	VerifyRate              float64
	VerifyETA               time.Duration
	// VerifyOnly: nothing is copied (cvv verify).
	VerifyOnly bool
	// Dests is where each destination of a copy stands.
	Dests []DestProgress
}

// DestProgress is where one destination of a copy stands.
type DestProgress struct {
	// Name is the destination as given, Path its absolute path.
	Name, Path string
	// State is "writing", "verifying", "waiting", "done" or "failed" (given
	// up before the copy).
	State string
	// Bytes were handed to it so far, lately at Rate bytes per second.
	Bytes int64
	Rate  float64
	// Failed is the number of its files that failed.
	Failed int64
}

// DestSummary is how one destination of a copy ended.
type DestSummary struct {
	Path string `json:"path"`
	// Complete: every file is there and verified as asked (or rightly
	// skipped).
	Complete         bool   `json:"complete"`
	FilesOK          int    `json:"files_ok"`
	FilesSkipped     int    `json:"files_skipped"`
	FilesFailed      int    `json:"files_failed"`
	FilesNotVerified int    `json:"files_not_verified"`
	FilesNotStarted  int    `json:"files_not_started"`
	Error            string `json:"error,omitempty"`
	// Name is the destination as given (for the text line).
	Name string `json:"-"`
}

// VerifyFile is the check of one file by cvv verify, as its JSON
// "verify_file" event says it.
type VerifyFile struct {
	Event    string `json:"event"`
	Time     string `json:"time"`
	Path     string `json:"path"`
	Status   string `json:"status"`
	Hash     string `json:"hash,omitempty"`
	SizeOnly bool   `json:"size_only,omitempty"`
	Size     int64  `json:"size,omitempty"`
	Expected string `json:"expected,omitempty"`
	Actual   string `json:"actual,omitempty"`
	Error    string `json:"error,omitempty"`
}

// VerifySummary is the end of cvv verify, as its JSON "verify_summary"
// event says it, and what only the text lines show.
type VerifySummary struct {
	Event    string   `json:"event"`
	Version  int      `json:"version"`
	Time     string   `json:"time"`
	Root     string   `json:"root"`
	Against  string   `json:"against"`
	Records  []string `json:"records"`
	Hash     string   `json:"hash"`
	Engine   string   `json:"engine"`
	OK       int      `json:"ok"`
	Changed  int      `json:"changed"`
	Missing  int      `json:"missing"`
	New      int      `json:"new"`
	Errors   int      `json:"errors"`
	Recorded []string `json:"recorded,omitempty"`
	// Verified: every file matched and the record was written (false
	// with --no-record).
	Verified bool `json:"verified"`
	// Seconds is the wall time, in seconds like the copy's summary;
	// ElapsedMS, the same in milliseconds, stays for schema version 1.
	Seconds   float64 `json:"seconds"`
	ElapsedMS int64   `json:"elapsed_ms"`
	// Added in schema version 1 (fields are only added): Passed is exit
	// status 0 (every file matched; a record that a read-only filesystem
	// refused does not count); RecordError is why the generation could
	// not be written.
	Passed      bool   `json:"passed"`
	RecordError string `json:"record_error,omitempty"`

	// Files is the number of files the records list (for the text line).
	Files int `json:"-"`
}
