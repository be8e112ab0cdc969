package httpserver

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync/atomic"

	"github.com/flashstor/flashstor/internal/httpwire"
)

// ErrBodyNotAllowed is returned by Write for a status that cannot have a body (204, 304).
var ErrBodyNotAllowed = errors.New("httpserver: response status does not allow a body")

// Small writes are coalesced: a write shorter than smallWrite is copied into a buffer of
// coalesceSize arena bytes, sent with the next large write or when the handler returns.
const (
	smallWrite   = 2 << 10
	coalesceSize = 4 << 10
)

// response is the ResponseWriter of the epoll transport.
type response struct {
	c   *conn
	rs  *reqState
	hdr ResponseHeader

	status      int
	wroteHeader bool // status fixed
	headSent    bool // head written to the socket
	isHead      bool // HEAD request: no body is sent
	noBody      bool // HEAD, or a status without content
	chunked     bool
	closeAfter  bool  // close the connection after this response
	clen        int64 // Content-Length to send, -1 for none
	written     int64 // body bytes accepted from the handler
	buf         []byte
	err         error // sticky write error: the connection is broken
}

var _ ResponseWriter = (*response)(nil)

func (w *response) reset(c *conn, rs *reqState, bad *atomic.Int64) {
	fields := w.hdr.fields
	*w = response{c: c, rs: rs, clen: -1, isHead: rs.head.Method == httpwire.MethodHead}
	w.hdr.fields = fields
	w.hdr.reset(rs.arena, bad)
}

func (w *response) end() {
	w.hdr.reset(nil, nil)
	w.buf, w.c, w.rs = nil, nil, nil
}

// Header implements ResponseWriter.
func (w *response) Header() *ResponseHeader { return &w.hdr }

// WriteHeader implements ResponseWriter.
func (w *response) WriteHeader(code int) {
	if w.wroteHeader || code < 200 {
		if code < 100 {
			panic(fmt.Sprintf("httpserver: invalid status code %d", code))
		}
		return
	}
	if code > 999 {
		panic(fmt.Sprintf("httpserver: invalid status code %d", code))
	}
	w.wroteHeader, w.status = true, code
	w.noBody = w.isHead || !httpwire.BodyAllowed(code)
	if v := w.hdr.Get("Content-Length"); v != nil {
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil || n < 0 {
			w.c.loop.s.stats.BadResponseFields.Add(1)
		} else {
			w.clen = n
		}
		w.hdr.Del("Content-Length")
	}
	if code == 204 || code < 200 {
		w.clen = -1
	}
}

