package meta

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"
)

// ErrCorrupt is returned for bytes that are not a well-formed record of this format.
var ErrCorrupt = errors.New("metadata corrupt")

// ErrVersion is returned for a record written by a newer format version than this binary reads.
var ErrVersion = errors.New("metadata format version not supported")

// Bounds that keep a corrupt or hostile record from making the decoder allocate without end.
const (
	maxParts        = 10000
	maxMetaEntries  = 1 << 12
	maxHeaderLength = 8 << 20
	maxShards       = 255
)

// encoder appends the primitive fields of a record to a buffer.
type encoder struct{ b []byte }

func (e *encoder) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) varint(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) byte(v uint8)     { e.b = append(e.b, v) }
func (e *encoder) bytes(v []byte)   { e.uvarint(uint64(len(v))); e.b = append(e.b, v...) }
func (e *encoder) string(v string)  { e.uvarint(uint64(len(v))); e.b = append(e.b, v...) }
func (e *encoder) id(v [16]byte)    { e.b = append(e.b, v[:]...) }
func (e *encoder) time(t time.Time) {
	if t.IsZero() {
		e.varint(math.MinInt64)
		return
	}
	e.varint(t.UnixNano())
}

// stringMap writes m sorted by key, so that equal maps encode to equal bytes.
func (e *encoder) stringMap(m map[string]string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	e.uvarint(uint64(len(keys)))
	for _, k := range keys {
		e.string(k)
		e.string(m[k])
	}
}

// decoder reads the primitive fields of a record; the first error sticks and every later read
// returns a zero value, so that decoding functions check err once at the end.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: bad %s", ErrCorrupt, what)
	}
	d.b = nil
}

func (d *decoder) uvarint(what string) uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint(what string) int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a length that must be at most limit.
func (d *decoder) count(what string, limit int) int {
	v := d.uvarint(what)
	if v > uint64(limit) {
		d.fail(what)
		return 0
	}
	return int(v)
}

func (d *decoder) byte(what string) uint8 {
	if len(d.b) < 1 {
		d.fail(what)
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) bytes(what string) []byte {
	n := d.count(what, len(d.b))
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) string(what string) string { return string(d.bytes(what)) }

// stringLike reads a string, returning like itself when equal, without a copy.
func (d *decoder) stringLike(what, like string) string {
	b := d.bytes(what)
	if string(b) == like {
		return like
	}
	return string(b)
}

// equalString reads a string and reports whether it equals s.
func (d *decoder) equalString(what, s string) bool { return string(d.bytes(what)) == s }

func (d *decoder) id(what string) (v [16]byte) {
	if len(d.b) < 16 {
		d.fail(what)
		return v
	}
	copy(v[:], d.b)
	d.b = d.b[16:]
	return v
}

func (d *decoder) time(what string) time.Time {
	v := d.varint(what)
	if v == math.MinInt64 {
		return time.Time{}
	}
	return time.Unix(0, v).UTC()
}

func (d *decoder) stringMap(what string) map[string]string { return d.stringMapLike(what, nil) }

// stringMapLike reads a map, returning like itself when it holds the same entries.
func (d *decoder) stringMapLike(what string, like map[string]string) map[string]string {
	n := d.count(what, maxMetaEntries)
	if n == 0 {
		return nil
	}
	if n == len(like) {
		// The encoder writes keys in increasing order; requiring it here keeps a record
		// with a repeated key from matching a map with one more key.
		probe := *d
		same := true
		var prev []byte
		for i := 0; i < n && same; i++ {
			k := probe.bytes(what)
			v, ok := like[string(k)]
			same = ok && (i == 0 || bytes.Compare(prev, k) < 0) && probe.equalString(what, v)
			prev = k
		}
		if same && probe.err == nil {
			*d = probe
			return like
		}
	}
	// Every key and value is cut from one string copied from the entries' encoding: one
	// allocation for them all rather than two per entry.
	start := d.b
	probe := *d
	for i := 0; i < n && probe.err == nil; i++ {
		probe.bytes(what)
		probe.bytes(what)
	}
	if probe.err != nil {
		*d = probe
		return nil
	}
	all := string(start[:len(start)-len(probe.b)])
	m := make(map[string]string, n)
	for i := 0; i < n; i++ {
		k := d.substring(what, start, all)
		m[k] = d.substring(what, start, all)
	}
	return m
}

// substring reads a string that lies in start, whose bytes all begins with, and returns it
// as a substring of all, without a copy.
func (d *decoder) substring(what string, start []byte, all string) string {
	b := d.bytes(what)
	off := len(start) - len(d.b) - len(b)
	return all[off : off+len(b)]
}

// finish returns the first error, or an error if bytes are left over.
func (d *decoder) finish() error {
	if d.err != nil {
		return d.err
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%w: %d unread header bytes", ErrCorrupt, len(d.b))
	}
	return nil
}
