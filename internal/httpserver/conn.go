package httpserver

import (
	"io"
	"net/netip"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

type connState uint8

const (
	stateHeader connState = iota // loop-owned, waiting for (the rest of) a request head
	stateIdle                    // loop-owned, keep-alive, no byte of the next request yet
	stateActive                  // owned by its serve goroutine
	stateLinger                  // loop-owned, write side shut, discarding input before close
	stateClosed
	// stateTLSHead: TLS only, owned by its serve goroutine, which completes the handshake
	// or waits for the rest of a head through crypto/tls, by headDeadline.
	stateTLSHead
)

// conn is one client connection on the epoll transport.
//
// Ownership: in stateHeader, stateIdle and stateLinger only the conn's loop goroutine
// touches it; in stateActive and stateTLSHead only its serve goroutine does, except parked
// (atomic) and rs.ready, through which the loop wakes a parked handler, and the shutdown(2)
// of a hard Close (or, in stateTLSHead, of a Shutdown). Ownership passes loop -> serve goroutine with the go statement, and back under
// loop.mu. The fd is closed only by the owner, after removing the conn from loop.conns
// under loop.mu, so no one else can act on a reused descriptor number.
type conn struct {
	fd     int
	gen    uint32 // copied into epoll events to recognise stale ones
	loop   *loop
	remote netip.AddrPort

	// GUARDED_BY(loop.mu): state, list links, deadline.
	state      connState
	prev, next *conn
	list       *connList
	deadline   int64

	// Owner-only. INVARIANT: in is nil or a pool block; 0 <= r <= w <= len(in); in[r:w] are
	// received bytes not yet consumed. While a request is active, in[:headEnd] holds its
	// head (the views of its Request) and body bytes are buffered after it.
	in      []byte
	r, w    int
	headEnd int
	scan    int       // bytes of in already scanned for the end of a head
	rs      *reqState // per-request state while a request is parsed or active
	lingerN int64     // bytes discarded while lingering

	// Owner-only, TLS connections (Config.TLS) only. tls is nil until the first input
	// arrives; it outlives requests and idle periods, and is dropped when c closes or
	// lingers. headDeadline is when the handshake and head being read are due.
	tls          *tlsConn
	headDeadline int64

	parked atomic.Bool // a handler waits for readiness in waitIO (park mode)
}

// waitMode is how a handler goroutine waits until its non-blocking socket is ready.
//
// Parking on the event loop (the default) costs an epoll_ctl to re-arm EPOLLONESHOT plus a
// wake-up through the loop; poll(2) blocks the handler's OS thread instead. Measured on 1 MiB
// PUTs, which block on nearly every read (BENCHMARKS.md), parking was as fast or faster, and
// it never pins an OS thread per stalled client: with poll(2), 10,000 slow uploads would reach
// the runtime's 10,000-thread limit and crash the process. Switching the fd to blocking mode
// with SO_RCVTIMEO pins threads the same way and costs two fcntl calls per request.
type waitMode uint8

const (
	waitPark waitMode = iota // re-arm EPOLLONESHOT in the loop's epoll and wait for its signal
	waitPoll                 // poll(2) on the fd from the handler goroutine
)

// errConnClosed reports I/O on a connection whose loop is gone.
var errConnClosed = io.ErrClosedPipe

// waitIO blocks until the fd is ready for events (EPOLLIN or EPOLLOUT), at most timeout.
// It returns errTimeout when the time ran out.
func (c *conn) waitIO(events uint32, timeout time.Duration) error {
	if c.loop.s.cfg.wait == waitPoll {
		pe := int16(unix.POLLIN)
		if events == unix.EPOLLOUT {
			pe = unix.POLLOUT
		}
		fds := [1]unix.PollFd{{Fd: int32(c.fd), Events: pe}}
		for {
			n, err := unix.Poll(fds[:], int(timeout/time.Millisecond)+1)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return err
			}
			if n == 0 {
				return errTimeout
			}
			return nil
		}
	}
	rs := c.rs
	c.parked.Store(true)
	if err := c.loop.armLocked(c, events); err != nil {
		c.parked.Store(false)
		return err
	}
	rs.timer.Reset(timeout)
	select {
	case <-rs.ready:
		rs.timer.Stop()
		return nil
	case <-rs.timer.C:
		if c.parked.CompareAndSwap(true, false) {
			return errTimeout
		}
		<-rs.ready // the loop won the race: its signal is on the way
		return nil
	}
}

// wakeWaiter is called by the loop when an active conn's fd is ready.
func (c *conn) wakeWaiter() {
	if c.parked.CompareAndSwap(true, false) {
		select {
		case c.rs.ready <- struct{}{}:
		default:
		}
	}
}

var errTimeout = errorString("i/o timeout")

type errorString string

func (e errorString) Error() string { return string(e) }

// readWait reads into p, waiting up to timeout (per wait) for data. It returns io.EOF when
// the peer closed its side.
func (c *conn) readWait(p []byte, timeout time.Duration) (int, error) {
	if c.tls != nil {
		return c.tls.readWait(p, timeout)
	}
	return c.readFD(p, func() error { return c.waitIO(unix.EPOLLIN, timeout) })
}

// readFD reads from the socket into p, calling wait whenever the socket has nothing yet;
// it returns io.EOF when the peer closed its side. Plain reads and the TLS adapter's share
// it; they differ only in how they wait.
func (c *conn) readFD(p []byte, wait func() error) (int, error) {
	for {
		n, err := unix.Read(c.fd, p)
		switch {
		case n > 0:
			c.loop.s.stats.BytesIn.Add(int64(n))
			return n, nil
		case err == nil:
			return 0, io.EOF
		case err == unix.EINTR:
		case err == unix.EAGAIN:
			if err := wait(); err != nil {
				return 0, err
			}
		default:
			return 0, err
		}
	}
}

// writevWait writes every byte of bufs, waiting up to timeout (per wait) for room in the
// socket buffer. bufs is consumed (its elements are re-sliced).
func (c *conn) writevWait(bufs [][]byte, timeout time.Duration) (int64, error) {
	if c.tls != nil {
		return c.tls.writevWait(bufs, timeout, c.rs)
	}
	var total int64
	for len(bufs) > 0 {
		if len(bufs[0]) == 0 {
			bufs = bufs[1:]
			continue
		}
		batch := bufs
		if len(batch) > 1024 { // IOV_MAX
			batch = batch[:1024]
		}
		n, err := unix.Writev(c.fd, batch)
		if n > 0 {
			total += int64(n)
			c.loop.s.stats.BytesOut.Add(int64(n))
			for n > 0 {
				if n >= len(bufs[0]) {
					n -= len(bufs[0])
					bufs = bufs[1:]
					continue
				}
				bufs[0] = bufs[0][n:]
				n = 0
			}
		}
		switch {
		case err == nil, err == unix.EINTR:
		case err == unix.EAGAIN:
			if err := c.waitIO(unix.EPOLLOUT, timeout); err != nil {
				return total, err
			}
		default:
			return total, err
		}
	}
	return total, nil
}
