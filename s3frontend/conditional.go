package s3frontend

import (
	"net/http"
	"strconv"
	"time"

	"github.com/flashstor/flashstor/s3frontend/s3err"
)

// byteRange is a resolved, satisfiable byte range of an object.
type byteRange struct {
	off, length int64
}

// parseRange resolves a Range header against an object of size bytes, as S3 does: one
// range only, "bytes=first-last", "bytes=first-" or "bytes=-suffix". It returns ok false when
// the header should be ignored (syntax S3 does not understand: the whole object is sent),
// and InvalidRange when the range is well-formed but not satisfiable.
func parseRange(v []byte, size int64) (r byteRange, ok bool, err error) {
	const prefix = "bytes="
	if len(v) < len(prefix) || string(v[:len(prefix)]) != prefix {
		return byteRange{}, false, nil
	}
	spec := v[len(prefix):]
	dash := -1
	for i, c := range spec {
		switch {
		case c == '-' && dash < 0:
			dash = i
		case c >= '0' && c <= '9':
		default:
			return byteRange{}, false, nil // several ranges, spaces, junk: ignored
		}
	}
	if dash < 0 {
		return byteRange{}, false, nil
	}
	first, last := spec[:dash], spec[dash+1:]
	switch {
	case len(first) == 0 && len(last) == 0:
		return byteRange{}, false, nil
	case len(first) == 0: // suffix
		n, good := parseDigits(last)
		if !good {
			return byteRange{}, false, nil
		}
		if n == 0 || size == 0 {
			return byteRange{}, false, s3err.InvalidRange
		}
		n = min(n, size)
		return byteRange{off: size - n, length: n}, true, nil
	}
	a, good := parseDigits(first)
	if !good {
		return byteRange{}, false, nil
	}
	b := int64(-1)
	if len(last) > 0 {
		if b, good = parseDigits(last); !good {
			return byteRange{}, false, nil
		}
		if b < a {
			return byteRange{}, false, nil // RFC 9110: an invalid range is ignored
		}
	}
	if a >= size {
		return byteRange{}, false, s3err.InvalidRange
	}
	if b < 0 || b >= size {
		b = size - 1
	}
	return byteRange{off: a, length: b - a + 1}, true, nil
}

// parseDigits parses a non-negative decimal that fits in an int64.
func parseDigits(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// conditions are the conditional request headers of a GET or HEAD (or, with the
// x-amz-copy-source-if-* names, of a copy's source).
type conditions struct {
	ifMatch, ifNoneMatch             []byte
	ifModifiedSince, ifUnmodifiedSin []byte
}

// check evaluates the conditions against an object's ETag and modification time in the
// order RFC 9110 §13.2.2 and S3 use: If-Match, else If-Unmodified-Since; then
// If-None-Match, else If-Modified-Since. It returns nil, PreconditionFailed (412) or
// NotModified (304; forCopy turns it into 412, as S3 does for copy sources).
func (cd *conditions) check(etag string, mod time.Time, forCopy bool) *s3err.Error {
	mod = mod.Truncate(time.Second) // HTTP dates have second precision
	if cd.ifMatch != nil {
		if !etagMatches(cd.ifMatch, etag) {
			return s3err.PreconditionFailed
		}
	} else if t, ok := parseHTTPDate(cd.ifUnmodifiedSin); ok && mod.After(t) {
		return s3err.PreconditionFailed
	}
	notModified := s3err.NotModified
	if forCopy {
		notModified = s3err.PreconditionFailed
	}
	if cd.ifNoneMatch != nil {
		if etagMatches(cd.ifNoneMatch, etag) {
			return notModified
		}
	} else if t, ok := parseHTTPDate(cd.ifModifiedSince); ok && !mod.After(t) {
		return notModified
	}
	return nil
}

// etagMatches reports whether an If-Match/If-None-Match list names etag (unquoted) or is
// "*". Weak validators match on their opaque tag, as S3 compares them.
func etagMatches(list []byte, etag string) bool {
	for len(list) > 0 {
		item := list
		if i := indexComma(list); i >= 0 {
			item, list = list[:i], list[i+1:]
		} else {
			list = nil
		}
		item = trimSpace(item)
		if len(item) >= 2 && item[0] == 'W' && item[1] == '/' {
			item = item[2:]
		}
		if string(item) == "*" {
			return true
		}
		if len(item) >= 2 && item[0] == '"' && item[len(item)-1] == '"' {
			item = item[1 : len(item)-1]
		}
		if string(item) == etag {
			return true
		}
	}
	return false
}

// parseHTTPDate parses an HTTP date in any of the three forms RFC 9110 allows; false when
// absent or unparsable (an unparsable date is ignored, as RFC 9110 requires).
func parseHTTPDate(v []byte) (time.Time, bool) {
	if len(v) == 0 {
		return time.Time{}, false
	}
	t, err := http.ParseTime(string(v))
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

func indexComma(b []byte) int {
	for i, c := range b {
		if c == ',' {
			return i
		}
	}
	return -1
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// appendContentRange appends "bytes first-last/size".
func appendContentRange(dst []byte, r byteRange, size int64) []byte {
	dst = append(dst, "bytes "...)
	dst = strconv.AppendInt(dst, r.off, 10)
	dst = append(dst, '-')
	dst = strconv.AppendInt(dst, r.off+r.length-1, 10)
	dst = append(dst, '/')
	return strconv.AppendInt(dst, size, 10)
}
