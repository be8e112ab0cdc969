package httpserver

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"time"

	"github.com/flashstor/flashstor/internal/httpwire"
	"golang.org/x/sys/unix"
)

// tlsConn is the TLS side of a conn: crypto/tls over sock, a net.Conn on the conn's own
// non-blocking descriptor. Like the rest of the conn it is touched only by the conn's owner.
type tlsConn struct {
	conn       *tls.Conn
	sock       tlsSock
	handshaken bool
}

// tlsSock is the net.Conn under a tls.Conn. When the socket would block it parks on the
// conn's loop (conn.waitIO), for at most stall per wait and never past until; with noWait it
// fails at once instead. Both Read and Write fail with os.ErrDeadlineExceeded when they stop
// waiting: crypto/tls treats that error as temporary on reads (the record layer stays
// usable), which is what lets a would-block probe of an idle connection be retried later.
//
// crypto/tls's own deadline calls (SetDeadline and friends, made by closeNotify) are
// ignored: the owner of the conn sets the waits before every call into crypto/tls.
type tlsSock struct {
	c      *conn
	stall  time.Duration // longest single wait; 0: bounded by until alone
	until  int64         // server-relative deadline in ns; 0: none
	noWait bool          // owned by the loop, or probing: never park
	// cork, while not nil, gathers the records crypto/tls writes (see tlsConn.writevWait).
	cork []byte
}

var _ net.Conn = (*tlsSock)(nil)

// errWouldBlock is os.ErrDeadlineExceeded: a net.Error whose Temporary() is true, the only
// kind of read error after which a tls.Conn can be read again.
var errWouldBlock = os.ErrDeadlineExceeded

func (t *tlsSock) wait(events uint32) error {
	if t.noWait {
		return errWouldBlock
	}
	timeout := t.stall
	if t.until != 0 {
		left := time.Duration(t.until - t.c.loop.s.now())
		if left <= 0 {
			return errWouldBlock
		}
		if timeout <= 0 || left < timeout {
			timeout = left
		}
	}
	if err := t.c.waitIO(events, timeout); err != nil {
		if err == errTimeout {
			return errWouldBlock
		}
		return err
	}
	return nil
}

// Read implements net.Conn.
func (t *tlsSock) Read(p []byte) (int, error) {
	return t.c.readFD(p, func() error { return t.wait(unix.EPOLLIN) })
}

// Write implements net.Conn: it writes all of p or fails.
func (t *tlsSock) Write(p []byte) (int, error) {
	if t.cork != nil {
		if len(t.cork)+len(p) > cap(t.cork) {
			if err := t.uncork(); err != nil {
				return 0, err
			}
		}
		if len(p) <= cap(t.cork) {
			t.cork = append(t.cork, p...)
			return len(p), nil
		}
	}
	return t.write(p)
}

// uncork writes the gathered records.
func (t *tlsSock) uncork() error {
	_, err := t.write(t.cork)
	t.cork = t.cork[:0]
	return err
}

func (t *tlsSock) write(p []byte) (int, error) {
	c := t.c
	total := 0
	for total < len(p) {
		n, err := unix.Write(c.fd, p[total:])
		if n > 0 {
			total += n
			c.loop.s.stats.BytesOut.Add(int64(n))
		}
		switch {
		case err == nil, err == unix.EINTR:
		case err == unix.EAGAIN:
			if err := t.wait(unix.EPOLLOUT); err != nil {
				return total, err
			}
		default:
			return total, err
		}
	}
	return total, nil
}

// Close implements net.Conn. It does nothing: the conn's owner closes the descriptor.
func (t *tlsSock) Close() error { return nil }

// LocalAddr implements net.Conn.
func (t *tlsSock) LocalAddr() net.Addr {
	sa, err := unix.Getsockname(t.c.fd)
	if err != nil {
		return &net.TCPAddr{}
	}
	return net.TCPAddrFromAddrPort(addrPort(sa))
}

// RemoteAddr implements net.Conn.
func (t *tlsSock) RemoteAddr() net.Addr { return net.TCPAddrFromAddrPort(t.c.remote) }

// SetDeadline implements net.Conn; see tlsSock.
func (t *tlsSock) SetDeadline(time.Time) error { return nil }

// SetReadDeadline implements net.Conn; see tlsSock.
func (t *tlsSock) SetReadDeadline(time.Time) error { return nil }

// SetWriteDeadline implements net.Conn; see tlsSock.
func (t *tlsSock) SetWriteDeadline(time.Time) error { return nil }

