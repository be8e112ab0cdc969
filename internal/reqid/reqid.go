// Package reqid makes request ids: the x-amz-request-id every response carries, the same
// id that goes into the request's audit record and the server's log lines.
//
// An id is 16 upper-case hexadecimal digits, as AWS S3 sends. Ids from one Generator are
// all distinct (the 64-bit value is a bijective mix of a counter, so no two counter values
// give the same id before 2^64 requests) and reveal neither the request count nor the
// time; a random start point makes ids from different processes or restarts unlikely to
// meet. Next neither locks nor allocates.
package reqid

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"unsafe"
)

// Len is the length of an id in bytes.
const Len = 16

// ID is a request id: Len ASCII upper-case hexadecimal digits.
type ID [Len]byte

// String returns the id as a string (allocating a copy).
func (id ID) String() string { return string(id[:]) }

// View returns the id as a string that shares id's memory, without allocating: it is
// valid only while *id is alive and unchanged, for calls that copy what they keep (such
// as audit.Producer.Emit).
func (id *ID) View() string { return unsafe.String(&id[0], Len) }

// Generator makes request ids. Its methods are safe for concurrent use.
type Generator struct {
	seed uint64
	n    atomic.Uint64
}

// New returns a generator with a random start point.
func New() (*Generator, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("reqid: random seed: %w", err)
	}
	return &Generator{seed: binary.LittleEndian.Uint64(b[:])}, nil
}

// Next returns a new id.
func (g *Generator) Next() ID {
	v := mix(g.seed + g.n.Add(1))
	var id ID
	const digits = "0123456789ABCDEF"
	for i := Len - 1; i >= 0; i-- {
		id[i] = digits[v&0xF]
		v >>= 4
	}
	return id
}

// mix is the finalizer of SplitMix64: a bijection on 64-bit values (each step, an
// xor-shift or a multiplication by an odd constant, can be undone) that spreads every
// input bit over the output.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xBF58476D1CE4E5B9
	x ^= x >> 27
	x *= 0x94D049BB133111EB
	x ^= x >> 31
	return x
}
