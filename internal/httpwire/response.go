package httpwire

import (
	"net/http"
	"strconv"
	"time"
)

// AppendStatusLine appends "HTTP/1.1 <code> <reason>\r\n". The reason phrase is the standard
// one (empty for unknown codes, which RFC 9112 §4 permits).
func AppendStatusLine(dst []byte, code int) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(code), 10)
	dst = append(dst, ' ')
	dst = append(dst, http.StatusText(code)...)
	return append(dst, '\r', '\n')
}

// AppendField appends "name: value\r\n".
func AppendField(dst []byte, name, value []byte) []byte {
	dst = append(dst, name...)
	dst = append(dst, ':', ' ')
	dst = append(dst, value...)
	return append(dst, '\r', '\n')
}

// TimeFormat is the IMF-fixdate layout of RFC 9110 §5.6.7, for the Date field.
const TimeFormat = "Mon, 02 Jan 2006 15:04:05 GMT"

// AppendDate appends t in IMF-fixdate form.
func AppendDate(dst []byte, t time.Time) []byte {
	return t.UTC().AppendFormat(dst, TimeFormat)
}

// BodyAllowed reports whether a response with this status may carry content (RFC 9110
// §6.4.1: not 1xx, 204 or 304).
func BodyAllowed(code int) bool {
	return code >= 200 && code != 204 && code != 304
}

// ValidFieldName reports whether b is a token, as a response field name must be.
func ValidFieldName(b []byte) bool { return isToken(b) }

// ValidFieldValue reports whether b may be sent as a field value: no CTL but HTAB, no DEL.
// Handlers' header values are checked with it so they cannot split a response.
func ValidFieldValue(b []byte) bool {
	for _, c := range b {
		if charClass[c]&cValue == 0 {
			return false
		}
	}
	return true
}
