package sigv4

import (
	"errors"
	"net/http"
	"strconv"
)

// Failure names one way a request can fail verification. Each maps to exactly one row of
// the failures table: S3 error code, HTTP status, message.
type Failure uint8

// The failures, in the order of the table below.
const (
	_ Failure = iota
	FailMissingAuth
	FailUnsupportedAuth
	FailMultipleAuth
	FailHeaderMalformed
	FailWrongRegion
	FailQueryMalformed
	FailQueryWrongRegion
	FailMissingDate
	FailTimeSkewed
	FailExpired
	FailNotYetValid
	FailUnknownAccessKey
	FailSignatureMismatch
	FailUnsignedHeaders
	FailMissingContentSHA256
	FailBadContentSHA256
	FailContentSHA256Mismatch
	FailMissingDecodedLength
	FailBadDecodedLength
	FailChunkSignatureMismatch
	FailChunkTooSmall
	FailIncompleteBody
	FailMalformedTrailer
	FailUnsupportedTrailer
	FailInvalidChecksumHeader
	FailMultipleChecksums
	FailChecksumAlgorithm
	FailChecksumMismatch
	FailInvalidContentMD5
	FailContentMD5Mismatch
	FailInvalidURI
	failCount
)

// failureInfo is one row of the mapping to S3's error response.
type failureInfo struct {
	code    string
	status  int
	message string // S3's message; rows with "" build theirs from the request
}

// failures is the single mapping from Failure to what S3 answers. Messages are S3's own.
//
//	Failure                    Code                               Status  When
//	FailMissingAuth            AccessDenied                       403     no Authorization header, no X-Amz-Algorithm
//	FailUnsupportedAuth        InvalidRequest                     400     an algorithm other than AWS4-HMAC-SHA256 (e.g. SigV2)
//	FailMultipleAuth           InvalidArgument                    400     both header and query authentication
//	FailHeaderMalformed        AuthorizationHeaderMalformed       400     unparsable Authorization header or credential scope
//	FailWrongRegion            AuthorizationHeaderMalformed       400     credential scope names another region (adds <Region>)
//	FailQueryMalformed         AuthorizationQueryParametersError  400     presigned parameters missing or malformed
//	FailQueryWrongRegion       AuthorizationQueryParametersError  400     presigned credential names another region (adds <Region>)
//	FailMissingDate            AccessDenied                       403     no valid x-amz-date or Date
//	FailTimeSkewed             RequestTimeTooSkewed               403     header auth more than 15 minutes from the server clock
//	FailExpired                AccessDenied                       403     presigned URL past X-Amz-Date + X-Amz-Expires
//	FailNotYetValid            AccessDenied                       403     presigned URL dated more than 15 minutes ahead
//	FailUnknownAccessKey       InvalidAccessKeyId                 403     credential lookup failed
//	FailSignatureMismatch      SignatureDoesNotMatch              403     request signature differs
//	FailUnsignedHeaders        AccessDenied                       403     x-amz-* headers (or host) left out of SignedHeaders
//	FailMissingContentSHA256   InvalidRequest                     400     header auth without x-amz-content-sha256
//	FailBadContentSHA256       InvalidArgument                    400     x-amz-content-sha256 neither a known mode nor hex SHA-256
//	FailContentSHA256Mismatch  XAmzContentSHA256Mismatch          400     body does not hash to x-amz-content-sha256
//	FailMissingDecodedLength   MissingSecurityHeader              400     aws-chunked without x-amz-decoded-content-length
//	FailBadDecodedLength       InvalidArgument                    400     x-amz-decoded-content-length not a length
//	FailChunkSignatureMismatch SignatureDoesNotMatch              403     an aws-chunked chunk or trailer signature differs
//	FailChunkTooSmall          InvalidChunkSizeError              403     a signed chunk other than the last under 8 KiB
//	FailIncompleteBody         IncompleteBody                     400     body shorter/longer than declared, or cut or malformed framing
//	FailMalformedTrailer       MalformedTrailerError              400     declared trailer missing or unparsable
//	FailUnsupportedTrailer     InvalidRequest                     400     x-amz-trailer names no supported checksum
//	FailInvalidChecksumHeader  InvalidRequest                     400     x-amz-checksum-* value is not a digest of its size
//	FailMultipleChecksums      InvalidRequest                     400     more than one x-amz-checksum-* header
//	FailChecksumAlgorithm      InvalidRequest                     400     x-amz-sdk-checksum-algorithm unknown or without a checksum
//	FailChecksumMismatch       BadDigest                          400     body does not match x-amz-checksum-* (header or trailer)
//	FailInvalidContentMD5      InvalidDigest                      400     Content-MD5 is not a base64 MD5
//	FailContentMD5Mismatch     BadDigest                          400     body does not match Content-MD5
//	FailInvalidURI             InvalidURI                         400     the path or query has a bad percent-escape
var failures = [failCount]failureInfo{
	FailMissingAuth:            {"AccessDenied", http.StatusForbidden, "Access Denied"},
	FailUnsupportedAuth:        {"InvalidRequest", http.StatusBadRequest, "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."},
	FailMultipleAuth:           {"InvalidArgument", http.StatusBadRequest, "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified"},
	FailHeaderMalformed:        {"AuthorizationHeaderMalformed", http.StatusBadRequest, ""},
	FailWrongRegion:            {"AuthorizationHeaderMalformed", http.StatusBadRequest, ""},
	FailQueryMalformed:         {"AuthorizationQueryParametersError", http.StatusBadRequest, ""},
	FailQueryWrongRegion:       {"AuthorizationQueryParametersError", http.StatusBadRequest, ""},
	FailMissingDate:            {"AccessDenied", http.StatusForbidden, "AWS authentication requires a valid Date or x-amz-date header"},
	FailTimeSkewed:             {"RequestTimeTooSkewed", http.StatusForbidden, "The difference between the request time and the current time is too large."},
	FailExpired:                {"AccessDenied", http.StatusForbidden, "Request has expired"},
	FailNotYetValid:            {"AccessDenied", http.StatusForbidden, "Request is not valid yet"},
	FailUnknownAccessKey:       {"InvalidAccessKeyId", http.StatusForbidden, "The AWS Access Key Id you provided does not exist in our records."},
	FailSignatureMismatch:      {"SignatureDoesNotMatch", http.StatusForbidden, "The request signature we calculated does not match the signature you provided. Check your key and signing method."},
	FailUnsignedHeaders:        {"AccessDenied", http.StatusForbidden, "There were headers present in the request which were not signed"},
	FailMissingContentSHA256:   {"InvalidRequest", http.StatusBadRequest, "Missing required header for this request: x-amz-content-sha256"},
	FailBadContentSHA256:       {"InvalidArgument", http.StatusBadRequest, "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER or a valid sha256 value."},
	FailContentSHA256Mismatch:  {"XAmzContentSHA256Mismatch", http.StatusBadRequest, "The provided 'x-amz-content-sha256' header does not match what was computed."},
	FailMissingDecodedLength:   {"MissingSecurityHeader", http.StatusBadRequest, "Your request was missing a required header."},
	FailBadDecodedLength:       {"InvalidArgument", http.StatusBadRequest, "Invalid argument: x-amz-decoded-content-length must be a non-negative integer."},
	FailChunkSignatureMismatch: {"SignatureDoesNotMatch", http.StatusForbidden, "The request signature we calculated does not match the signature you provided. Check your key and signing method."},
	FailChunkTooSmall:          {"InvalidChunkSizeError", http.StatusForbidden, "Only the last chunk is allowed to have a size less than 8192 bytes"},
	FailIncompleteBody:         {"IncompleteBody", http.StatusBadRequest, "You did not provide the number of bytes specified by the Content-Length HTTP header"},
	FailMalformedTrailer:       {"MalformedTrailerError", http.StatusBadRequest, "The request contained trailing data that was not well-formed or did not conform to our published schema."},
	FailUnsupportedTrailer:     {"InvalidRequest", http.StatusBadRequest, "The value specified in the x-amz-trailer header is not supported"},
	FailInvalidChecksumHeader:  {"InvalidRequest", http.StatusBadRequest, ""},
	FailMultipleChecksums:      {"InvalidRequest", http.StatusBadRequest, "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."},
	FailChecksumAlgorithm:      {"InvalidRequest", http.StatusBadRequest, ""},
	FailChecksumMismatch:       {"BadDigest", http.StatusBadRequest, ""},
	FailInvalidContentMD5:      {"InvalidDigest", http.StatusBadRequest, "The Content-MD5 you specified was not valid."},
	FailContentMD5Mismatch:     {"BadDigest", http.StatusBadRequest, "The Content-MD5 you specified did not match what we received."},
	FailInvalidURI:             {"InvalidURI", http.StatusBadRequest, "Couldn't parse the specified URI."},
}

