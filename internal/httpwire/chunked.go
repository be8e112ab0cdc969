package httpwire

import (
	"bytes"
	"io"
	"strconv"
)

// Chunked decoding limits.
const (
	// MaxChunkLine bounds a chunk-size line including extensions, CR included.
	MaxChunkLine = 1024
	// maxExcess bounds framing overhead beyond 16 bytes plus twice the data per chunk, the
	// rule net/http applies, so that tiny chunks with long extensions cannot make a body
	// mostly framing (and so that we never accept what net/http refuses).
	maxExcess = 16 << 10
	// MaxTrailerBytes bounds the whole trailer section.
	MaxTrailerBytes = 16 << 10
	// MaxTrailerFields bounds the number of trailer fields.
	MaxTrailerFields = 32
	// maxChunkDigits bounds the hex digits of a chunk size, leading zeros included: 15 digits
	// keep the value below 2^60, so no overflow is possible and no int64 can wrap.
	maxChunkDigits = 15
)

type chunkState uint8

const (
	csSize         chunkState = iota // reading hex digits (at least one seen when digits > 0)
	csExtWS                          // whitespace after the size, before ';'
	csExt                            // inside chunk extensions, until CR
	csSizeLF                         // CR of the size line seen, LF expected
	csData                           // chunk data, left bytes to go
	csDataCR                         // CR after chunk data expected
	csDataLF                         // LF after chunk data expected
	csTrailerStart                   // at the start of a trailer line or the final CRLF
	csTrailerName                    // in a trailer field name
	csTrailerValue                   // in a trailer field value, until CR
	csTrailerLF                      // CR of a trailer line seen
	csFinalLF                        // CR of the final blank line seen
	csDone                           // body complete
)

// ChunkedDecoder decodes a chunked request body (RFC 9112 §7.1) incrementally. It copies
// nothing itself besides chunk data; framing is validated byte by byte so input may be split
// anywhere. Trailer fields are validated and kept (at most MaxTrailerFields fields in
// MaxTrailerBytes), for Trailer and AppendTrailers once the body is done: a sender may
// put there what it knows only at the end, such as a digest of the body or the news that
// its source failed. The zero value is ready to use.
type ChunkedDecoder struct {
	state   chunkState
	left    int64 // data bytes left in the current chunk (csData)
	size    int64 // chunk size being parsed
	digits  int   // hex digits read for size
	lineLen int   // bytes of the current size line, or of the trailer section
	excess  int64 // framing overhead not yet paid for by data (see maxExcess)
	last    bool  // the size line being parsed announced the last chunk
	// trail holds the trailer lines as received, each ending in CRLF, the final blank
	// line excluded; fields counts the complete ones. Its capacity survives Reset.
	trail  []byte
	fields int
}

// Reset makes d ready for a new body, keeping the memory of its trailer buffer.
func (d *ChunkedDecoder) Reset() { *d = ChunkedDecoder{trail: d.trail[:0]} }

// Trailer returns the value of the first trailer field named name (case-insensitive), with
// surrounding whitespace removed, or nil if there is none or the body is not done. The
// result is a view into d, valid until d decodes again or is Reset.
func (d *ChunkedDecoder) Trailer(name string) []byte {
	if d.state != csDone {
		return nil
	}
	for rest := d.trail; len(rest) > 0; {
		var f Field
		f, rest = nextTrailer(rest)
		if equalFoldBoth(f.Name, name) {
			return f.Value
		}
	}
	return nil
}

// AppendTrailers appends every trailer field, in order received, to dst (nothing if the
// body is not done). The fields are views into d, as Trailer's.
func (d *ChunkedDecoder) AppendTrailers(dst []Field) []Field {
	if d.state != csDone {
		return dst
	}
	for rest := d.trail; len(rest) > 0; {
		var f Field
		f, rest = nextTrailer(rest)
		dst = append(dst, f)
	}
	return dst
}

