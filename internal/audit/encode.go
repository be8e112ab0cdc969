package audit

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendJSON appends r as one JSON object and a newline to dst and returns the extended
// buffer. It allocates only when dst must grow. The output is byte for byte what
// encoding/json's Marshal gives for r with its Time in UTC (strings escaped the same way,
// HTML-sensitive characters and U+2028/U+2029 included, invalid UTF-8 replaced by U+FFFD),
// so that any JSON reader decodes it.
func AppendJSON(dst []byte, r *Record) []byte {
	dst = append(dst, `{"time":"`...)
	dst = r.Time.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","requestID":`...)
	dst = appendString(dst, r.RequestID)
	dst = append(dst, `,"remoteAddr":"`...)
	if r.RemoteAddr.IsValid() {
		dst = r.RemoteAddr.AppendTo(dst) // digits, dots, colons, brackets, and a zone that is escaped below
	}
	dst = append(dst, `","accessKey":`...)
	dst = appendString(dst, r.AccessKey)
	dst = append(dst, `,"operation":`...)
	dst = appendString(dst, r.Operation)
	dst = append(dst, `,"bucket":`...)
	dst = appendString(dst, r.Bucket)
	dst = append(dst, `,"key":`...)
	dst = appendString(dst, r.Key)
	dst = append(dst, `,"status":`...)
	dst = strconv.AppendInt(dst, int64(r.Status), 10)
	dst = append(dst, `,"errorCode":`...)
	dst = appendString(dst, r.ErrorCode)
	dst = append(dst, `,"bytesIn":`...)
	dst = strconv.AppendInt(dst, r.BytesIn, 10)
	dst = append(dst, `,"bytesOut":`...)
	dst = strconv.AppendInt(dst, r.BytesOut, 10)
	dst = append(dst, `,"durationNs":`...)
	dst = strconv.AppendInt(dst, int64(r.Duration), 10)
	dst = append(dst, `,"authNs":`...)
	dst = strconv.AppendInt(dst, int64(r.Auth), 10)
	dst = append(dst, `,"lockWaitNs":`...)
	dst = strconv.AppendInt(dst, int64(r.LockWait), 10)
	dst = append(dst, `,"storageNs":`...)
	dst = strconv.AppendInt(dst, int64(r.Storage), 10)
	dst = append(dst, `,"responseNs":`...)
	dst = strconv.AppendInt(dst, int64(r.Response), 10)
	dst = append(dst, `,"lockHeldNs":`...)
	dst = strconv.AppendInt(dst, int64(r.LockHeld), 10)
	return append(dst, "}\n"...)
}

const hexDigits = "0123456789abcdef"

// jsonSafe reports whether an ASCII byte is copied as it is inside a JSON string.
// '<', '>' and '&' are escaped, as encoding/json does, so that a log line pasted into
// HTML cannot open a tag.
func jsonSafe(b byte) bool {
	return b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&'
}

// appendString appends s as a quoted JSON string.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0 // s[start:i] is pending, to be copied as it is
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if jsonSafe(b) {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default: // other control bytes and <, >, &
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		// U+2028 and U+2029 are valid JSON but end a line in JavaScript.
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
