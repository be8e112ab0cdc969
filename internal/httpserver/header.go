package httpserver

import (
	"sync/atomic"

	"github.com/flashstor/flashstor/internal/arena"
	"github.com/flashstor/flashstor/internal/httpwire"
)

// ResponseHeader holds the header fields of a response. Names and values are copied into the
// request's arena, so setting a field does not allocate. Field names keep the case given.
// A field whose name is not a token or whose value holds CR, LF or another control byte is
// ignored (and counted in Stats.BadResponseFields): it cannot split the response.
type ResponseHeader struct {
	fields []Field
	arena  *arena.Arena
	bad    *atomic.Int64 // where to count rejected fields
}

func (h *ResponseHeader) reset(a *arena.Arena, bad *atomic.Int64) {
	clear(h.fields)
	h.fields = h.fields[:0]
	h.arena, h.bad = a, bad
}

// Set replaces every field named name (case-insensitive) by one with value.
func (h *ResponseHeader) Set(name, value string) {
	h.Del(name)
	h.Add(name, value)
}

// SetBytes is Set with a []byte value (copied).
func (h *ResponseHeader) SetBytes(name string, value []byte) {
	h.Del(name)
	h.AddBytes(name, value)
}

// Add appends a field.
func (h *ResponseHeader) Add(name, value string) {
	if !validName(name) || !httpwire.ValidFieldValue(unsafeBytes(value)) {
		h.bad.Add(1)
		return
	}
	h.fields = append(h.fields, Field{Name: h.arena.CopyString(name), Value: h.arena.CopyString(value)})
}

// AddBytes is Add with a []byte value (copied).
func (h *ResponseHeader) AddBytes(name string, value []byte) {
	if !validName(name) || !httpwire.ValidFieldValue(value) {
		h.bad.Add(1)
		return
	}
	h.fields = append(h.fields, Field{Name: h.arena.CopyString(name), Value: h.arena.Copy(value)})
}

// Get returns the value of the first field named name (case-insensitive), or nil.
func (h *ResponseHeader) Get(name string) []byte {
	for _, f := range h.fields {
		if equalFold(f.Name, name) {
			return f.Value
		}
	}
	return nil
}

// Del removes every field named name (case-insensitive).
func (h *ResponseHeader) Del(name string) {
	out := h.fields[:0]
	for _, f := range h.fields {
		if !equalFold(f.Name, name) {
			out = append(out, f)
		}
	}
	clear(h.fields[len(out):])
	h.fields = out
}

// Len returns the number of fields.
func (h *ResponseHeader) Len() int { return len(h.fields) }

// Field returns the i-th field, 0 <= i < Len().
func (h *ResponseHeader) Field(i int) Field { return h.fields[i] }

func validName(name string) bool { return httpwire.ValidFieldName(unsafeBytes(name)) }

// equalFold compares ASCII case-insensitively.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
