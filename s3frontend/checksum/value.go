package checksum

import (
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"hash"
)

// Value is one checksum: an algorithm and its raw digest. It is a small fixed-size value, so
// it is passed and stored without allocating.
type Value struct {
	Algorithm Algorithm
	raw       [MaxSize]byte
}

// FromRaw returns the Value of algorithm a with digest raw. It fails when len(raw) is not
// a.Size().
func FromRaw(a Algorithm, raw []byte) (Value, error) {
	if a == None || len(raw) != a.Size() {
		return Value{}, fmt.Errorf("checksum: %d-byte digest for %s: %w", len(raw), a, ErrMalformed)
	}
	var v Value
	v.Algorithm = a
	copy(v.raw[:], raw)
	return v, nil
}

// Sum returns the Value of the data written so far to h, a hasher created by a.New().
func Sum(a Algorithm, h hash.Hash) Value {
	var v Value
	v.Algorithm = a
	h.Sum(v.raw[:0])
	return v
}

// Raw returns the raw digest bytes (a.Size() of them). The slice aliases v only if v is
// addressable; callers must not keep it beyond v's lifetime.
func (v *Value) Raw() []byte { return v.raw[:v.Algorithm.Size()] }

// IsZero reports whether v holds no checksum.
func (v Value) IsZero() bool { return v.Algorithm == None }

// Equal reports, in constant time for equal algorithms, whether v and w are the same checksum.
func (v Value) Equal(w Value) bool {
	if v.Algorithm != w.Algorithm {
		return false
	}
	return subtle.ConstantTimeCompare(v.Raw(), w.Raw()) == 1
}

// AppendBase64 appends the standard (padded) base64 encoding of the digest, the form S3 uses
// on the wire, to dst.
func (v Value) AppendBase64(dst []byte) []byte {
	return base64.StdEncoding.AppendEncode(dst, v.Raw())
}

// Base64 returns the standard (padded) base64 encoding of the digest, as S3 sends it in
// x-amz-checksum-* and Content-MD5.
func (v Value) Base64() string {
	return base64.StdEncoding.EncodeToString(v.Raw())
}

// String returns "ALGORITHM:base64", for logs and test failures.
func (v Value) String() string {
	if v.Algorithm == None {
		return "none"
	}
	return v.Algorithm.String() + ":" + v.Base64()
}

// ParseBase64 decodes the base64 wire form of a checksum of algorithm a (standard padded
// encoding, as S3 requires). It returns ErrMalformed when the text is not valid base64 or
// does not decode to exactly a.Size() bytes.
func ParseBase64(a Algorithm, text []byte) (Value, error) {
	size := a.Size()
	if size == 0 {
		return Value{}, ErrUnknownAlgorithm
	}
	if len(text) != base64.StdEncoding.EncodedLen(size) {
		return Value{}, ErrMalformed
	}
	// Text of the right length can still decode to more bytes than size when its
	// padding is missing (44 characters without '=' decode to 33 bytes), so decode
	// into room for what a text of the accepted length can hold and check the count after.
	var scratch [MaxSize + 3]byte
	n, err := base64.StdEncoding.Decode(scratch[:], text)
	if err != nil || n != size {
		return Value{}, ErrMalformed
	}
	v := Value{Algorithm: a}
	copy(v.raw[:], scratch[:n])
	return v, nil
}
