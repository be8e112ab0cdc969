package sigv4

// Request is the view of an HTTP request that verification needs. It is small so that the
// epoll server can implement it over []byte views into its per-connection arena without
// copying, and net/http through HTTPRequest.
//
// Slices returned by a Request are read-only views: the verifier never modifies them and
// never keeps them past the call that received them, except in the Auth it returns, whose
// views live as long as the request.
type Request interface {
	// Method returns the request method, e.g. "GET".
	Method() []byte
	// RawPath returns the path of the request target exactly as received, still
	// percent-encoded, without the query: "/bucket/a%20b".
	RawPath() []byte
	// RawQuery returns the query of the request target as received, without the '?'; empty
	// when there is none.
	RawQuery() []byte
	// AppendHeaderValues appends to dst every value of the header whose name equals name
	// (given in lower case; match case-insensitively), one element per field line, in the
	// order received, and returns the extended slice. "host" must yield the Host header.
	AppendHeaderValues(dst [][]byte, name string) [][]byte
	// AppendHeaderNames appends to dst the name of every header present (in any case, each
	// name at least once) and returns the extended slice.
	AppendHeaderNames(dst [][]byte) [][]byte
}

// PayloadHasher is an optional capability of a Request: the hex SHA-256 of a body the
// caller has already read whole. IAM and STS clients sign a form body without sending
// x-amz-content-sha256, as their services require of nothing but S3; for a credential
// scoped to one of those, the verifier takes the hash from here (and, when the header is
// sent too, requires the two to agree).
type PayloadHasher interface {
	PayloadSHA256() (hexSum []byte, ok bool)
}

// Field is one header field line: name and value as received.
type Field struct {
	Name, Value []byte
}

// Fields is a Request over raw request-line parts and a list of header fields, the shape an
// HTTP/1.1 parser produces into its arena. It allocates nothing.
type Fields struct {
	MethodBytes []byte
	Path        []byte // raw path, without query
	Query       []byte // raw query, without '?'
	Headers     []Field
}

var _ Request = (*Fields)(nil)

// Method implements Request.
func (f *Fields) Method() []byte { return f.MethodBytes }

// RawPath implements Request.
func (f *Fields) RawPath() []byte { return f.Path }

// RawQuery implements Request.
func (f *Fields) RawQuery() []byte { return f.Query }

// AppendHeaderValues implements Request.
func (f *Fields) AppendHeaderValues(dst [][]byte, name string) [][]byte {
	for i := range f.Headers {
		if equalFoldString(f.Headers[i].Name, name) {
			dst = append(dst, f.Headers[i].Value)
		}
	}
	return dst
}

// AppendHeaderNames implements Request.
func (f *Fields) AppendHeaderNames(dst [][]byte) [][]byte {
	for i := range f.Headers {
		dst = append(dst, f.Headers[i].Name)
	}
	return dst
}

// equalFoldString compares ASCII b with lower-case s case-insensitively.
func equalFoldString(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// hasPrefixFold reports whether b starts with lower-case prefix, ignoring ASCII case.
func hasPrefixFold(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && equalFoldString(b[:len(prefix)], prefix)
}

// firstHeader returns the first value of header name, or nil and false.
func firstHeader(r Request, scratch [][]byte, name string) ([]byte, bool, [][]byte) {
	scratch = r.AppendHeaderValues(scratch[:0], name)
	if len(scratch) == 0 {
		return nil, false, scratch
	}
	return scratch[0], true, scratch
}
