package httpserver

import (
	"errors"
	"runtime"
	"time"

	"github.com/flashstor/flashstor/internal/httpwire"
	"golang.org/x/sys/unix"
)

// workerIdle is how long a worker goroutine waits for another request before it exits.
const workerIdle = 5 * time.Second

// dispatch runs c.serve on a goroutine: an idle worker if one is waiting, else a new one.
// Reusing workers keeps their grown stacks (a fresh goroutine's stack grows, by copying,
// on every request) and avoids the allocation of a go statement; workers exit after
// workerIdle without work, so idle connections still hold no goroutine.
func (s *Server) dispatch(c *conn) {
	if s.cfg.noWorkers {
		go c.serve()
		return
	}
	select {
	case s.work <- c:
	default:
		go s.worker(c)
	}
}

// maxIdleWorkers bounds the workers kept waiting for work: after a burst of requests the
// surplus exits at once instead of holding a grown stack for workerIdle.
const maxIdleWorkers = 128

func (s *Server) worker(c *conn) {
	c.serve()
	t := time.NewTimer(workerIdle)
	defer t.Stop()
	for {
		if s.idleWorkers.Add(1) > maxIdleWorkers {
			s.idleWorkers.Add(-1)
			return
		}
		select {
		case c = <-s.work:
			s.idleWorkers.Add(-1)
			c.serve()
			t.Reset(workerIdle)
		case <-t.C:
			s.idleWorkers.Add(-1)
			return
		case <-s.done:
			s.idleWorkers.Add(-1)
			return
		}
	}
}

// serve runs on its own goroutine for an active connection: it serves the parsed request,
// then any pipelined request already buffered, then hands the connection back to its loop.
func (c *conn) serve() {
	l := c.loop
	if l.s.cfg.TLS != nil {
		c.serveTLS()
		return
	}
	for range maxPipelined {
		if !c.serveOne() {
			return // closed or lingering: the serve goroutine no longer owns c
		}
		c.compact()
		if c.w == 0 {
			break
		}
		end, err := httpwire.HeadEnd(c.in[:c.w], 0, l.s.cfg.Limits)
		if err == nil && end >= 0 {
			_, err = httpwire.ParseHead(c.in[:end], l.s.cfg.Limits, &c.rs.head)
			if err == nil {
				c.r, c.headEnd = end, end
				c.rs.startRequest(c)
				continue
			}
		}
		if err != nil {
			c.rejectActive(err)
			return
		}
		c.scan = c.w // an incomplete head: the loop reads the rest
		break
	}
	l.handBack(c)
}

// maxPipelined bounds how many buffered requests one serve goroutine handles before giving
// the connection back to its loop, so a pipelining client cannot monopolise it.
const maxPipelined = 64

// serveOne runs the handler for the current request and completes the response. It reports
// whether the connection stays open for another request; when it returns false the
// connection was closed or handed to the loop to linger.
func (c *conn) serveOne() bool {
	s := c.loop.s
	rs := c.rs
	s.stats.Requests.Add(1)
	w := &rs.resp
	var err error
	if !c.runHandler(rs) {
		if !w.failPanic() {
			c.loop.closeConn(c) // part of a response went out: cut it
			return false
		}
	}
	err = w.finish()
	body := &rs.body
	keep := err == nil && !w.closeAfter && !s.shutdown.Load() && body.skip(s.cfg.MaxDrain)
	if keep {
		rs.endRequest()
		return true
	}
	if err != nil || body.broken && !isProtocolError(body.err) {
		c.loop.closeConn(c) // the peer is gone or stalled: nothing to linger for
		return false
	}
	l := c.loop
	l.mu.Lock()
	l.lingerLocked(c)
	l.mu.Unlock()
	return false
}

func isProtocolError(err error) bool {
	var perr *httpwire.Error
	return errors.As(err, &perr)
}

// runHandler calls the handler, recovering a panic. It reports false after a panic.
func (c *conn) runHandler(rs *reqState) (ok bool) {
	s := c.loop.s
	defer func() {
		if ok {
			return
		}
		v := recover()
		s.stats.Panics.Add(1)
		if v != ErrAbortHandler {
			buf := make([]byte, 16<<10)
			buf = buf[:runtime.Stack(buf, false)]
			s.cfg.Logger.Error("httpserver: handler panic", "panic", v, "remote", c.remote.String(),
				"method", rs.req.Method, "path", string(rs.req.Path), "stack", string(buf))
		}
	}()
	s.cfg.Handler.ServeHTTP1(&rs.resp, &rs.req)
	return true
}

// compact moves the unconsumed input (the start of a pipelined request) to the front of the
// buffer, now that the previous request's head is no longer referenced.
func (c *conn) compact() {
	n := copy(c.in, c.in[c.r:c.w])
	c.r, c.w, c.headEnd, c.scan = 0, n, 0, 0
}

// rejectActive answers a malformed pipelined head from the serve goroutine and lingers.
func (c *conn) rejectActive(err error) {
	s := c.loop.s
	status := 400
	var perr *httpwire.Error
	if errors.As(err, &perr) {
		s.stats.Malformed[perr.Reason].Add(1)
		status = perr.Status()
	}
	var buf [128]byte
	b := httpwire.AppendStatusLine(buf[:0], status)
	b = append(b, "Connection: close\r\nContent-Length: 0\r\n\r\n"...)
	if c.tls != nil {
		c.tls.writevWait([][]byte{b}, s.cfg.WriteTimeout, c.rs)
	} else {
		unix.Write(c.fd, b)
	}
	l := c.loop
	l.mu.Lock()
	l.lingerLocked(c)
	l.mu.Unlock()
}
