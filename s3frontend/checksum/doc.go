// Package checksum implements the payload checksums of the S3 API: the streaming hashers for
// CRC32 (IEEE), CRC32C (Castagnoli), CRC64NVME, SHA-1 and SHA-256 that back the
// x-amz-checksum-* headers and trailers, MD5 for Content-MD5, their base64 wire form, the
// parsing of the checksum request headers, and the two multipart object checksums S3
// defines: COMPOSITE (a checksum of the part checksums, written with a "-N" suffix) and
// FULL_OBJECT (the CRC of the whole object, combined from the part CRCs without re-reading
// any data).
//
// The package knows nothing of HTTP or of S3 error codes: it reports malformed input and
// mismatches as Go errors (see ErrMalformed, ErrUnknownAlgorithm), and the S3 face maps them
// to InvalidRequest, InvalidDigest or BadDigest.
package checksum