// Write implements ResponseWriter.
func (w *response) Write(p []byte) (int, error) {
	if ok, err := w.admit(int64(len(p))); !ok {
		if err == nil {
			return len(p), nil
		}
		return 0, err
	}
	if len(p) < smallWrite && w.bufferable(len(p)) {
		w.buf = append(w.buf, p...)
		return len(p), nil
	}
	w.rs.extra[0] = p
	err := w.flush(w.rs.extra[:], false)
	w.rs.extra[0] = nil
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// WriteVectored implements ResponseWriter.
func (w *response) WriteVectored(bufs [][]byte) (int64, error) {
	var total int64
	for _, b := range bufs {
		total += int64(len(b))
	}
	if ok, err := w.admit(total); !ok {
		if err == nil {
			return total, nil
		}
		return 0, err
	}
	if total < smallWrite && w.bufferable(int(total)) {
		for _, b := range bufs {
			w.buf = append(w.buf, b...)
		}
		return total, nil
	}
	if err := w.flush(bufs, false); err != nil {
		return 0, err
	}
	return total, nil
}

// ReadFrom implements io.ReaderFrom with a pooled 64 KiB block as the buffer.
func (w *response) ReadFrom(src io.Reader) (int64, error) {
	pool := w.c.loop.s.pool
	blk := pool.Get()
	defer pool.Put(blk)
	var total int64
	for {
		n, err := src.Read(blk)
		if n > 0 {
			m, werr := w.Write(blk[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// admit checks a write of n body bytes. ok false with a nil error means "discard silently"
// (HEAD).
func (w *response) admit(n int64) (ok bool, err error) {
	if !w.wroteHeader {
		w.WriteHeader(200)
	}
	switch {
	case w.err != nil:
		return false, w.err
	case w.noBody && w.isHead:
		return false, nil
	case w.noBody:
		return false, ErrBodyNotAllowed
	case w.clen >= 0 && w.written+n > w.clen:
		return false, ErrContentLength
	}
	w.written += n
	return true, nil
}

func (w *response) bufferable(n int) bool {
	if w.buf == nil {
		w.buf = w.rs.arena.AllocNoZero(coalesceSize)[:0]
	}
	return len(w.buf)+n <= cap(w.buf)
}

// flush writes the head if it was not sent, the coalesced bytes and extra, framed as chunks
// when chunked, in one vectored write. final marks the end of the response.
func (w *response) flush(extra [][]byte, final bool) error {
	if w.err != nil {
		return w.err
	}
	iov := w.rs.iov[:0]
	if !w.headSent {
		if final && w.clen < 0 && !w.noBody {
			w.clen = int64(len(w.buf)) // the whole body is known: no chunking needed
		}
		iov = append(iov, w.renderHead())
		w.headSent = true
	}
	n := len(w.buf)
	for _, b := range extra {
		n += len(b)
	}
	if w.chunked && n > 0 {
		iov = append(iov, httpwire.AppendChunkHeader(w.rs.chunkHdr[:0], n))
	}
	if len(w.buf) > 0 {
		iov = append(iov, w.buf)
	}
	iov = append(iov, extra...)
	if w.chunked && n > 0 {
		iov = append(iov, unsafeBytes(httpwire.ChunkTrailer))
	}
	if final && w.chunked {
		iov = append(iov, unsafeBytes(httpwire.LastChunk))
	}
	_, err := w.c.writevWait(iov, w.c.loop.s.cfg.WriteTimeout)
	clear(iov)
	w.rs.iov = iov[:0]
	w.buf = w.buf[:0]
	if err != nil {
		if err == errTimeout {
			w.c.loop.s.stats.WriteTimeouts.Add(1)
			err = ErrWriteTimeout
		}
		w.err, w.closeAfter = err, true
	}
	return err
}

// renderHead decides framing and connection persistence and renders the head into the
// arena.
func (w *response) renderHead() []byte {
	s := w.c.loop.s
	rs := w.rs
	b := &rs.body
	switch {
	case !rs.head.KeepAlive, s.shutdown.Load():
		w.closeAfter = true
	case !b.restBuffered(s.cfg.MaxDrain):
		// The handler is answering without the whole body, and the rest has not arrived
		// (or the client waits for 100 Continue and may never send it): the connection will
		// not wait for it, so it must go. See body.skip.
		w.closeAfter = true
	}
	b.expect = false // too late for 100 Continue: the final status is on its way
	if w.clen < 0 && !w.noBody {
		if rs.head.ProtoMinor == 1 {
			w.chunked = true
		} else {
			w.closeAfter = true // HTTP/1.0: the body ends when the connection closes
		}
	}
	size := 128
	for _, f := range w.hdr.fields {
		size += len(f.Name) + len(f.Value) + 4
	}
	h := rs.arena.AllocNoZero(size)[:0]
	h = httpwire.AppendStatusLine(h, w.status)
	hasDate := false
	for _, f := range w.hdr.fields {
		switch {
		case equalFold(f.Name, "transfer-encoding"):
			continue
		case equalFold(f.Name, "connection"):
			if httpwire.EqualFold(f.Value, "close") {
				w.closeAfter = true
			}
			continue
		case equalFold(f.Name, "date"):
			hasDate = true
		}
		h = httpwire.AppendField(h, f.Name, f.Value)
	}
	if !hasDate {
		h = append(h, "Date: "...)
		h = s.dates.appendDate(h)
		h = append(h, '\r', '\n')
	}
	switch {
	case w.chunked:
		h = append(h, "Transfer-Encoding: chunked\r\n"...)
	case w.clen >= 0 && w.status != 204:
		h = append(h, "Content-Length: "...)
		h = strconv.AppendInt(h, w.clen, 10)
		h = append(h, '\r', '\n')
	}
	switch {
	case w.closeAfter:
		h = append(h, "Connection: close\r\n"...)
	case rs.head.ProtoMinor == 0:
		h = append(h, "Connection: keep-alive\r\n"...)
	}
	return append(h, '\r', '\n')
}

// finish completes the response after the handler returned. It reports an error when the
// response could not be completed (the connection must then close without lingering).
func (w *response) finish() error {
	if !w.wroteHeader {
		w.WriteHeader(200)
	}
	if w.err != nil {
		return w.err
	}
	if w.clen >= 0 && w.written < w.clen && !w.noBody {
		// The handler promised more than it wrote: the client would wait for the rest.
		w.closeAfter = true
		if err := w.flush(nil, false); err != nil {
			return err
		}
		return io.ErrShortWrite
	}
	if !w.headSent || len(w.buf) > 0 || w.chunked {
		return w.flush(nil, true)
	}
	return nil
}

// failPanic replaces an unsent response by a 500 that closes the connection. It reports
// whether that was possible (nothing was sent yet).
func (w *response) failPanic() bool {
	if w.headSent {
		return false
	}
	w.hdr.reset(w.rs.arena, w.hdr.bad)
	w.buf, w.written, w.clen = w.buf[:0], 0, -1
	w.wroteHeader = false
	w.WriteHeader(500)
	w.closeAfter = true
	return true
}
