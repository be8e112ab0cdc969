package checksum

import (
	"errors"
	"fmt"
	"strconv"
)

// Type is the multipart checksum type of S3's x-amz-checksum-type header.
type Type uint8

// The checksum types. TypeNone means the request did not say; S3 then uses FULL_OBJECT for
// CRC64NVME and COMPOSITE for the other algorithms (see DefaultType).
const (
	TypeNone Type = iota
	// Composite is a checksum of the part checksums: H(raw1 || raw2 || ... || rawN), sent as
	// "base64-N". S3 supports it for CRC32, CRC32C, SHA1 and SHA256.
	Composite
	// FullObject is the checksum of the whole object's bytes, computed for multipart uploads
	// by combining the part CRCs. S3 supports it for CRC32, CRC32C and CRC64NVME.
	FullObject
)

// String returns the wire form: "COMPOSITE", "FULL_OBJECT", or "" for TypeNone.
func (t Type) String() string {
	switch t {
	case Composite:
		return "COMPOSITE"
	case FullObject:
		return "FULL_OBJECT"
	}
	return ""
}

// ErrUnsupportedType is returned when an algorithm is combined with a checksum type S3 does
// not allow for it (COMPOSITE CRC64NVME, FULL_OBJECT SHA).
var ErrUnsupportedType = errors.New("checksum: type not supported for algorithm")

// ParseType parses the x-amz-checksum-type header value (COMPOSITE or FULL_OBJECT, in any
// case).
func ParseType(b []byte) (Type, error) {
	switch {
	case equalFold(b, "COMPOSITE"):
		return Composite, nil
	case equalFold(b, "FULL_OBJECT"):
		return FullObject, nil
	}
	return TypeNone, fmt.Errorf("checksum type %q: %w", b, ErrMalformed)
}

// Supports reports whether S3 accepts checksum type t with algorithm a.
func (a Algorithm) Supports(t Type) bool {
	switch t {
	case Composite:
		return a == CRC32 || a == CRC32C || a == SHA1 || a == SHA256
	case FullObject:
		return a.IsCRC()
	}
	return false
}

// DefaultType is the type S3 picks when CreateMultipartUpload names algorithm a without an
// x-amz-checksum-type: FULL_OBJECT for CRC64NVME (its only type), COMPOSITE otherwise.
func (a Algorithm) DefaultType() Type {
	if a == CRC64NVME {
		return FullObject
	}
	return Composite
}

// Part is one uploaded part as the multipart layer records it: its checksum and its size in
// bytes (the size is needed to combine CRCs into a FULL_OBJECT checksum).
type Part struct {
	Checksum Value
	Size     int64
}

// Multipart is the checksum of a completed multipart object.
type Multipart struct {
	Value Value
	Type  Type
	Parts int // number of parts, the N of a COMPOSITE "-N" suffix
}

// String returns the value as S3 sends it in x-amz-checksum-*: the base64 digest, followed
// by "-N" for a COMPOSITE checksum.
func (m Multipart) String() string {
	s := m.Value.Base64()
	if m.Type == Composite {
		s += "-" + strconv.Itoa(m.Parts)
	}
	return s
}

// Combine computes the checksum of a multipart object of type t from its parts, in part
// order. Every part must carry a checksum of the same algorithm, one that supports t.
// COMPOSITE hashes the concatenated raw part digests; FULL_OBJECT combines the part CRCs
// (the result equals the CRC of the concatenated part bytes).
func Combine(t Type, parts []Part) (Multipart, error) {
	if len(parts) == 0 {
		return Multipart{}, errors.New("checksum: no parts to combine")
	}
	a := parts[0].Checksum.Algorithm
	if !a.Supports(t) {
		return Multipart{}, fmt.Errorf("%s %s: %w", t, a, ErrUnsupportedType)
	}
	for i := range parts {
		if parts[i].Checksum.Algorithm != a {
			return Multipart{}, fmt.Errorf("checksum: part %d is %s, part 1 is %s", i+1, parts[i].Checksum.Algorithm, a)
		}
	}
	switch t {
	case Composite:
		h := a.New()
		for i := range parts {
			h.Write(parts[i].Checksum.Raw())
		}
		return Multipart{Value: Sum(a, h), Type: t, Parts: len(parts)}, nil
	default: // FullObject
		m := a.crcModel()
		crc := parts[0].Checksum.crcValue()
		for i := 1; i < len(parts); i++ {
			if parts[i].Size < 0 {
				return Multipart{}, fmt.Errorf("checksum: part %d has negative size %d", i+1, parts[i].Size)
			}
			crc = m.combine(crc, parts[i].Checksum.crcValue(), parts[i].Size)
		}
		return Multipart{Value: crcToValue(a, crc), Type: t, Parts: len(parts)}, nil
	}
}
