package faults

import (
	"encoding/json"
	"strings"
	"testing"
)

// jsonDest is a destination in a file or verify event of cvv --json.
type jsonDest struct {
	Path   string `json:"path"`
	Status string `json:"status"`
	Error  string `json:"error"`
}

// jsonEvent is the part of a cvv --json event the fault tests read.
type jsonEvent struct {
	Event       string          `json:"event"`
	Path        string          `json:"path"`
	SourceError string          `json:"source_error"`
	RawDests    json.RawMessage `json:"dests"` // strings in start, objects in file and verify
	Dests       []jsonDest      `json:"-"`
	OK          *bool           `json:"ok"`
	Failures    int             `json:"failures"`
	Interrupted bool            `json:"interrupted"`
}

// jsonEvents parses the NDJSON stream of a run; every stdout line must be
// a JSON object with an event.
func jsonEvents(t testing.TB, r *runResult) []jsonEvent {
	t.Helper()
	var evs []jsonEvent
	for _, line := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
		if line == "" {
			continue
		}
		var ev jsonEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil || ev.Event == "" {
			t.Errorf("stdout line is not a JSON event (%v): %q", err, line)
			continue
		}
		if ev.Event == "file" || ev.Event == "verify" {
			if err := json.Unmarshal(ev.RawDests, &ev.Dests); err != nil {
				t.Errorf("%s event: bad dests (%v): %q", ev.Event, err, line)
			}
		}
		evs = append(evs, ev)
	}
	return evs
}

// destOutcome is what the events say about one file on one destination.
type destOutcome struct {
	copy, verify       string // statuses
	copyErr, verifyErr string
}

// outcomes maps relative path -> destination path (the dests of the file
// event) -> outcome, and also returns the source errors by path.
func outcomes(evs []jsonEvent) (map[string]map[string]*destOutcome, map[string]string) {
	m := map[string]map[string]*destOutcome{}
	srcErr := map[string]string{}
	get := func(rel, dest string) *destOutcome {
		if m[rel] == nil {
			m[rel] = map[string]*destOutcome{}
		}
		if m[rel][dest] == nil {
			m[rel][dest] = &destOutcome{}
		}
		return m[rel][dest]
	}
	for _, ev := range evs {
		switch ev.Event {
		case "file":
			if ev.SourceError != "" {
				srcErr[ev.Path] = ev.SourceError
			}
			for _, d := range ev.Dests {
				o := get(ev.Path, d.Path)
				o.copy, o.copyErr = d.Status, d.Error
			}
		case "verify":
			for _, d := range ev.Dests {
				o := get(ev.Path, d.Path)
				o.verify, o.verifyErr = d.Status, d.Error
			}
		}
	}
	return m, srcErr
}