// equalFoldBoth reports whether b and s are equal ignoring ASCII case in both.
func equalFoldBoth(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

// nextTrailer splits the first line of a trailer buffer (validated by trailer: a token, a
// colon, a value, CRLF).
func nextTrailer(b []byte) (Field, []byte) {
	eol := bytes.Index(b, crlf)
	line := b[:eol]
	colon := bytes.IndexByte(line, ':')
	return Field{Name: line[:colon], Value: trimOWS(line[colon+1:])}, b[eol+2:]
}

// Done reports whether the whole body, trailers included, has been decoded.
func (d *ChunkedDecoder) Done() bool { return d.state == csDone }

// DataLeft returns how many bytes of chunk data can be read directly (bypassing Decode)
// before framing must be parsed again; 0 when the decoder is inside framing.
func (d *ChunkedDecoder) DataLeft() int64 {
	if d.state == csData {
		return d.left
	}
	return 0
}

// ConsumeData records that n <= DataLeft() data bytes were read directly by the caller.
func (d *ChunkedDecoder) ConsumeData(n int) {
	d.left -= int64(n)
	if d.left == 0 {
		d.state = csDataCR
	}
}

// Decode consumes framing and data from src and copies decoded body bytes to dst. It returns
// the bytes written to dst and consumed from src. err is io.EOF once the body is complete
// (nsrc then stops right after the final CRLF), an *Error for malformed framing, or nil when
// it needs more src or more room in dst.
func (d *ChunkedDecoder) Decode(dst, src []byte) (ndst, nsrc int, err error) {
	for nsrc < len(src) {
		if d.state == csData {
			n := min(int64(len(dst)-ndst), int64(len(src)-nsrc), d.left)
			if n == 0 {
				return ndst, nsrc, nil // dst full
			}
			copy(dst[ndst:], src[nsrc:nsrc+int(n)])
			ndst += int(n)
			nsrc += int(n)
			d.ConsumeData(int(n))
			continue
		}
		if d.state == csDone {
			return ndst, nsrc, io.EOF
		}
		if err := d.step(src[nsrc]); err != nil {
			return ndst, nsrc, err
		}
		nsrc++
	}
	if d.state == csDone {
		return ndst, nsrc, io.EOF
	}
	return ndst, nsrc, nil
}

// step advances the framing state machine by one byte.
func (d *ChunkedDecoder) step(c byte) error {
	switch d.state {
	case csSize, csExt:
		d.lineLen++
		if d.lineLen > MaxChunkLine {
			return fail(ReasonChunkLine)
		}
		return d.sizeLine(c)
	case csSizeLF:
		if c != '\n' {
			return fail(ReasonLineEnding)
		}
		d.excess = max(d.excess+int64(d.lineLen)+1-16-2*d.size, 0)
		if d.excess > maxExcess {
			return fail(ReasonChunkLine)
		}
		d.lineLen = 0
		if d.last {
			d.state = csTrailerStart
			return nil
		}
		d.state, d.left = csData, d.size
	case csDataCR:
		switch c {
		case '\r':
		case '\n':
			return fail(ReasonLineEnding)
		default:
			return fail(ReasonChunkSize) // data longer than its announced size
		}
		d.state = csDataLF
	case csDataLF:
		if c != '\n' {
			return fail(ReasonLineEnding)
		}
		d.state, d.size, d.digits = csSize, 0, 0
	default:
		return d.trailer(c)
	}
	return nil
}

func (d *ChunkedDecoder) sizeLine(c byte) error {
	switch d.state {
	case csSize:
		switch {
		case charClass[c]&cHex != 0:
			if d.digits == maxChunkDigits {
				return fail(ReasonChunkSize)
			}
			d.digits++
			d.size = d.size<<4 | int64(unhex(c))
			return nil
		case d.digits == 0:
			return fail(ReasonChunkSize)
		}
		d.last = d.size == 0
		// No whitespace before ';' (RFC 9112 allows BWS there; net/http does not).
		switch c {
		case '\r':
			d.state = csSizeLF
		case ';':
			d.state = csExt
		default:
			return fail(ReasonChunkSize)
		}
	case csExt:
		// Extensions are ignored but may hold only field-value bytes (no CTL, no bare LF).
		switch {
		case c == '\r':
			d.state = csSizeLF
		case charClass[c]&cValue == 0:
			return fail(ReasonChunkLine)
		}
	}
	return nil
}

func (d *ChunkedDecoder) trailer(c byte) error {
	d.lineLen++
	if d.lineLen > MaxTrailerBytes {
		return fail(ReasonTrailer)
	}
	switch d.state {
	case csTrailerStart:
		switch {
		case c == '\r':
			d.state = csFinalLF
			return nil
		case charClass[c]&cToken == 0:
			return fail(ReasonTrailer)
		case d.fields == MaxTrailerFields:
			return fail(ReasonTrailer)
		}
		d.state = csTrailerName
	case csTrailerName:
		switch {
		case c == ':':
			d.state = csTrailerValue
		case charClass[c]&cToken == 0:
			return fail(ReasonTrailer)
		}
	case csTrailerValue:
		switch {
		case c == '\r':
			d.state = csTrailerLF
		case charClass[c]&cValue == 0:
			return fail(ReasonTrailer)
		}
	case csTrailerLF:
		if c != '\n' {
			return fail(ReasonLineEnding)
		}
		d.state = csTrailerStart
		d.fields++
	case csFinalLF:
		if c != '\n' {
			return fail(ReasonLineEnding)
		}
		d.state = csDone
		return nil
	}
	// Every byte of a trailer line is kept; lineLen bounds them all.
	d.trail = append(d.trail, c)
	return nil
}

// AppendChunkHeader appends the size line of an n-byte chunk ("<hex>\r\n").
func AppendChunkHeader(dst []byte, n int) []byte {
	dst = strconv.AppendUint(dst, uint64(n), 16)
	return append(dst, '\r', '\n')
}

// ChunkTrailer ends the data of a chunk.
const ChunkTrailer = "\r\n"

// LastChunk ends a chunked body that has no trailer fields.
const LastChunk = "0\r\n\r\n"
