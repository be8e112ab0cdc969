package httpserver

import (
	"golang.org/x/sys/unix"
)

// maxLingerBytes bounds how much input a lingering connection discards before it is cut.
const maxLingerBytes = 1 << 20

// closeConn closes c, which the caller owns.
func (l *loop) closeConn(c *conn) {
	l.mu.Lock()
	l.closeLocked(c)
	l.mu.Unlock()
}

// closeLocked closes c and gives its buffers back. Caller holds mu and owns c (the loop
// owns every conn it finds in its lists).
func (l *loop) closeLocked(c *conn) {
	if c.state == stateClosed {
		return
	}
	l.setState(c, stateClosed)
	delete(l.conns, int32(c.fd))
	c.closeTLS()
	unix.Close(c.fd)
	c.releaseBuffers()
	l.s.stats.Open.Add(-1)
}

// releaseBuffers returns the input block and the request state to their pools.
func (c *conn) releaseBuffers() {
	s := c.loop.s
	if c.in != nil {
		s.pool.Put(c.in)
		c.in = nil
	}
	c.r, c.w, c.headEnd, c.scan = 0, 0, 0, 0
	if c.rs != nil {
		s.putState(c.rs)
		c.rs = nil
	}
}

// lingerLocked shuts the write side of c and lets the loop discard its input until the peer
// closes or LingerTimeout passes. Closing a socket with unread input makes the kernel send a
// reset, which can destroy the response the client has not read yet (RFC 9112 §9.6).
// Caller holds mu and owns c; ownership passes to the loop.
func (l *loop) lingerLocked(c *conn) {
	c.closeTLS()
	unix.Shutdown(c.fd, unix.SHUT_WR)
	c.releaseBuffers()
	if l.released || l.s.closed.Load() {
		l.closeLocked(c)
		return
	}
	l.setState(c, stateLinger)
	c.lingerN = 0
	l.linger.push(c, l.s.now()+int64(l.s.cfg.LingerTimeout))
	ev := unix.EpollEvent{Events: connEvents, Fd: int32(c.fd), Pad: int32(c.gen)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, c.fd, &ev); err != nil {
		l.closeLocked(c)
	}
}

// discard reads and drops the input of a lingering connection.
func (l *loop) discard(c *conn) {
	for range 16 {
		n, err := unix.Read(c.fd, l.scratch[:])
		switch {
		case n > 0:
			c.lingerN += int64(n)
			if c.lingerN > maxLingerBytes {
				l.closeConn(c)
				return
			}
		case err == unix.EAGAIN || err == unix.EINTR:
			l.arm(c)
			return
		default:
			l.closeConn(c)
			return
		}
	}
	l.arm(c)
}

// handBack returns a connection whose request is done to the loop, to wait for the next
// request (idle when no byte of it arrived yet, else head-reading). Called by the serve
// goroutine, which must not touch c afterwards.
func (l *loop) handBack(c *conn) {
	s := l.s
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing || l.released {
		l.closeLocked(c)
		return
	}
	if c.w == 0 {
		c.releaseBuffers() // an idle connection holds no block
		l.setState(c, stateIdle)
		l.idle.push(c, s.now()+int64(s.cfg.IdleTimeout))
	} else {
		if c.rs != nil {
			s.putState(c.rs)
			c.rs = nil
		}
		l.setState(c, stateHeader)
		l.header.push(c, s.now()+int64(s.cfg.HeaderTimeout))
	}
	ev := unix.EpollEvent{Events: connEvents, Fd: int32(c.fd), Pad: int32(c.gen)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, c.fd, &ev); err != nil {
		l.closeLocked(c)
	}
}

// expire closes the connections whose deadline passed.
func (l *loop) expire(now int64) {
	s := l.s
	l.mu.Lock()
	for c := l.header.head; c != nil && c.deadline <= now; c = l.header.head {
		s.stats.HeaderTimeouts.Add(1)
		l.closeLocked(c)
	}
	for c := l.idle.head; c != nil && c.deadline <= now; c = l.idle.head {
		s.stats.IdleTimeouts.Add(1)
		l.closeLocked(c)
	}
	for c := l.linger.head; c != nil && c.deadline <= now; c = l.linger.head {
		l.closeLocked(c)
	}
	l.mu.Unlock()
	if l.acceptPausedUntil > 0 && now >= l.acceptPausedUntil {
		l.acceptPausedUntil = 0
		if !s.shutdown.Load() {
			if err := l.addListener(); err != nil {
				s.cfg.Logger.Error("httpserver: re-adding listener", "err", err)
			}
		}
	}
}

// beginShutdown stops accepting and closes the loop's idle connections and those still
// sending a head; requests in flight close their connection when done. A TLS connection
// in its handshake or head, owned by its goroutine, is shut down and woken: its goroutine
// closes it.
func (l *loop) beginShutdown() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closing = true
	l.removeListener()
	for _, list := range []*connList{&l.idle, &l.header} {
		for c := list.head; c != nil; c = list.head {
			l.closeLocked(c)
		}
	}
	if l.s.cfg.TLS != nil {
		for _, c := range l.conns {
			if c.state == stateTLSHead {
				unix.Shutdown(c.fd, unix.SHUT_RDWR)
				c.wakeWaiter()
			}
		}
	}
}

// closeAll is the hard Close: every loop-owned connection is closed; those running a
// handler are shut down (not closed: their goroutine owns the descriptor) and woken.
func (l *loop) closeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closing = true
	l.removeListener()
	for _, c := range l.conns {
		if c.state == stateActive || c.state == stateTLSHead {
			unix.Shutdown(c.fd, unix.SHUT_RDWR)
			c.wakeWaiter()
			continue
		}
		l.closeLocked(c)
	}
}
