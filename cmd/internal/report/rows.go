package report

import (
	"encoding/json"
	"strconv"
)

// maxPageRows bounds the rows the HTML page inlines: a browser opens a
// page of 100,000 rows; one of ten million (about 780 MB) it does not.
// The page lists the failed files first, then the others in path order;
// the CSV has every row.
const maxPageRows = 100_000

// rowKey orders the rows for the page: the failed ones first, then by
// their place in path order (Row.Seq).
func rowKey(r *Row) int64 {
	k := r.Seq & (1<<62 - 1)
	if !r.failed() {
		k |= 1 << 62
	}
	return k
}

// shownRows are the keys of the rows the page lists, chosen as the rows
// are added: the smallest of those seen, at most maxPageRows of them (8
// bytes each), in a heap whose top is the largest. Once a key was let go
// (dropped), only one smaller than the top comes in.
type shownRows struct {
	keys    []int64
	dropped bool
}

// add considers the row of key k.
func (h *shownRows) add(k int64) {
	if len(h.keys) < maxPageRows {
		h.keys = append(h.keys, k)
		h.up(len(h.keys) - 1)
		return
	}
	h.dropped = true
	if k < h.keys[0] {
		h.keys[0] = k
		h.down(0)
	}
}

// up moves the key at i up the heap to its place: container/heap's up,
// on int64 keys, with no interface call nor a key boxed for each row.
func (h *shownRows) up(i int) {
	keys := h.keys
	for i > 0 {
		p := (i - 1) / 2
		if keys[p] >= keys[i] {
			return
		}
		keys[p], keys[i] = keys[i], keys[p]
		i = p
	}
}

// down moves the key at i down the heap to its place.
func (h *shownRows) down(i int) {
	keys := h.keys
	for {
		c := 2*i + 1
		if c >= len(keys) {
			return
		}
		if r := c + 1; r < len(keys) && keys[r] > keys[c] {
			c = r
		}
		if keys[i] >= keys[c] {
			return
		}
		keys[i], keys[c] = keys[c], keys[i]
		i = c
	}
}

// shows reports whether the page lists the row of key k, given that n
// rows were listed before it: all of them while none was dropped, else
// those not after the largest key kept.
func (h *shownRows) shows(k int64, n int) bool {
	return !h.dropped || n < len(h.keys) && k <= h.keys[0]
}

// appendRowJSON appends r as the page inlines it, as encoding/json (with
// HTML escaping: the rows are inside a <script> element) encodes
// [path, size, hash, source, [dest statuses], error].
func appendRowJSON(b []byte, r *Row) []byte {
	b = append(b, '[')
	b = appendJSONString(b, r.Path)
	b = append(b, ',')
	b = strconv.AppendInt(b, r.Size, 10)
	b = append(b, ',')
	b = appendJSONString(b, r.Hash)
	b = append(b, ',')
	b = appendJSONString(b, r.Source)
	b = append(b, ",["...)
	for i, d := range r.Dests {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, d.Status)
	}
	b = append(b, "],"...)
	b = appendJSONString(b, r.Error)
	return append(b, ']')
}

// appendJSONString appends s as encoding/json does with HTML escaping:
// as it is, quoted, when every byte is printable ASCII that needs no
// escape; through encoding/json otherwise.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
