package sigv4

import (
	"net/http"
	"strings"
	"unsafe"
)

// HTTPRequest adapts a server-side *http.Request to Request. It reads the request target
// from RequestURI (the bytes the client sent), falling back to URL for requests built in
// process, and restores the headers net/http moves out of Header: Host and
// Transfer-Encoding.
//
// The []byte views it returns alias the request's strings and must not be modified, which
// Request's contract already guarantees.
type HTTPRequest struct {
	R *http.Request
}

var _ Request = HTTPRequest{}

// bytesOf views s as bytes without copying. The result must never be written to.
func bytesOf(s string) []byte {
	if s == "" {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// target splits the request target into raw path and raw query.
func (h HTTPRequest) target() (path, query string) {
	uri := h.R.RequestURI
	if uri == "" || uri == "*" {
		if h.R.URL == nil {
			return "/", ""
		}
		return h.R.URL.EscapedPath(), h.R.URL.RawQuery
	}
	// Absolute-form targets ("http://host/path") carry the scheme and authority first.
	if i := strings.Index(uri, "://"); i >= 0 && !strings.HasPrefix(uri, "/") {
		rest := uri[i+3:]
		if j := strings.IndexAny(rest, "/?"); j >= 0 {
			uri = rest[j:]
		} else {
			uri = "/"
		}
	}
	path, query, _ = strings.Cut(uri, "?")
	return path, query
}

// Method implements Request.
func (h HTTPRequest) Method() []byte {
	if h.R.Method == "" {
		return []byte(http.MethodGet)
	}
	return bytesOf(h.R.Method)
}

// RawPath implements Request.
func (h HTTPRequest) RawPath() []byte {
	p, _ := h.target()
	return bytesOf(p)
}

// RawQuery implements Request.
func (h HTTPRequest) RawQuery() []byte {
	_, q := h.target()
	return bytesOf(q)
}

// AppendHeaderValues implements Request.
func (h HTTPRequest) AppendHeaderValues(dst [][]byte, name string) [][]byte {
	switch name {
	case "host":
		host := h.R.Host
		if host == "" && h.R.URL != nil {
			host = h.R.URL.Host
		}
		return append(dst, bytesOf(host))
	case "transfer-encoding":
		if len(h.R.TransferEncoding) > 0 {
			for _, v := range h.R.TransferEncoding {
				dst = append(dst, bytesOf(v))
			}
			return dst
		}
	}
	// Header keys are canonical ("X-Amz-Date") when net/http parsed them; compare folded
	// rather than canonicalising name, which would allocate.
	for k, vs := range h.R.Header {
		if len(k) == len(name) && strings.EqualFold(k, name) {
			for _, v := range vs {
				dst = append(dst, bytesOf(v))
			}
		}
	}
	return dst
}

// AppendHeaderNames implements Request.
func (h HTTPRequest) AppendHeaderNames(dst [][]byte) [][]byte {
	dst = append(dst, bytesOf("host"))
	for k := range h.R.Header {
		dst = append(dst, bytesOf(k))
	}
	return dst
}
