// Package s3err is the S3 error vocabulary of the S3 face: every error code it sends, with
// its HTTP status and S3's message, and the single mapping from the errors of the object
// layer, the SigV4 verifier and the HTTP transport to those codes.
//
// Handlers never choose a status themselves: they return a Go error and From turns it into
// the *Error whose Code, Status and Message go into the <Error> document.
package s3err

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/flashstor/flashstor/internal/httpserver"
	"github.com/flashstor/flashstor/internal/httpwire"
	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/layout"
	"github.com/flashstor/flashstor/s3frontend/sigv4"
)

// Error is an S3 error response: the code and message of the <Error> document and the HTTP
// status. Extra holds further elements S3 adds to the document, in order (name, text).
// The package-level values are templates: never modify them, use With to vary a message.
type Error struct {
	Code    string
	Status  int
	Message string
	Extra   [][2]string
	// cause is the error this one was mapped from, for logs; nil for templates.
	cause error
}

// Error returns "Code: Message".
func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Unwrap returns the error e was mapped from, if any.
func (e *Error) Unwrap() error { return e.cause }

// With returns a copy of e with another message.
func (e *Error) With(message string) *Error {
	c := *e
	c.Message = message
	return &c
}

// WithExtra returns a copy of e with one more element in its document.
func (e *Error) WithExtra(name, text string) *Error {
	c := *e
	c.Extra = append(append([][2]string(nil), e.Extra...), [2]string{name, text})
	return &c
}

// wrap returns a copy of e that remembers its cause.
func (e *Error) wrap(cause error) *Error {
	c := *e
	c.cause = cause
	return &c
}

func def(code string, status int, msg string) *Error {
	return &Error{Code: code, Status: status, Message: msg}
}

