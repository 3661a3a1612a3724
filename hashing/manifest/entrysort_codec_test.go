package manifest

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/cvv-project/cvv/hashing"
)

// TestEntryCodec checks that what writeEntry writes readEntry reads back
// the same: times in any zone and none, paths shorter and longer than the
// reader's buffer (read from its buffer, or past it).
func TestEntryCodec(t *testing.T) {
	at := time.Date(2024, 2, 29, 23, 59, 58, 123456789, time.FixedZone("x", -7*3600-30*60))
	entries := []Entry{
		{Path: "a", Size: 0},
		{Path: "dir/b.mov", Size: 1 << 40, ModTime: at, Hashes: []Hash{
			{Alg: hashing.XXH3, Value: "0123456789abcdef", Action: "original", Date: at.UTC()},
			{Alg: hashing.MD5, Value: strings.Repeat("f", 32), Action: "verified"},
		}},
		{Path: strings.Repeat("long/", 100) + "c", Size: -1, ModTime: time.Unix(0, 1)},
	}
	var buf bytes.Buffer
	w := bufio.NewWriterSize(&buf, 16)
	for _, e := range entries {
		writeEntry(w, e)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReaderSize(&buf, 64) // the long path is read past the buffer
	for _, want := range entries {
		got, err := readEntry(r)
		if err != nil {
			t.Fatalf("%s: %v", want.Path, err)
		}
		if got.Path != want.Path || got.Size != want.Size || !got.ModTime.Equal(want.ModTime) || len(got.Hashes) != len(want.Hashes) {
			t.Fatalf("read back %+v, want %+v", got, want)
		}
		if _, off := got.ModTime.Zone(); !want.ModTime.IsZero() {
			if _, woff := want.ModTime.Zone(); off != woff {
				t.Errorf("%s: zone offset %d, want %d", want.Path, off, woff)
			}
		}
		for i, h := range got.Hashes {
			wh := want.Hashes[i]
			if h.Alg != wh.Alg || h.Value != wh.Value || h.Action != wh.Action || !h.Date.Equal(wh.Date) || h.Date.IsZero() != wh.Date.IsZero() {
				t.Errorf("%s: hash %d read back %+v, want %+v", want.Path, i, h, wh)
			}
		}
	}
	if _, err := readEntry(r); !errors.Is(err, io.EOF) {
		t.Errorf("after the last entry: %v, want io.EOF", err)
	}
}