// tlsError maps a crypto/tls error for the body reader and response writer.
func tlsError(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return errTimeout
	}
	return err
}

// readWait is conn.readWait through TLS: one record's worth of plaintext at most.
func (t *tlsConn) readWait(p []byte, timeout time.Duration) (int, error) {
	t.sock.stall, t.sock.until = timeout, 0
	n, err := t.conn.Read(p)
	if n > 0 {
		return n, nil // an error (close_notify) comes back on the next Read
	}
	return 0, tlsError(err)
}

// writevWait is conn.writevWait through TLS. crypto/tls has no vectored write: it seals
// each Write into records and hands each record to the socket on its own. So small buffers
// are gathered into one record first (a head and a small body are sealed once), and the
// records are corked in a pooled 64 KiB block, written when it fills and when the call
// ends: one system call per 64 KiB instead of one per 16 KiB record. Measured in
// BENCHMARKS.md against Config.tlsNoCork; the copy costs less than the system calls saved.
func (t *tlsConn) writevWait(bufs [][]byte, timeout time.Duration, rs *reqState) (int64, error) {
	t.sock.stall, t.sock.until = timeout, 0
	s := t.sock.c.loop.s
	if s.cfg.tlsNoCork {
		return t.sealv(bufs, rs)
	}
	pool := s.pool
	t.sock.cork = pool.Get()[:0]
	n, err := t.sealv(bufs, rs)
	if err == nil {
		err = tlsError(t.sock.uncork())
	}
	pool.Put(t.sock.cork[:cap(t.sock.cork)])
	t.sock.cork = nil
	return n, err
}

// sealv writes bufs through crypto/tls, gathering small buffers into record-sized pieces
// in the request's arena.
func (t *tlsConn) sealv(bufs [][]byte, rs *reqState) (int64, error) {
	if len(bufs) == 1 {
		n, err := t.conn.Write(bufs[0])
		return int64(n), tlsError(err)
	}
	if rs.tlsOut == nil {
		rs.tlsOut = rs.arena.AllocNoZero(tlsRecordSize)[:0]
	}
	var total int64
	out := rs.tlsOut[:0]
	for _, b := range bufs {
		for len(b) > 0 {
			var send []byte
			if len(out) == 0 && len(b) >= cap(out) {
				send, b = b, nil
			} else {
				n := copy(out[len(out):cap(out)], b)
				out, b = out[:len(out)+n], b[n:]
				if len(out) < cap(out) {
					continue // room for more
				}
				send, out = out, out[:0]
			}
			n, err := t.conn.Write(send)
			total += int64(n)
			if err != nil {
				return total, tlsError(err)
			}
		}
	}
	if len(out) > 0 {
		n, err := t.conn.Write(out)
		total += int64(n)
		return total, tlsError(err)
	}
	return total, nil
}

// tlsRecordSize is the largest plaintext of one TLS record.
const tlsRecordSize = 16 << 10

// closeTLS sends a close_notify alert if that takes one non-blocking write, and drops the
// TLS state. Safe under loop.mu: with noWait the socket never parks.
func (c *conn) closeTLS() {
	t := c.tls
	if t == nil {
		return
	}
	c.tls = nil
	if t.handshaken {
		t.sock.noWait = true
		t.conn.CloseWrite()
	}
}

// httpOnHTTPS answers a plain HTTP request on the TLS port, as net/http does.
const httpOnHTTPS = "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"

// handshake completes the TLS handshake before c.headDeadline. On failure it closes c (or
// lingers it after an answer) and returns false.
func (c *conn) handshake() bool {
	l := c.loop
	t := c.tls
	t.sock.stall, t.sock.until = 0, c.headDeadline
	err := t.conn.Handshake()
	if err == nil {
		t.handshaken = true
		return true
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		l.s.stats.HeaderTimeouts.Add(1)
		l.closeConn(c)
		return false
	}
	if l.s.shutdown.Load() {
		l.closeConn(c) // cut by Shutdown (see loop.beginShutdown)
		return false
	}
	l.s.stats.TLSHandshakeErrors.Add(1)
	var rh tls.RecordHeaderError
	if errors.As(err, &rh) && rh.Conn != nil && looksLikeHTTP(rh.RecordHeader) {
		unix.Write(c.fd, unsafeBytes(httpOnHTTPS))
	}
	// Linger: the client may still be sending, and a reset could destroy the alert or the
	// answer it has not read yet.
	l.mu.Lock()
	l.lingerLocked(c)
	l.mu.Unlock()
	return false
}