// The S3 errors the face sends. Messages are S3's own where S3 has one.
var (
	AccessDenied                 = def("AccessDenied", http.StatusForbidden, "Access Denied")
	BadDigest                    = def("BadDigest", http.StatusBadRequest, "The Content-MD5 or checksum value that you specified did not match what the server received.")
	BucketAlreadyOwnedByYou      = def("BucketAlreadyOwnedByYou", http.StatusConflict, "Your previous request to create the named bucket succeeded and you already own it.")
	BucketNotEmpty               = def("BucketNotEmpty", http.StatusConflict, "The bucket you tried to delete is not empty")
	EntityTooLarge               = def("EntityTooLarge", http.StatusBadRequest, "Your proposed upload exceeds the maximum allowed object size.")
	EntityTooSmall               = def("EntityTooSmall", http.StatusBadRequest, "Your proposed upload is smaller than the minimum allowed object size.")
	IllegalLocationConstraint    = def("IllegalLocationConstraintException", http.StatusBadRequest, "The location constraint you specified is incompatible with the region this endpoint serves.")
	IncompleteBody               = def("IncompleteBody", http.StatusBadRequest, "You did not provide the number of bytes specified by the Content-Length HTTP header")
	InsufficientStorage          = def("InsufficientStorage", http.StatusInsufficientStorage, "The drives have no space left for this request.")
	InternalError                = def("InternalError", http.StatusInternalServerError, "We encountered an internal error. Please try again.")
	InvalidArgument              = def("InvalidArgument", http.StatusBadRequest, "Invalid Argument")
	InvalidBucketName            = def("InvalidBucketName", http.StatusBadRequest, "The specified bucket is not valid.")
	InvalidObjectName            = def("InvalidObjectName", http.StatusBadRequest, "Object name contains unsupported characters.")
	InvalidPart                  = def("InvalidPart", http.StatusBadRequest, "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.")
	InvalidPartOrder             = def("InvalidPartOrder", http.StatusBadRequest, "The list of parts was not in ascending order. The parts list must be specified in order by part number.")
	InvalidRange                 = def("InvalidRange", http.StatusRequestedRangeNotSatisfiable, "The requested range is not satisfiable")
	InvalidBucketState           = def("InvalidBucketState", http.StatusConflict, "The request is not valid with the current state of the bucket.")
	InvalidRequest               = def("InvalidRequest", http.StatusBadRequest, "Invalid Request")
	InvalidToken                 = def("InvalidToken", http.StatusBadRequest, "The provided token is malformed or otherwise invalid.")
	ExpiredToken                 = def("ExpiredToken", http.StatusBadRequest, "The provided token has expired.")
	MalformedPolicy              = def("MalformedPolicy", http.StatusBadRequest, "Policies must be valid JSON and the first byte must be '{'")
	NoSuchBucketPolicy           = def("NoSuchBucketPolicy", http.StatusNotFound, "The bucket policy does not exist")
	InvalidURI                   = def("InvalidURI", http.StatusBadRequest, "Couldn't parse the specified URI.")
	KeyTooLong                   = def("KeyTooLongError", http.StatusBadRequest, "Your key is too long")
	MalformedXML                 = def("MalformedXML", http.StatusBadRequest, "The XML you provided was not well-formed or did not validate against our published schema.")
	MethodNotAllowed             = def("MethodNotAllowed", http.StatusMethodNotAllowed, "The specified method is not allowed against this resource.")
	MissingContentLength         = def("MissingContentLength", http.StatusLengthRequired, "You must provide the Content-Length HTTP header.")
	NoSuchBucket                 = def("NoSuchBucket", http.StatusNotFound, "The specified bucket does not exist")
	NoSuchKey                    = def("NoSuchKey", http.StatusNotFound, "The specified key does not exist.")
	BadRequest                   = def("BadRequest", http.StatusBadRequest, "Bad Request")
	InvalidTag                   = def("InvalidTag", http.StatusBadRequest, "The tag provided was not a valid tag.")
	NoSuchCORSConfiguration      = def("NoSuchCORSConfiguration", http.StatusNotFound, "The CORS configuration does not exist")
	NoSuchLifecycleConfiguration = def("NoSuchLifecycleConfiguration", http.StatusNotFound, "The lifecycle configuration does not exist")
	NoSuchTagSet                 = def("NoSuchTagSet", http.StatusNotFound, "The TagSet does not exist")
	NoSuchVersion                = def("NoSuchVersion", http.StatusNotFound, "The specified version does not exist.")
	TooManyVersions              = def("TooManyVersions", http.StatusBadRequest, "The object has reached the limit on the number of versions it may have.")
	NoSuchUpload                 = def("NoSuchUpload", http.StatusNotFound, "The specified multipart upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.")
	NotImplemented               = def("NotImplemented", http.StatusNotImplemented, "A header or query you provided implies functionality that is not implemented.")
	PreconditionFailed           = def("PreconditionFailed", http.StatusPreconditionFailed, "At least one of the pre-conditions you specified did not hold")
	RequestTimeout               = def("RequestTimeout", http.StatusBadRequest, "Your socket connection to the server was not read from or written to within the timeout period.")
	SlowDown                     = def("SlowDown", http.StatusServiceUnavailable, "Please reduce your request rate.")
	MaxMessageLengthExceeded     = def("MaxMessageLengthExceeded", http.StatusBadRequest, "Your request was too big.")
	InvalidCopySource            = def("InvalidArgument", http.StatusBadRequest, "Copy Source must mention the source bucket and key: sourcebucket/sourcekey")
	InvalidCopyRequest           = def("InvalidRequest", http.StatusBadRequest, "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
	InvalidPartNumber            = def("InvalidArgument", http.StatusBadRequest, "Part number must be an integer between 1 and 10000, inclusive")
	InvalidEncodingType          = def("InvalidArgument", http.StatusBadRequest, "Invalid Encoding Method specified in Request")
	InvalidContinuationToken     = def("InvalidArgument", http.StatusBadRequest, "The continuation token provided is incorrect")
	InvalidMetadataDirective     = def("InvalidArgument", http.StatusBadRequest, "Unknown metadata directive.")
	InvalidCopyPartRange         = def("InvalidArgument", http.StatusBadRequest, "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy")
	NotModified                  = def("NotModified", http.StatusNotModified, "Not Modified")
	MetadataTooLarge             = def("MetadataTooLarge", http.StatusBadRequest, "Your metadata headers exceed the maximum allowed metadata size.")
	InvalidChecksumAlgorithm     = def("InvalidRequest", http.StatusBadRequest, "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]")
	InvalidChecksumType          = def("InvalidRequest", http.StatusBadRequest, "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.")
	ChecksumTypeMismatch         = def("InvalidRequest", http.StatusBadRequest, "Checksum Type mismatch occurred.")
	UnexpectedContent            = def("UnexpectedContent", http.StatusBadRequest, "This request does not support content")
)

// KeySegmentTooLong answers a key with a '/'-separated segment too long to be a file name
// on the drives (S3API.md, Known differences); its message names the limit, which S3 does
// not have.
var KeySegmentTooLong = KeyTooLong.With(fmt.Sprintf("A '/'-separated segment of your key is too long: at most %d bytes once encoded ('%%' counts 3), since each segment is a file name on the drives. Split the key with '/'.", layout.MaxSegmentLength))

// MalformedFraming answers a request body whose HTTP framing (the chunked transfer coding)
// is malformed. S3 has no code of its own for it; IncompleteBody is what it sends for a
// malformed aws-chunked body, the same fault one layer up (see sigv4's failures table).
var MalformedFraming = IncompleteBody.With("The chunked transfer coding of the request body is malformed.")

// BodyFault reports whether err is a failure of the request body on the client's side: a
// stall, a body cut short, a reset connection or malformed framing. Such a failure is the
// client's doing, not the server's, and is logged as a client error.
func BodyFault(err error) bool {
	var perr *httpwire.Error
	return errors.Is(err, httpserver.ErrBodyTimeout) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, httpserver.ErrClientReset) || errors.As(err, &perr)
}

