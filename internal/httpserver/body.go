package httpserver

import (
	"errors"
	"fmt"
	"io"
	"syscall"

	"github.com/flashstor/flashstor/internal/httpwire"
)

// directRead is the smallest Read buffer that the body reader fills straight from the socket
// instead of through the connection's input buffer: large reads (object uploads) are not
// copied twice.
const directRead = 8 << 10

// continueLine is the interim response sent when the handler first reads a body the client
// announced with "Expect: 100-continue".
const continueLine = "HTTP/1.1 100 Continue\r\n\r\n"

// body is Request.Body on the epoll transport.
type body struct {
	c         *conn
	rs        *reqState
	remaining int64 // Content-Length mode: bytes still to read
	chunked   bool
	dec       httpwire.ChunkedDecoder
	expect    bool // the client waits for 100 Continue, which was not sent yet
	continued bool // 100 Continue was sent
	done      bool // the whole body was consumed
	err       error
	broken    bool // the connection cannot carry another request (I/O or framing error)
}

func (b *body) reset(c *conn, rs *reqState) {
	h := &rs.head
	dec := b.dec // keeps the memory of its trailer buffer
	dec.Reset()
	*b = body{c: c, rs: rs, remaining: h.ContentLength, chunked: h.Chunked, expect: h.ExpectContinue, dec: dec}
	if !b.chunked && b.remaining == 0 {
		b.done, b.expect = true, false
	}
}

// Read implements io.Reader (see Request.Body).
func (b *body) Read(p []byte) (int, error) {
	switch {
	case b.err != nil:
		return 0, b.err
	case b.done:
		return 0, io.EOF
	case len(p) == 0:
		return 0, nil
	}
	if b.expect {
		b.expect = false
		if !b.rs.resp.headSent {
			iov := append(b.rs.iov[:0], unsafeBytes(continueLine))
			if _, err := b.c.writevWait(iov, b.c.loop.s.cfg.WriteTimeout); err != nil {
				return 0, b.fail(err)
			}
			b.continued = true
		}
	}
	if b.chunked {
		return b.readChunked(p)
	}
	return b.readFixed(p)
}

// trailer returns a trailer field of a chunked body read to its end (Request.Trailer).
func (b *body) trailer(name string) []byte {
	if !b.chunked || !b.done {
		return nil
	}
	return b.dec.Trailer(name)
}

func (b *body) readFixed(p []byte) (int, error) {
	c := b.c
	if int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	if c.r == c.w {
		c.r, c.w = c.headEnd, c.headEnd
		if len(p) >= directRead {
			n, err := c.readWait(p, c.loop.s.cfg.BodyReadTimeout)
			if err != nil {
				return 0, b.fail(err)
			}
			return b.consumed(n), nil
		}
		if err := b.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, c.in[c.r:c.w])
	c.r += n
	return b.consumed(n), nil
}

func (b *body) consumed(n int) int {
	b.remaining -= int64(n)
	if b.remaining == 0 {
		b.done = true
	}
	return n
}

// fill reads more input into the connection buffer after the head.
func (b *body) fill() error {
	c := b.c
	if c.r == c.w {
		c.r, c.w = c.headEnd, c.headEnd
	} else if c.w == len(c.in) {
		c.w = c.headEnd + copy(c.in[c.headEnd:], c.in[c.r:c.w])
		c.r = c.headEnd
	}
	n, err := c.readWait(c.in[c.w:], c.loop.s.cfg.BodyReadTimeout)
	if err != nil {
		return b.fail(err)
	}
	c.w += n
	return nil
}

func (b *body) readChunked(p []byte) (int, error) {
	c := b.c
	for {
		if left := b.dec.DataLeft(); left > 0 && c.r == c.w && len(p) >= directRead {
			c.r, c.w = c.headEnd, c.headEnd
			n, err := c.readWait(p[:min(int64(len(p)), left)], c.loop.s.cfg.BodyReadTimeout)
			if err != nil {
				return 0, b.fail(err)
			}
			b.dec.ConsumeData(n)
			return n, nil
		}
		if c.r < c.w {
			nd, ns, err := b.dec.Decode(p, c.in[c.r:c.w])
			c.r += ns
			switch {
			case err == io.EOF:
				b.done = true
				if nd > 0 {
					return nd, nil
				}
				return 0, io.EOF
			case err != nil:
				var perr *httpwire.Error
				if errors.As(err, &perr) {
					c.loop.s.stats.Malformed[perr.Reason].Add(1)
				}
				b.broken, b.err = true, err
				return nd, err
			case nd > 0:
				return nd, nil
			}
		}
		if err := b.fill(); err != nil {
			return 0, err
		}
	}
}

// fail records an I/O error: the body and the connection are unusable.
func (b *body) fail(err error) error {
	switch {
	case err == errTimeout:
		b.c.loop.s.stats.BodyTimeouts.Add(1)
		err = ErrBodyTimeout
	case err == io.EOF:
		err = io.ErrUnexpectedEOF
	case resetByPeer(err):
		err = fmt.Errorf("%w: %w", ErrClientReset, err)
	}
	b.broken, b.err = true, err
	return err
}

// restBuffered reports whether what the handler left of the body has already arrived in
// the connection's buffer and is at most max bytes, so that skipping it costs no wait. A
// body the client has not sent yet because it waits for 100 Continue does not count: the
// client may send it or not. Chunked bodies are not decoded ahead to find out.
func (b *body) restBuffered(max int64) bool {
	switch {
	case b.done:
		return true
	case b.err != nil, b.chunked, b.expect, !b.continued && b.rs.head.ExpectContinue:
		return false
	}
	return b.remaining <= max && b.remaining <= int64(b.c.w-b.c.r)
}

// skip consumes what the handler left of the body when restBuffered, so the connection can
// serve another request, and reports whether the body is consumed. It never reads from the
// socket: waiting for a body nobody will use would let a client that sends it slowly hold
// the connection, a goroutine and two buffer blocks for as long as it trickles. A
// connection whose unread body is not all here closes instead (after lingering on its
// loop, which costs what an idle connection does).
func (b *body) skip(max int64) bool {
	if !b.restBuffered(max) {
		return false
	}
	if !b.done {
		b.c.r += int(b.remaining)
		b.remaining, b.done = 0, true
	}
	return true
}

// resetByPeer reports whether err says that the client reset or abandoned the connection.
func resetByPeer(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNABORTED)
}
