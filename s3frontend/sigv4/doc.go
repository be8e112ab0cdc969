// Package sigv4 verifies AWS Signature Version 4 on the server side, exactly as Amazon S3
// does: the Authorization header form, presigned URLs (query parameters), and the request
// payload that the signature vouches for — a hex SHA-256 in x-amz-content-sha256,
// UNSIGNED-PAYLOAD, and the aws-chunked streaming forms with chained chunk signatures and
// optional (signed or unsigned) trailing checksums. It also checks Content-MD5 and the
// x-amz-checksum-* headers and trailers, and reports the verified checksum so that it can be
// stored with the object.
//
// The package sees a request only through the small Request interface, which the
// epoll-driven server implements over []byte views into its arena (see Fields) and which
// HTTPRequest implements over net/http. A Verifier is safe for concurrent use; its hot
// path, verifying a signed GET, makes no heap allocation once its pools are warm.
//
// Every failure is an *Error that carries the S3 error code, the HTTP status and the
// message S3 sends; the table in errors.go is the single place that mapping lives.
package sigv4
