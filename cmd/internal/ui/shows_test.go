package ui

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

// TestShowsFile holds each copy printer to what its ShowsFile says: a run
// does not build the events of a file that ShowsFile says are not shown
// (the files skipped by a re-run), so an event said hidden must print
// nothing, and one said shown must print something. A failed file's
// events are always given, and the quiet text printer shows its failure.
func TestShowsFile(t *testing.T) {
	for _, o := range []Options{{}, {Quiet: true}, {JSON: true}, {JSON: true, Quiet: true}} {
		for _, done := range []bool{false, true} {
			for _, verified := range []bool{false, true} {
				name := fmt.Sprintf("json %v quiet %v done %v verified %v", o.JSON, o.Quiet, done, verified)
				var stdout, stderr bytes.Buffer
				o.Stdout, o.Stderr = &stdout, &stderr
				p := New(o)
				fs, ok := p.(FileShows)
				if !ok {
					t.Fatalf("%s: the printer does not say what it shows", name)
				}
				f := File{Rel: "a/b", Source: "src/a/b", Mode: "transfer", Alg: "xxh128", Hash: "00", Verified: verified,
					Dests: []Dest{{Path: "d/a/b", State: Skipped}}}
				if done {
					p.Done(f)
				} else {
					p.Copied(f)
				}
				printed := stdout.Len()+stderr.Len() > 0
				if want := fs.ShowsFile(done, verified); printed != want {
					t.Errorf("%s: printed %v, ShowsFile says %v: %q %q", name, printed, want, stdout.String(), stderr.String())
				}
				if o.JSON || !o.Quiet || !done {
					continue
				}
				stdout.Reset()
				f.Dests[0] = Dest{Path: "d/a/b", State: Failed, Err: errors.New("lost")}
				p.Done(f)
				if stderr.Len() == 0 {
					t.Errorf("%s: a failed file is not shown", name)
				}
			}
		}
	}
}
