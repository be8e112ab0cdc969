package httpwire

import "bytes"

// Field is one header field as views into the buffer given to ParseHead. Name keeps the
// case it was sent in; Value has leading and trailing whitespace removed.
type Field struct {
	Name  []byte
	Value []byte
}

// Limits bounds what ParseHead accepts.
type Limits struct {
	MaxRequestLine int // bytes in the request line, CRLF excluded (414 beyond)
	MaxHeadBytes   int // bytes in the whole head, final CRLFCRLF included (431 beyond)
	MaxFields      int // number of header fields (431 beyond)
}

// DefaultLimits are the limits used when a Limits field is zero.
var DefaultLimits = Limits{MaxRequestLine: 8 << 10, MaxHeadBytes: 16 << 10, MaxFields: 100}

func (l Limits) withDefaults() Limits {
	if l.MaxRequestLine <= 0 {
		l.MaxRequestLine = DefaultLimits.MaxRequestLine
	}
	if l.MaxHeadBytes <= 0 {
		l.MaxHeadBytes = DefaultLimits.MaxHeadBytes
	}
	if l.MaxFields <= 0 {
		l.MaxFields = DefaultLimits.MaxFields
	}
	return l
}

// Head is a parsed request head. Every []byte is a view into the buffer passed to ParseHead
// and is valid only as long as that buffer is neither modified nor reused.
type Head struct {
	Method     string // one of the Method* constants
	Target     []byte // request-target as sent
	Path       []byte // path part of Target ("*" for asterisk-form)
	RawQuery   []byte // query after '?', without it; nil when there is none
	ProtoMinor int    // 0 or 1: the version is HTTP/1.ProtoMinor
	Fields     []Field
	Host       []byte // authority of an absolute-form target, else the Host field

	// ContentLength is the body length; -1 when the body is chunked. A request with neither
	// Content-Length nor Transfer-Encoding has length 0 (RFC 9112 §6.3).
	ContentLength int64
	Chunked       bool
	// KeepAlive reports whether the connection may serve another request after this one:
	// HTTP/1.1 unless "Connection: close", HTTP/1.0 only with "Connection: keep-alive".
	KeepAlive bool
	// ExpectContinue is set for "Expect: 100-continue" on HTTP/1.1 (ignored on 1.0, as
	// RFC 9110 §10.1.1 requires).
	ExpectContinue bool
}

// Reset clears h, keeping the capacity of its Fields.
func (h *Head) Reset() {
	*h = Head{Fields: h.Fields[:0]}
}

// HeadEnd scans buf for the end of a request head, starting at from (a resume point: pass
// the length already scanned, minus 3). It returns the index just past the blank line ending
// the head, or -1 when buf holds no complete head yet. It fails early with ReasonLineEnding on
// a bare LF and with ReasonURITooLong or ReasonHeaderTooLarge once buf is longer than the
// limits allow, so a peer cannot make a server buffer without bound.
func HeadEnd(buf []byte, from int, lim Limits) (int, error) {
	lim = lim.withDefaults()
	if from < 0 {
		from = 0
	}
	i := from
	for {
		j := bytes.IndexByte(buf[i:], '\n')
		if j < 0 {
			break
		}
		i += j
		if i == 0 || buf[i-1] != '\r' {
			return -1, fail(ReasonLineEnding)
		}
		if i >= 3 && buf[i-2] == '\n' && buf[i-3] == '\r' {
			if i+1 > lim.MaxHeadBytes {
				return -1, fail(ReasonHeaderTooLarge)
			}
			return i + 1, nil
		}
		i++
	}
	if bytes.IndexByte(buf, '\n') < 0 && len(buf) > lim.MaxRequestLine+2 {
		return -1, fail(ReasonURITooLong)
	}
	if len(buf) > lim.MaxHeadBytes {
		return -1, fail(ReasonHeaderTooLarge)
	}
	return -1, nil
}

// ParseHead parses the request head at the start of buf into h (whose Fields capacity is
// reused) and returns the number of bytes it occupies. It returns ErrIncomplete when buf
// holds no whole head yet, or an *Error.
//
// Deliberate differences from net/http's http.ReadRequest, all stricter:
//   - only CRLF ends a line: a bare LF or bare CR anywhere in the head is rejected;
//   - obs-fold (a line starting with SP or HTAB) is rejected, not unfolded;
//   - methods outside the table (see LookupMethod), CONNECT included, get 501;
//   - only HTTP/1.0 and HTTP/1.1 are accepted (other well-formed versions get 505);
//   - the target must be origin-form, absolute-form with a path, or "*" with OPTIONS; it may
//     only hold printable ASCII without '#', and every '%' must start a valid escape
//     (net/http accepts raw non-ASCII bytes and fragments, and checks escapes only in the path);
//   - empty lines before the request line are not skipped;
//   - HTTP/1.1 requires exactly one Host field, and its value must be a valid authority;
//   - any repeated Content-Length is rejected, even with equal values;
//   - Content-Length with Transfer-Encoding is rejected (net/http drops Content-Length);
//   - Transfer-Encoding on HTTP/1.0 is rejected (net/http ignores it);
//   - an Expect other than 100-continue gets 417;
//   - an HTTP/1.0 request without a length has an empty body (net/http reads to EOF when
//     the connection is not kept alive; RFC 9112 §6.3 says the length is zero).
func ParseHead(buf []byte, lim Limits, h *Head) (int, error) {
	lim = lim.withDefaults()
	end, err := HeadEnd(buf, 0, lim)
	if err != nil {
		return 0, err
	}
	if end < 0 {
		return 0, ErrIncomplete
	}
	h.Reset()
	lineEnd := bytes.Index(buf, crlf)
	if lineEnd > lim.MaxRequestLine {
		return 0, fail(ReasonURITooLong)
	}
	if err := h.parseRequestLine(buf[:lineEnd]); err != nil {
		return 0, err
	}
	if err := h.parseFields(buf[lineEnd+2:end-2], lim); err != nil {
		return 0, err
	}
	return end, nil
}

