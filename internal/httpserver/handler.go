// Package httpserver is the HTTP/1.1 transport under the S3 endpoint: an epoll-driven server
// (one event loop per core, non-blocking sockets, keep-alive, pipelining, 100-continue,
// chunked bodies, slowloris and idle deadlines, graceful shutdown) that runs a Handler, and
// NetHTTP, which runs the same Handler behind net/http's server.
//
// Memory: a connection's input buffer and its request arena are 64 KiB blocks from a pool
// shared by all connections. Request heads are parsed in place: header names and values,
// the target, path and query are views into the input buffer, not copies. When a request
// ends the arena is reset in O(1); when a connection goes idle it gives every block back
// and holds no goroutine, only a small struct and its socket.
//
// VIEWS ARE VALID ONLY UNTIL THE HANDLER RETURNS. Every []byte reachable from a Request
// (Target, Path, RawQuery, Host, header values, Arena memory) is reused for the next request
// on the connection. A handler that needs a value later (in a goroutine it starts, in a
// cache, in an error it returns up a stack that outlives the call) must copy it. Views are
// read-only: never write into them. Builds with -tags arenadebug report arena memory still
// referenced after a request.
//
// Threads: each loop is a goroutine parked on the runtime's network poller (its epoll set is
// registered there), not a thread blocked in epoll_wait. A complete head is handed to a
// worker goroutine, which runs the handler; when the handler must wait for the socket it
// parks until the loop sees the socket ready (EPOLLONESHOT re-armed for that one wait).
//
// TLS: with Config.TLS every connection speaks TLS through crypto/tls, over a net.Conn on
// the connection's own non-blocking descriptor whose reads and writes park on the loop like
// a handler's do (no second socket, no proxy). The body reader and response writer reach
// the socket only through conn.readWait, conn.writevWait and the input buffer; on a TLS
// connection the first two go through the tls.Conn, so Request, ResponseWriter, the
// httpwire parser and its limits, keep-alive, pipelining, 100-continue, chunked bodies,
// timeouts and Stats work as on plain TCP. What differs:
//   - A connection that has sent no byte waits on its loop as a plain one does, and is cut
//     after HeaderTimeout (Stats.HeaderTimeouts). From its first byte, a goroutine runs the
//     handshake and reads the head through crypto/tls; the handshake and the first head are
//     due HeaderTimeout after accept (a late handshake counts as a header timeout too; a
//     failed one in Stats.TLSHandshakeErrors). A plain HTTP request gets net/http's
//     "client sent an HTTP request to an HTTPS server" 400.
//   - After a response the goroutine probes the tls.Conn without waiting: more plaintext
//     (a pipelined request) is served at once; when crypto/tls would block, nothing is
//     buffered but at most an incomplete record, whose remaining bytes will wake the loop,
//     so the connection goes back to its loop as idle with no goroutine and no block. It
//     keeps its tls.Conn, whose record buffer crypto/tls retains (see BENCHMARKS.md for the
//     measured memory per idle TLS connection).
//   - Heads are read on the goroutine, not by the loop, so a head that arrives in pieces
//     holds a goroutine until it is complete or HeaderTimeout passes.
//   - Small writes are gathered into one TLS record, large ones are sealed in place by
//     crypto/tls (16 KiB per record), and the records of one write are corked into one
//     system call per 64 KiB.
//   - Closing an idle connection (IdleTimeout, Shutdown, Close) or lingering one sends a
//     close_notify alert when that takes one non-blocking write. Shutdown also cuts
//     connections in their handshake or head, as it closes plain ones still sending a head.
//   - The server enforces TLS 1.2 at least, whatever the config's MinVersion.
//
// The package knows nothing of S3: no XML, no signatures, no buckets.
package httpserver

import (
	"io"

	"github.com/flashstor/flashstor/internal/httpwire"
)

// Handler serves one request. ServeHTTP1 is called on its own goroutine (it may block on disk
// I/O); the connection is not read or written by anyone else until it returns. A panic is
// recovered: the client gets a 500 when nothing was sent yet, and the connection is closed.
type Handler interface {
	ServeHTTP1(w ResponseWriter, r *Request)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(w ResponseWriter, r *Request)

// ServeHTTP1 calls f(w, r).
func (f HandlerFunc) ServeHTTP1(w ResponseWriter, r *Request) { f(w, r) }

// ResponseWriter builds the response to one request.
//
// The head (status line and header fields) is rendered into the request's arena and sent
// together with the first payload bytes in one vectored write: payload is never copied into
// the head buffer. Writes smaller than 2 KiB are coalesced in a 4 KiB arena buffer, so a
// handler that writes many small pieces does not cost a system call each; larger writes go
// to the socket directly. If the handler sets no Content-Length, a response whose whole body
// was still buffered when the handler returned gets one; otherwise HTTP/1.1 responses are
// chunked and HTTP/1.0 responses are delimited by closing the connection.
type ResponseWriter interface {
	// Header returns the response header fields, to change before WriteHeader.
	Header() *ResponseHeader
	// WriteHeader fixes the status code (200 if never called). Later calls are ignored.
	// Codes below 200 are not supported and are ignored (the server sends 100 Continue
	// itself when the handler first reads the body).
	WriteHeader(status int)
	// Write sends body bytes. It returns ErrContentLength, writing nothing, when p would
	// exceed a Content-Length the handler set. For HEAD requests and statuses without a
	// body it discards p and reports success.
	Write(p []byte) (int, error)
	// WriteVectored sends several buffers as one vectored write. The buffers are not
	// retained after it returns.
	WriteVectored(bufs [][]byte) (int64, error)
	// ReadFrom streams r to the client through a pooled 64 KiB buffer.
	io.ReaderFrom
}

// Field is a header field; both halves are views (see the package comment).
type Field = httpwire.Field