// looksLikeHTTP reports whether a record header is the start of an HTTP request.
func looksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO", "DELET", "PATCH":
		return true
	}
	return false
}

// serveTLS runs on its own goroutine for a TLS connection its loop found readable: it
// completes the handshake if needed, reads request heads through crypto/tls and serves them
// until the connection closes, or has nothing buffered after a response and goes back to its
// loop as idle.
func (c *conn) serveTLS() {
	s := c.loop.s
	if c.rs == nil {
		c.rs = s.getState() // its ready channel and timer let the socket park
	}
	if c.tls == nil {
		c.tls = &tlsConn{sock: tlsSock{c: c}}
		c.tls.conn = tls.Server(&c.tls.sock, s.cfg.TLS)
	}
	c.tls.sock.noWait = false
	if !c.tls.handshaken && !c.handshake() {
		return
	}
	if c.in == nil {
		c.in = s.pool.Get()
	}
	probe := false // a head is on its way: the loop saw input, or the handshake just ended
	for {
		end, ok := c.readHeadTLS(probe)
		if !ok {
			return // closed, lingering or back with the loop: c is no longer ours
		}
		if _, err := httpwire.ParseHead(c.in[:end], s.cfg.Limits, &c.rs.head); err != nil {
			c.rejectActive(err)
			return
		}
		c.r, c.headEnd, c.scan = end, end, 0
		if !c.setOwnedState(stateActive) {
			return
		}
		c.rs.startRequest(c)
		if !c.serveOne() {
			return
		}
		c.compact()
		probe = true
	}
}

// readHeadTLS reads until c.in holds a complete head and returns its end. With probe, a
// connection with nothing buffered is not waited for: if crypto/tls has no plaintext either,
// it goes back to the loop as idle. Otherwise it waits until c.headDeadline, or
// HeaderTimeout from the first byte of a head that starts now. It returns false when c is no
// longer owned by the caller.
func (c *conn) readHeadTLS(probe bool) (int, bool) {
	l := c.loop
	s := l.s
	t := c.tls
	for {
		if c.w > 0 {
			end, err := httpwire.HeadEnd(c.in[:c.w], c.scan-3, s.cfg.Limits)
			if err != nil {
				c.rejectActive(err)
				return 0, false
			}
			if end >= 0 {
				return end, true
			}
			c.scan = c.w
		}
		if probe && c.w == 0 {
			t.sock.noWait = true
			n, err := t.conn.Read(c.in[c.w:])
			t.sock.noWait = false
			switch {
			case n > 0:
				c.w += n
			case errors.Is(err, errWouldBlock):
				l.handBack(c)
				return 0, false
			default:
				l.closeConn(c)
				return 0, false
			}
		}
		if probe {
			probe = false
			c.headDeadline = s.now() + int64(s.cfg.HeaderTimeout)
			if !c.setOwnedState(stateTLSHead) {
				return 0, false
			}
			continue
		}
		t.sock.stall, t.sock.until = 0, c.headDeadline
		n, err := t.conn.Read(c.in[c.w:])
		switch {
		case n > 0:
			c.w += n
		case errors.Is(err, os.ErrDeadlineExceeded):
			s.stats.HeaderTimeouts.Add(1)
			l.closeConn(c)
			return 0, false
		default:
			l.closeConn(c)
			return 0, false
		}
	}
}

// setOwnedState moves a connection its goroutine owns between stateTLSHead and
// stateActive. During a shutdown it closes c instead, as the loop closes the connections
// still sending a head, and returns false.
func (c *conn) setOwnedState(st connState) bool {
	l := c.loop
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.state == st {
		return true
	}
	if l.closing || l.released {
		l.closeLocked(c)
		return false
	}
	l.setState(c, st)
	return true
}

// dispatchTLS hands a loop-owned TLS connection that has input to a goroutine (loop
// goroutine): the handshake and the record layer run there, where they can block.
func (l *loop) dispatchTLS(c *conn) {
	s := l.s
	l.mu.Lock()
	c.headDeadline = c.deadline // stateHeader: the handshake and first head are due by then
	if c.state == stateIdle {
		c.headDeadline = s.now() + int64(s.cfg.HeaderTimeout)
	}
	l.setState(c, stateTLSHead)
	l.mu.Unlock()
	s.dispatch(c)
}
