//go:build !linux

package plan

import "github.com/cvv-project/cvv/internal/atomicfile"

// ReadRecord returns no record: this platform keeps none (a file is known
// by its name, size and mtime only).
func ReadRecord(string) (Record, bool) { return Record{}, false }

// ReadRecordIn returns no record either.
func ReadRecordIn(*atomicfile.Dir, string) (Record, bool) { return Record{}, false }

// WriteRecord stores nothing on this platform.
func WriteRecord(string, Record) (bool, error) { return false, nil }

// WriteRecordIn stores nothing either.
func WriteRecordIn(*atomicfile.Dir, string, Record) (bool, error) { return false, nil }
