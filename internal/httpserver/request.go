package httpserver

import (
	"context"
	"crypto/tls"
	"io"
	"iter"
	"net/netip"
	"unsafe"

	"github.com/flashstor/flashstor/internal/arena"
	"github.com/flashstor/flashstor/internal/httpwire"
)

// Request is one parsed request. Its []byte fields are views valid only until the handler
// returns, and read-only (see the package comment).
type Request struct {
	// Method is one of the httpwire.Method* constants (no allocation).
	Method string
	// Target is the request-target as sent; Path and RawQuery split it (RawQuery excludes
	// the '?'). None is percent-decoded.
	Target, Path, RawQuery []byte
	// ProtoMinor is 0 or 1 (HTTP/1.0 or HTTP/1.1).
	ProtoMinor int
	// Host is the Host field, or the authority of an absolute-form target.
	Host []byte
	// ContentLength is the body length, -1 when unknown (chunked).
	ContentLength int64
	// Chunked reports a chunked request body.
	Chunked bool
	// Body reads the request body: it decodes chunked framing, sends "100 Continue" on the
	// first Read when the client asked for it, and fails with ErrBodyTimeout when the client
	// stalls longer than Config.BodyReadTimeout. It returns io.EOF at the end of the body.
	Body io.Reader
	// RemoteAddr is the client's address.
	RemoteAddr netip.AddrPort
	// Arena is scratch memory for the handler, reset when the request ends.
	Arena *arena.Arena

	fields  []Field
	trailer trailerSource        // the body's trailer fields, once it is read
	tlsConn *tls.Conn            // epoll transport: the connection's TLS, nil on TCP
	tlsNet  *tls.ConnectionState // net/http transport: its TLS state, nil on TCP
	base    context.Context
	ctx     context.Context
	cancel  context.CancelFunc
	started int64 // server-relative nanoseconds when the head was complete
}

// Header returns the value of the first field named name (case-insensitive), or nil.
func (r *Request) Header(name string) []byte {
	for i := range r.fields {
		if equalFold(r.fields[i].Name, name) {
			return r.fields[i].Value
		}
	}
	return nil
}

// Values iterates over the values of every field named name (case-insensitive), in order.
func (r *Request) Values(name string) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		for i := range r.fields {
			if equalFold(r.fields[i].Name, name) && !yield(r.fields[i].Value) {
				return
			}
		}
	}
}

// Fields returns every header field in the order received.
func (r *Request) Fields() []Field { return r.fields }

// trailerSource is a transport's body, which knows the trailer fields it read.
type trailerSource interface {
	trailer(name string) []byte
}

// Trailer returns the value of the first trailer field named name (case-insensitive) of a
// chunked body, or nil when there is none. Trailers exist only once Body has returned
// io.EOF: before that Trailer returns nil, so a handler must read the body to its end
// before it trusts (or misses) a trailer. The value is a view, as header values are. The
// epoll transport keeps at most httpwire.MaxTrailerFields fields in
// httpwire.MaxTrailerBytes; a body whose trailers break those limits or the syntax fails
// with an *httpwire.Error (400).
func (r *Request) Trailer(name string) []byte {
	if r.trailer == nil {
		return nil
	}
	return r.trailer.trailer(name)
}

// TLS returns the state of the TLS connection the request arrived on (the verified peer
// certificates among it), or false when it came over plain TCP.
func (r *Request) TLS() (tls.ConnectionState, bool) {
	switch {
	case r.tlsConn != nil:
		return r.tlsConn.ConnectionState(), true
	case r.tlsNet != nil:
		return *r.tlsNet, true
	}
	return tls.ConnectionState{}, false
}

// Proto returns "HTTP/1.0" or "HTTP/1.1".
func (r *Request) Proto() string {
	if r.ProtoMinor == 0 {
		return "HTTP/1.0"
	}
	return "HTTP/1.1"
}

// Context returns the request's context, created on first use (so requests that never ask
// for it do not allocate one). It is cancelled when the handler returns or the server is
// closed; it is not cancelled when the client disconnects mid-request.
func (r *Request) Context() context.Context {
	if r.ctx == nil {
		r.ctx, r.cancel = context.WithCancel(r.base)
	}
	return r.ctx
}

// fill sets the request from a parsed head.
func (r *Request) fill(h *httpwire.Head) {
	r.Method, r.Target, r.Path, r.RawQuery = h.Method, h.Target, h.Path, h.RawQuery
	r.ProtoMinor, r.Host = h.ProtoMinor, h.Host
	r.ContentLength, r.Chunked = h.ContentLength, h.Chunked
	r.fields = h.Fields
}

// end cancels the context and drops every view.
func (r *Request) end() {
	if r.cancel != nil {
		r.cancel()
	}
	*r = Request{base: r.base}
}

// unsafeBytes views s as bytes without copying; the result must not be modified.
func unsafeBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
