package checksum

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"hash"
	"hash/crc32"
	"hash/crc64"

	"github.com/minio/crc64nvme"
)

// Algorithm names one checksum algorithm. The zero value, None, means "no checksum".
type Algorithm uint8

// The algorithms S3 accepts. MD5 is only used for Content-MD5: S3 has no x-amz-checksum-md5.
const (
	None Algorithm = iota
	CRC32
	CRC32C
	CRC64NVME
	SHA1
	SHA256
	MD5
)

// crc64NVMEPoly is the CRC-64/NVME polynomial 0xad93d23594c93659 in the bit-reversed form
// hash/crc64 expects (the CRC is reflected, with initial value and final xor all ones).
const crc64NVMEPoly = 0x9a6c9329ac4bc9b5

// Tables are immutable after package initialisation; computing them once keeps New cheap.
var (
	castagnoliTable = crc32.MakeTable(crc32.Castagnoli)
)

// ErrUnknownAlgorithm is returned when a header names an algorithm S3 does not support.
var ErrUnknownAlgorithm = errors.New("checksum: unknown algorithm")

// ErrMalformed is returned when a checksum value is not the base64 encoding of a digest of
// the algorithm's size.
var ErrMalformed = errors.New("checksum: malformed value")

type algorithmInfo struct {
	name   string // wire name, as in x-amz-sdk-checksum-algorithm
	header string // x-amz-checksum-* header (and trailer) name, lower case
	size   int    // raw digest size in bytes
}

var algorithms = [...]algorithmInfo{
	None:      {"", "", 0},
	CRC32:     {"CRC32", "x-amz-checksum-crc32", crc32.Size},
	CRC32C:    {"CRC32C", "x-amz-checksum-crc32c", crc32.Size},
	CRC64NVME: {"CRC64NVME", "x-amz-checksum-crc64nvme", crc64.Size},
	SHA1:      {"SHA1", "x-amz-checksum-sha1", sha1.Size},
	SHA256:    {"SHA256", "x-amz-checksum-sha256", sha256.Size},
	MD5:       {"MD5", "content-md5", md5.Size},
}

// MaxSize is the largest raw digest size of any Algorithm.
const MaxSize = sha256.Size

// String returns the S3 name of the algorithm ("CRC32", "CRC64NVME", ...), or "" for None.
func (a Algorithm) String() string {
	if int(a) >= len(algorithms) {
		return "Algorithm(?)"
	}
	return algorithms[a].name
}

// HeaderName returns the lower-case header (and trailer) that carries a checksum of this
// algorithm: "x-amz-checksum-crc32" and so on, "content-md5" for MD5, "" for None.
func (a Algorithm) HeaderName() string {
	if int(a) >= len(algorithms) {
		return ""
	}
	return algorithms[a].header
}

// Size returns the raw digest size in bytes, or 0 for None.
func (a Algorithm) Size() int {
	if int(a) >= len(algorithms) {
		return 0
	}
	return algorithms[a].size
}

// IsCRC reports whether the algorithm is one of the CRCs, the only ones that support the
// FULL_OBJECT multipart checksum type.
func (a Algorithm) IsCRC() bool { return a == CRC32 || a == CRC32C || a == CRC64NVME }

// New returns a fresh streaming hasher for the algorithm, or nil for None or an unknown value.
func (a Algorithm) New() hash.Hash {
	switch a {
	case CRC32:
		return crc32.NewIEEE()
	case CRC32C:
		return crc32.New(castagnoliTable)
	case CRC64NVME:
		// The carry-less multiplication (PCLMULQDQ/VPCLMULQDQ) implementation: the table
		// form of hash/crc64 runs at ~1 GB/s, slower than the rest of a PUT.
		return crc64nvme.New()
	case SHA1:
		return sha1.New()
	case SHA256:
		return sha256.New()
	case MD5:
		return md5.New()
	}
	return nil
}

// ParseAlgorithm parses an algorithm name as S3 accepts it in x-amz-sdk-checksum-algorithm
// and x-amz-checksum-algorithm: one of CRC32, CRC32C, CRC64NVME, SHA1, SHA256, in any case.
// MD5 is not accepted there.
func ParseAlgorithm(name []byte) (Algorithm, error) {
	for a := CRC32; a <= SHA256; a++ {
		if equalFold(name, algorithms[a].name) {
			return a, nil
		}
	}
	return None, ErrUnknownAlgorithm
}

// AlgorithmForHeader returns the algorithm whose checksum header is name (in any case), for
// the five x-amz-checksum-<algorithm> headers. Other x-amz-checksum-* headers
// (x-amz-checksum-type, x-amz-checksum-mode, x-amz-checksum-algorithm) are not value headers
// and return false.
func AlgorithmForHeader(name []byte) (Algorithm, bool) {
	for a := CRC32; a <= SHA256; a++ {
		if equalFold(name, algorithms[a].header) {
			return a, true
		}
	}
	return None, false
}

// equalFold compares ASCII b and s case-insensitively without allocating.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
