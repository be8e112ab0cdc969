package httpserver

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flashstor/flashstor/internal/arena"
	"github.com/flashstor/flashstor/internal/httpwire"
)

// NetHTTP runs h behind net/http's server: the returned http.Handler translates each
// *http.Request into a Request (views of net/http's strings, read-only) and adapts the
// ResponseWriter. It exists so that the two transports can be measured side by side and
// tested with the same client tests, and as an alternative transport (which also serves TLS
// when given a TLS listener). Stats of the epoll server are not kept;
// net/http handles 100-continue, chunking and limits itself.
func NetHTTP(h Handler) http.Handler {
	a := &netHTTPAdapter{h: h, pool: arena.NewPool(256)}
	a.states.New = func() any { return &netHTTPState{arena: arena.New(a.pool)} }
	return a
}

type netHTTPAdapter struct {
	h      Handler
	pool   *arena.Pool
	states sync.Pool // *netHTTPState
	bad    atomic.Int64
}

type netHTTPState struct {
	req    Request
	body   netHTTPBody
	resp   netHTTPResponse
	arena  *arena.Arena
	fields []Field
}

func (a *netHTTPAdapter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	st := a.states.Get().(*netHTTPState)
	defer func() {
		st.req, st.body = Request{}, netHTTPBody{}
		st.resp.hdr.reset(nil, nil) // drop the views before the arena is reset
		st.resp = netHTTPResponse{hdr: st.resp.hdr}
		clear(st.fields)
		st.fields = st.fields[:0]
		st.arena.Reset()
		a.states.Put(st)
	}()
	req := &st.req
	req.Method = httpwire.LookupMethod(unsafeBytes(r.Method))
	if req.Method == "" {
		req.Method = r.Method
	}
	req.Target = unsafeBytes(r.RequestURI)
	req.Path, req.RawQuery = req.Target, nil
	for i := 0; i < len(req.Target); i++ {
		if req.Target[i] == '?' {
			req.Path, req.RawQuery = req.Target[:i], req.Target[i+1:]
			break
		}
	}
	req.ProtoMinor = r.ProtoMinor
	req.Host = unsafeBytes(r.Host)
	req.ContentLength = r.ContentLength
	req.Chunked = len(r.TransferEncoding) > 0
	st.body = netHTTPBody{r: r.Body, req: r, chunked: req.Chunked, done: r.ContentLength == 0 && !req.Chunked}
	req.Body = &st.body
	req.trailer = &st.body
	req.tlsNet = r.TLS
	req.RemoteAddr, _ = netip.ParseAddrPort(r.RemoteAddr)
	req.Arena = st.arena
	req.base, req.ctx = r.Context(), r.Context()
	st.fields = append(st.fields, Field{Name: unsafeBytes("Host"), Value: req.Host})
	for k, vs := range r.Header {
		for _, v := range vs {
			st.fields = append(st.fields, Field{Name: unsafeBytes(k), Value: unsafeBytes(v)})
		}
	}
	req.fields = st.fields
	st.resp.w, st.resp.body = w, &st.body
	st.resp.hdr.reset(st.arena, &a.bad)
	defer func() {
		// Match the epoll transport: a panic before anything was sent becomes a 500; then
		// net/http's own recovery closes the connection.
		if v := recover(); v != nil {
			if !st.resp.wroteHeader && v != ErrAbortHandler {
				w.Header().Set("Connection", "close")
				w.Header().Set("Content-Length", "0")
				w.WriteHeader(http.StatusInternalServerError)
				if f, ok := w.(http.Flusher); ok {
					f.Flush()
				}
			}
			panic(http.ErrAbortHandler)
		}
	}()
	a.h.ServeHTTP1(&st.resp, req)
	if !st.body.done {
		// The handler answered without the whole body (the response says Connection:
		// close). net/http would still read up to 256 KiB of it before closing, with no
		// deadline: a client sending it slowly would hold the connection and its goroutine
		// for as long as it trickles. One deadline bounds that discard in all.
		st.resp.WriteHeader(http.StatusOK)
		http.NewResponseController(w).SetReadDeadline(time.Now().Add(defaultLingerTimeout))
	}
}

// netHTTPResponse adapts http.ResponseWriter to ResponseWriter.
type netHTTPResponse struct {
	w           http.ResponseWriter
	body        *netHTTPBody // the request's
	hdr         ResponseHeader
	wroteHeader bool
}

func (w *netHTTPResponse) Header() *ResponseHeader { return &w.hdr }

func (w *netHTTPResponse) WriteHeader(code int) {
	if w.wroteHeader || code < 200 {
		return
	}
	w.wroteHeader = true
	h := w.w.Header()
	for _, f := range w.hdr.fields {
		name := http.CanonicalHeaderKey(string(f.Name))
		h[name] = append(h[name], string(f.Value))
	}
	if !w.body.done {
		h.Set("Connection", "close") // the rest of the body will not be waited for
	}
	w.w.WriteHeader(code)
}

func (w *netHTTPResponse) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(200)
	}
	n, err := w.w.Write(p)
	if err == http.ErrContentLength {
		err = ErrContentLength
	}
	return n, err
}

func (w *netHTTPResponse) WriteVectored(bufs [][]byte) (int64, error) {
	var total int64
	for _, b := range bufs {
		n, err := w.Write(b)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func (w *netHTTPResponse) ReadFrom(src io.Reader) (int64, error) {
	if !w.wroteHeader {
		w.WriteHeader(200)
	}
	return io.Copy(w.w, src)
}

// netHTTPBody is Request.Body on net/http. It gives the errors of net/http's body the
// meaning the epoll transport's have: a reset connection wraps ErrClientReset, malformed
// chunked framing is an *httpwire.Error, so that handlers tell the client's faults from
// their own the same way on both transports.
// It also remembers whether the body was read to its end.
type netHTTPBody struct {
	r       io.Reader
	req     *http.Request // for its trailers
	chunked bool
	done    bool // io.EOF was returned, or there is no body
}

func (b *netHTTPBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	switch {
	case err == io.EOF:
		b.done = true
	case err != nil:
		err = netHTTPBodyError(err, b.chunked)
	}
	return n, err
}

// trailer returns a trailer field once the body was read to its end, as the epoll
// transport's body does (net/http fills Request.Trailer at the end of the body).
func (b *netHTTPBody) trailer(name string) []byte {
	if !b.done || !b.chunked {
		return nil
	}
	vs, ok := b.req.Trailer[http.CanonicalHeaderKey(name)]
	switch {
	case !ok || len(vs) == 0:
		return nil
	case vs[0] == "":
		return []byte{}
	}
	return unsafeBytes(vs[0])
}

// netHTTPBodyError classifies an error of net/http's request body.
func netHTTPBodyError(err error, chunked bool) error {
	var ne net.Error
	var oe *net.OpError
	switch {
	case resetByPeer(err):
		return fmt.Errorf("%w: %w", ErrClientReset, err)
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("%w: %w", ErrBodyTimeout, err)
	case !chunked, errors.Is(err, io.ErrUnexpectedEOF), errors.As(err, &oe), errors.Is(err, http.ErrBodyReadAfterClose):
		return err
	}
	// What is left is net/http's chunked decoder refusing the framing. Its errors have no
	// type, only their text ("invalid byte in chunk length", "http chunk length too large",
	// "header line too long", "malformed chunked encoding", ...).
	reason := httpwire.ReasonChunkLine
	if strings.Contains(err.Error(), "chunk length") {
		reason = httpwire.ReasonChunkSize
	}
	return fmt.Errorf("%w (net/http: %w)", &httpwire.Error{Reason: reason}, err)
}
