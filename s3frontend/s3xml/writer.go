// Package s3xml reads and writes the XML documents of the S3 API: a small append-only
// writer for the response documents (no reflection, no allocation beyond its reusable
// buffer) and strict parsers for the three request bodies the face accepts
// (CreateBucketConfiguration, Delete, CompleteMultipartUpload).
package s3xml

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// Namespace is the XML namespace of every S3 document.
const Namespace = "http://s3.amazonaws.com/doc/2006-03-01/"

// Header is the XML declaration S3 starts its documents with.
const Header = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"

// TimeFormat is the ISO 8601 form of times inside S3 documents (millisecond precision).
const TimeFormat = "2006-01-02T15:04:05.000Z"

// Writer appends an XML document to B. The zero value is ready; Reset reuses B's memory.
type Writer struct {
	B []byte
}

// Reset empties the document, keeping the buffer.
func (w *Writer) Reset() { w.B = w.B[:0] }

// Declaration appends the XML declaration.
func (w *Writer) Declaration() { w.B = append(w.B, Header...) }

// Root opens the document element with the S3 namespace.
func (w *Writer) Root(name string) {
	w.B = append(w.B, '<')
	w.B = append(w.B, name...)
	w.B = append(w.B, ` xmlns="`+Namespace+`">`...)
}

// Open opens an element.
func (w *Writer) Open(name string) {
	w.B = append(w.B, '<')
	w.B = append(w.B, name...)
	w.B = append(w.B, '>')
}

// Close closes an element.
func (w *Writer) Close(name string) {
	w.B = append(w.B, '<', '/')
	w.B = append(w.B, name...)
	w.B = append(w.B, '>')
}

// String appends <name>text</name>, escaping text.
func (w *Writer) String(name, text string) {
	w.Open(name)
	w.B = AppendEscaped(w.B, text)
	w.Close(name)
}

// Bytes is String for a []byte text.
func (w *Writer) Bytes(name string, text []byte) {
	w.Open(name)
	w.B = appendEscapedBytes(w.B, text)
	w.Close(name)
}

// Int appends <name>n</name>.
func (w *Writer) Int(name string, n int64) {
	w.Open(name)
	w.B = strconv.AppendInt(w.B, n, 10)
	w.Close(name)
}

// Bool appends <name>true</name> or <name>false</name>.
func (w *Writer) Bool(name string, v bool) {
	w.Open(name)
	w.B = strconv.AppendBool(w.B, v)
	w.Close(name)
}

// Time appends <name>2006-01-02T15:04:05.000Z</name> in UTC.
func (w *Writer) Time(name string, t time.Time) {
	w.Open(name)
	w.B = t.UTC().AppendFormat(w.B, TimeFormat)
	w.Close(name)
}

// ETag appends <name>"etag"</name>: S3 documents carry the quotes, escaped.
func (w *Writer) ETag(name, etag string) {
	w.Open(name)
	w.B = append(w.B, "&#34;"...)
	w.B = AppendEscaped(w.B, etag)
	w.B = append(w.B, "&#34;"...)
	w.Close(name)
}

// AppendEscaped appends s escaped as XML character data. Characters XML 1.0 cannot carry
// (most control characters, invalid UTF-8) are written as character references where XML
// allows them and as U+FFFD where it does not, so the document always parses.
func AppendEscaped(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			dst = appendEscapedByte(dst, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || !isXMLChar(r) {
			dst = append(dst, "\uFFFD"...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return dst
}

func appendEscapedBytes(dst, b []byte) []byte {
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			dst = appendEscapedByte(dst, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 || !isXMLChar(r) {
			dst = append(dst, "\uFFFD"...)
		} else {
			dst = append(dst, b[i:i+size]...)
		}
		i += size
	}
	return dst
}

func appendEscapedByte(dst []byte, c byte) []byte {
	switch c {
	case '<':
		return append(dst, "&lt;"...)
	case '>':
		return append(dst, "&gt;"...)
	case '&':
		return append(dst, "&amp;"...)
	case '"':
		return append(dst, "&#34;"...)
	case '\'':
		return append(dst, "&#39;"...)
	case '\t':
		return append(dst, "&#x9;"...)
	case '\n':
		return append(dst, "&#xA;"...)
	case '\r':
		return append(dst, "&#xD;"...)
	}
	if c < 0x20 {
		// Not representable in XML 1.0, not even as a reference.
		return append(dst, "\uFFFD"...)
	}
	return append(dst, c)
}

// isXMLChar reports whether r may appear in an XML 1.0 document.
func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}