// Error is a verification failure as S3 reports it. Handlers write Code, Message and Extra
// into the <Error> XML document and answer with Status.
type Error struct {
	Failure Failure
	Code    string // S3 error code, e.g. "SignatureDoesNotMatch"
	Status  int    // HTTP status
	Message string // S3's message
	// Extra holds the additional elements S3 puts in the error document, in order: name
	// and text, e.g. {"HeadersNotSigned", "x-amz-meta-a"} or {"Region", "us-east-1"}.
	Extra [][2]string
}

// Error returns "Code: Message".
func (e *Error) Error() string { return e.Code + ": " + e.Message }

// newError builds the *Error of failure f with the table's message.
func newError(f Failure, extra ...[2]string) *Error {
	info := failures[f]
	return &Error{Failure: f, Code: info.code, Status: info.status, Message: info.message, Extra: extra}
}

// newErrorMsg builds the *Error of failure f with a message made for this request.
func newErrorMsg(f Failure, msg string, extra ...[2]string) *Error {
	e := newError(f, extra...)
	e.Message = msg
	return e
}

// FailureOf returns the Failure carried by err, or 0 when err is not (or does not wrap) an
// *Error.
func FailureOf(err error) Failure {
	var e *Error
	if errors.As(err, &e) {
		return e.Failure
	}
	return 0
}

// headerMalformed builds AuthorizationHeaderMalformed with S3's common message prefix.
func headerMalformed(detail string) *Error {
	return newErrorMsg(FailHeaderMalformed, "The authorization header is malformed; "+detail)
}

// queryMalformed builds AuthorizationQueryParametersError.
func queryMalformed(msg string) *Error { return newErrorMsg(FailQueryMalformed, msg) }

// credentialMalformed builds the error for a bad credential scope in the header or query.
func credentialMalformed(presigned bool, detail string) *Error {
	if presigned {
		return queryMalformed("Error parsing the X-Amz-Credential parameter; " + detail)
	}
	return headerMalformed(detail)
}

func quote(s []byte) string { return strconv.Quote(string(s)) }