var crlf = []byte("\r\n")

func (h *Head) parseRequestLine(line []byte) error {
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 < 0 {
		return fail(ReasonRequestLine)
	}
	method := line[:sp1]
	rest := line[sp1+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 < 0 {
		return fail(ReasonRequestLine)
	}
	target, version := rest[:sp2], rest[sp2+1:]
	if !isToken(method) {
		return fail(ReasonMethod)
	}
	if err := h.parseVersion(version); err != nil {
		return err
	}
	if h.Method = LookupMethod(method); h.Method == "" {
		return fail(ReasonMethodUnsupported)
	}
	return h.parseTarget(target)
}

func (h *Head) parseVersion(v []byte) error {
	if len(v) != 8 || string(v[:5]) != "HTTP/" || v[6] != '.' ||
		v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9' {
		return fail(ReasonVersion)
	}
	if v[5] != '1' || v[7] > '1' {
		return fail(ReasonVersionUnsupported)
	}
	h.ProtoMinor = int(v[7] - '0')
	return nil
}

func (h *Head) parseTarget(t []byte) error {
	if len(t) == 0 {
		return fail(ReasonTarget)
	}
	for i, c := range t {
		if charClass[c]&cTarget == 0 {
			return fail(ReasonTarget)
		}
		if c == '%' && (i+2 >= len(t) || charClass[t[i+1]]&cHex == 0 || charClass[t[i+2]]&cHex == 0) {
			return fail(ReasonTarget)
		}
	}
	h.Target = t
	switch {
	case t[0] == '/':
		h.splitQuery(t)
	case len(t) == 1 && t[0] == '*':
		if h.Method != MethodOptions {
			return fail(ReasonTarget)
		}
		h.Path = t
	default:
		return h.parseAbsolute(t)
	}
	return nil
}

func (h *Head) splitQuery(pathQuery []byte) {
	if q := bytes.IndexByte(pathQuery, '?'); q >= 0 {
		h.Path, h.RawQuery = pathQuery[:q], pathQuery[q+1:]
		return
	}
	h.Path = pathQuery
}

// parseAbsolute accepts "http://authority/path?query" and "https://..." (scheme case-
// insensitive); the authority becomes Host. Userinfo and an empty path are rejected.
func (h *Head) parseAbsolute(t []byte) error {
	var rest []byte
	switch {
	case len(t) > 7 && EqualFold(t[:7], "http://"):
		rest = t[7:]
	case len(t) > 8 && EqualFold(t[:8], "https://"):
		rest = t[8:]
	default:
		return fail(ReasonTarget)
	}
	slash := bytes.IndexByte(rest, '/')
	if slash <= 0 {
		return fail(ReasonTarget)
	}
	auth := rest[:slash]
	if bytes.IndexByte(auth, '@') >= 0 || bytes.IndexByte(auth, '?') >= 0 || !validHost(auth) {
		return fail(ReasonTarget)
	}
	h.Host = auth
	h.splitQuery(rest[slash:])
	return nil
}

// validHost reports whether b is an authority: a reg-name or a bracketed IP literal,
// optionally followed by ":" and decimal port digits. Percent escapes and userinfo are not
// accepted (stricter than RFC 3986, which no S3 client needs).
func validHost(b []byte) bool {
	host, port := b, []byte(nil)
	if len(b) > 0 && b[0] == '[' {
		end := bytes.IndexByte(b, ']')
		if end < 0 {
			return false
		}
		for _, c := range b[1:end] {
			if charClass[c]&cHex == 0 && c != ':' && c != '.' {
				return false
			}
		}
		host, port = nil, b[end+1:]
		if len(port) > 0 {
			if port[0] != ':' {
				return false
			}
			port = port[1:]
		}
	} else if i := bytes.IndexByte(b, ':'); i >= 0 {
		host, port = b[:i], b[i+1:]
	}
	for _, c := range host {
		if charClass[c]&cHost == 0 || c == '%' || c == ':' || c == '[' || c == ']' {
			return false
		}
	}
	for _, c := range port {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