// From maps any error a handler meets to the S3 error to send. Unknown errors become
// InternalError; the result always remembers err as its cause.
func From(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		if e.cause == nil && e != err {
			return e.wrap(err)
		}
		return e
	}
	var se *sigv4.Error
	if errors.As(err, &se) {
		out := &Error{Code: se.Code, Status: se.Status, Message: se.Message, Extra: se.Extra, cause: err}
		return out
	}
	for _, m := range objstoreErrors {
		if errors.Is(err, m.err) {
			return m.s3.wrap(err)
		}
	}
	var perr *httpwire.Error
	switch {
	case errors.Is(err, httpserver.ErrBodyTimeout):
		return RequestTimeout.wrap(err)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, httpserver.ErrClientReset):
		return IncompleteBody.wrap(err)
	case errors.As(err, &perr):
		return MalformedFraming.wrap(err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return RequestTimeout.wrap(err)
	}
	return InternalError.wrap(err)
}

// objstoreErrors maps every error of the object layer to its S3 error. The order matters
// only where one error could wrap another: the more specific comes first.
var objstoreErrors = []struct {
	err error
	s3  *Error
}{
	{objstore.ErrBucketNotFound, NoSuchBucket},
	{objstore.ErrBucketExists, BucketAlreadyOwnedByYou},
	{objstore.ErrBucketNotEmpty, BucketNotEmpty},
	{objstore.ErrInvalidBucketName, InvalidBucketName},
	{objstore.ErrNoSuchVersion, NoSuchVersion},
	{objstore.ErrMethodNotAllowed, MethodNotAllowed},
	{objstore.ErrObjectNotFound, NoSuchKey},
	{objstore.ErrObjectLocked, AccessDenied},
	{objstore.ErrTooManyVersions, TooManyVersions},
	{objstore.ErrObjectExists, PreconditionFailed},
	{objstore.ErrKeyTooLong, KeyTooLong},
	{objstore.ErrNameTooLong, KeySegmentTooLong},
	{objstore.ErrInvalidObjectName, InvalidObjectName},
	{objstore.ErrPreconditionFailed, PreconditionFailed},
	{objstore.ErrIncompleteBody, IncompleteBody},
	{objstore.ErrEntityTooLarge, EntityTooLarge},
	{objstore.ErrInvalidRange, InvalidRange},
	{objstore.ErrNoSuchUpload, NoSuchUpload},
	{objstore.ErrInvalidPartOrder, InvalidPartOrder},
	{objstore.ErrInvalidPart, InvalidPart},
	{objstore.ErrEntityTooSmall, EntityTooSmall},
	{objstore.ErrInvalidArgument, InvalidArgument},
	{objstore.ErrReadQuorum, SlowDown},
	{objstore.ErrWriteQuorum, SlowDown},
	{objstore.ErrStorageFull, InsufficientStorage},
}
