package lincheck

import (
	"encoding/binary"
	"fmt"
)

// HeaderSize is the smallest body: a body starts with its value (8 bytes) and its length
// (8 bytes), big-endian; the rest is a stream derived from the value alone. A read thus
// names the write it saw, and a body that is not wholly that write's (torn, truncated,
// spliced from two writes) is detected.
const HeaderSize = 16

// Body returns the body of value v, size bytes long (at least HeaderSize).
func Body(v Value, size int) []byte {
	size = max(size, HeaderSize)
	b := make([]byte, size)
	binary.BigEndian.PutUint64(b, uint64(v))
	binary.BigEndian.PutUint64(b[8:], uint64(size))
	fill(b[HeaderSize:], v)
	return b
}

// Identify returns the value whose body b is, or an error saying how b is not whole.
func Identify(b []byte) (Value, error) {
	if len(b) < HeaderSize {
		return 0, fmt.Errorf("body of %d bytes is shorter than its %d-byte header", len(b), HeaderSize)
	}
	v := Value(binary.BigEndian.Uint64(b))
	if n := binary.BigEndian.Uint64(b[8:]); n != uint64(len(b)) {
		return v, fmt.Errorf("body of value %x has %d bytes, its header says %d", uint64(v), len(b), n)
	}
	if off := mismatch(b[HeaderSize:], v); off >= 0 {
		return v, fmt.Errorf("body of value %x (%d bytes) differs from it at byte %d", uint64(v), len(b), HeaderSize+off)
	}
	return v, nil
}

// stream is the splitmix64 sequence seeded by v: fast, and different for every value.
type stream uint64

func (s *stream) next() uint64 {
	*s += 0x9e3779b97f4a7c15
	z := uint64(*s)
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// fill writes v's stream into b.
func fill(b []byte, v Value) {
	s := stream(v)
	var w [8]byte
	for len(b) > 0 {
		binary.LittleEndian.PutUint64(w[:], s.next())
		b = b[copy(b, w[:]):]
	}
}

// mismatch returns the offset of the first byte of b that is not v's stream, or -1.
func mismatch(b []byte, v Value) int {
	s := stream(v)
	var w [8]byte
	for off := 0; off < len(b); off += 8 {
		binary.LittleEndian.PutUint64(w[:], s.next())
		for i := 0; i < 8 && off+i < len(b); i++ {
			if b[off+i] != w[i] {
				return off + i
			}
		}
	}
	return -1
}
