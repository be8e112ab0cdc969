package httpwire

import "errors"

// ErrIncomplete is returned by ParseHead when buf does not yet hold a whole request head.
var ErrIncomplete = errors.New("httpwire: incomplete request head")

// Reason classifies why a message was rejected, for counters and logs.
type Reason uint8

// Rejection reasons. Their Status is given by Reason.Status.
const (
	ReasonNone               Reason = iota
	ReasonRequestLine               // malformed request line
	ReasonMethod                    // method is not a token
	ReasonMethodUnsupported         // a valid token that is not in the method table (501)
	ReasonVersion                   // malformed HTTP-version
	ReasonVersionUnsupported        // well-formed version other than HTTP/1.0 or HTTP/1.1 (505)
	ReasonTarget                    // request-target with a forbidden byte, form or escape
	ReasonURITooLong                // request line longer than the limit (414)
	ReasonHeaderTooLarge            // head longer than the limit, or too many fields (431)
	ReasonLineEnding                // bare CR or bare LF where CRLF is required
	ReasonObsFold                   // obsolete line folding
	ReasonFieldName                 // empty field name or a non-token byte in it
	ReasonSpaceBeforeColon          // whitespace between field name and colon
	ReasonFieldValue                // CTL (NUL, CR, ...) or DEL in a field value
	ReasonHost                      // missing (HTTP/1.1), repeated or malformed Host
	ReasonContentLength             // invalid Content-Length value
	ReasonDuplicateLength           // more than one Content-Length field
	ReasonLengthAndChunked          // Content-Length together with Transfer-Encoding
	ReasonTransferEncoding          // Transfer-Encoding other than exactly "chunked"
	ReasonExpectation               // Expect other than 100-continue (417)
	ReasonChunkSize                 // invalid or overflowing chunk size
	ReasonChunkLine                 // chunk-size line or extension too long or malformed
	ReasonTrailer                   // malformed or oversized trailer section
	numReasons
)

// NumReasons is the number of Reason values, for arrays indexed by Reason.
const NumReasons = int(numReasons)

var reasonNames = [numReasons]string{
	ReasonNone:               "none",
	ReasonRequestLine:        "request-line",
	ReasonMethod:             "method",
	ReasonMethodUnsupported:  "method-unsupported",
	ReasonVersion:            "version",
	ReasonVersionUnsupported: "version-unsupported",
	ReasonTarget:             "target",
	ReasonURITooLong:         "uri-too-long",
	ReasonHeaderTooLarge:     "header-too-large",
	ReasonLineEnding:         "line-ending",
	ReasonObsFold:            "obs-fold",
	ReasonFieldName:          "field-name",
	ReasonSpaceBeforeColon:   "space-before-colon",
	ReasonFieldValue:         "field-value",
	ReasonHost:               "host",
	ReasonContentLength:      "content-length",
	ReasonDuplicateLength:    "duplicate-content-length",
	ReasonLengthAndChunked:   "content-length-and-transfer-encoding",
	ReasonTransferEncoding:   "transfer-encoding",
	ReasonExpectation:        "expectation",
	ReasonChunkSize:          "chunk-size",
	ReasonChunkLine:          "chunk-line",
	ReasonTrailer:            "trailer",
}

// String returns a short kebab-case name, suitable as a metrics label.
func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// Status returns the HTTP status code a server answers for a message rejected for r.
func (r Reason) Status() int {
	switch r {
	case ReasonMethodUnsupported:
		return 501
	case ReasonVersionUnsupported:
		return 505
	case ReasonURITooLong:
		return 414
	case ReasonHeaderTooLarge:
		return 431
	case ReasonExpectation:
		return 417
	}
	return 400
}

// Error is a protocol error: the message is malformed, too large or unsupported. The
// connection it arrived on cannot be trusted any further and must be closed after the
// error response.
type Error struct {
	Reason Reason
}

func (e *Error) Error() string { return "httpwire: rejected request: " + e.Reason.String() }

// Status is the HTTP status code to answer with.
func (e *Error) Status() int { return e.Reason.Status() }

// errs holds one immutable *Error per reason, so rejecting allocates nothing.
var errs = func() (t [numReasons]*Error) {
	for i := range t {
		t[i] = &Error{Reason: Reason(i)}
	}
	return t
}()

func fail(r Reason) error { return errs[r] }
