package httpserver

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/flashstor/flashstor/internal/httpwire"
	"golang.org/x/sys/unix"
)

// connEvents are the events a connection is armed for; EPOLLONESHOT disarms it after one
// event, so exactly one party (loop or parked handler) reacts, and re-arming is explicit.
const connEvents = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT

// loop is one event loop: an epoll set holding the shared listener and the connections this
// loop accepted.
type loop struct {
	s    *Server
	epfd int
	// epFile wraps epfd for the runtime's network poller (see waitEvents); nil when the
	// loop blocks in epoll_wait instead (Config.blockingLoop).
	epFile  *os.File
	epRaw   syscall.RawConn
	pollFn  func(uintptr) bool // l.pollOnce, bound once so waiting does not allocate
	pollN   int                // results of the last pollOnce
	pollErr error
	wakefd  int // eventfd: Shutdown and Close wake the loop through it
	lnfd    int
	events  []unix.EpollEvent

	// mu guards conns, the three lists, every conn's state/list fields, closing, released,
	// and epoll_ctl on this loop's connections from handler goroutines.
	mu                   sync.Mutex
	conns                map[int32]*conn
	header, idle, linger connList
	closing              bool // shutdown seen: hand-backs close their connection
	released             bool // epfd is closed: nothing may be armed any more
	lnActive             bool // the listener is in the epoll set
	acceptPausedUntil    int64
	scratch              [4096]byte // lingering input is discarded into it (loop goroutine only)
	closeBuf             []byte     // canned error responses are built here (loop goroutine only)
}

func newLoop(s *Server, lnfd int) (*loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("httpserver: epoll_create1: %w", err)
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("httpserver: eventfd: %w", err)
	}
	l := &loop{s: s, epfd: epfd, wakefd: wakefd, lnfd: lnfd, events: make([]unix.EpollEvent, 256),
		conns: make(map[int32]*conn)}
	if !s.cfg.blockingLoop {
		if err := unix.SetNonblock(epfd, true); err != nil {
			l.release()
			return nil, fmt.Errorf("httpserver: epoll fd: %w", err)
		}
		l.epFile = os.NewFile(uintptr(epfd), "epoll")
		l.pollFn = l.pollOnce
		if l.epRaw, err = l.epFile.SyscallConn(); err != nil {
			l.release()
			return nil, fmt.Errorf("httpserver: epoll fd: %w", err)
		}
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wakefd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wakefd)}); err != nil {
		l.release()
		return nil, fmt.Errorf("httpserver: epoll_ctl eventfd: %w", err)
	}
	if err := l.addListener(); err != nil {
		l.release()
		return nil, err
	}
	return l, nil
}

// addListener puts the shared listener in this loop's set. EPOLLEXCLUSIVE wakes one loop per
// incoming connection instead of all of them.
func (l *loop) addListener() error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLEXCLUSIVE, Fd: int32(l.lnfd)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, l.lnfd, &ev); err != nil {
		return fmt.Errorf("httpserver: epoll_ctl listener: %w", err)
	}
	l.lnActive = true
	return nil
}

func (l *loop) removeListener() {
	if l.lnActive {
		unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, l.lnfd, nil)
		l.lnActive = false
	}
}

// wake interrupts epoll_wait.
func (l *loop) wake() {
	one := [8]byte{1}
	unix.Write(l.wakefd, one[:])
}

// release closes the loop's descriptors once it has stopped.
func (l *loop) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.released {
		l.released = true
		if l.epFile != nil {
			l.epFile.Close()
		} else {
			unix.Close(l.epfd)
		}
		unix.Close(l.wakefd)
	}
}

// run is the loop goroutine.
func (l *loop) run() {
	s := l.s
	for {
		if s.closed.Load() {
			l.closeAll()
			return
		}
		if s.shutdown.Load() && !l.closing {
			l.beginShutdown()
		}
		n, err := l.waitEvents()
		if err != nil {
			if !s.closed.Load() {
				s.cfg.Logger.Error("httpserver: epoll_wait", "err", err)
			}
			l.closeAll()
			return
		}
		for i := 0; i < n; i++ {
			ev := &l.events[i]
			switch int(ev.Fd) {
			case l.lnfd:
				l.accept()
			case l.wakefd:
				var b [8]byte
				unix.Read(l.wakefd, b[:])
			default:
				l.connEvent(ev)
			}
		}
		l.expire(s.now())
	}
}

// waitEvents waits for events or the next deadline and returns the number of events.
//
// By default the loop does not block an OS thread in epoll_wait: the epoll descriptor itself
// is registered with the Go runtime's network poller (an epoll set is readable when it has
// ready events), and the loop goroutine parks there like any network goroutine, with a read
// deadline for the next connection deadline. The handler goroutine started for a request
// then runs on the P the loop just left instead of waiting for another thread to be woken
// (or for sysmon to retake the P from a thread blocked in a system call). Measured in
// BENCHMARKS.md against Config.blockingLoop, which blocks in epoll_wait directly.
func (l *loop) waitEvents() (int, error) {
	timeout := l.timeoutMillis()
	if l.epFile == nil {
		for {
			n, err := unix.EpollWait(l.epfd, l.events, timeout)
			if err != unix.EINTR {
				return n, err
			}
		}
	}
	n, err := unix.EpollWait(l.epfd, l.events, 0)
	if n > 0 || timeout == 0 || err != nil && err != unix.EINTR && err != unix.EAGAIN {
		return max(n, 0), err
	}
	l.epFile.SetReadDeadline(time.Now().Add(time.Duration(timeout) * time.Millisecond))
	rerr := l.epRaw.Read(l.pollFn)
	n, werr := l.pollN, l.pollErr
	switch {
	case errors.Is(rerr, os.ErrDeadlineExceeded):
		return 0, nil
	case rerr != nil:
		return 0, rerr
	case werr != nil && n <= 0:
		return 0, werr
	}
	return n, nil
}

// pollOnce is the callback of epRaw.Read: a non-blocking epoll_wait that reports whether
// the loop has something to do (false parks the goroutine until epfd is readable).
func (l *loop) pollOnce(uintptr) bool {
	l.pollN, l.pollErr = unix.EpollWait(l.epfd, l.events, 0)
	return l.pollN > 0 || l.pollErr != nil && l.pollErr != unix.EINTR && l.pollErr != unix.EAGAIN
}

// timeoutMillis returns how long epoll_wait may sleep: until the earliest deadline, at most
// 250 ms so that a deadline pushed onto an empty list is never missed by more than that.
func (l *loop) timeoutMillis() int {
	now := l.s.now()
	wait := int64(250 * time.Millisecond)
	l.mu.Lock()
	for _, list := range []*connList{&l.header, &l.idle, &l.linger} {
		if list.head != nil {
			wait = min(wait, list.head.deadline-now)
		}
	}
	l.mu.Unlock()
	if l.acceptPausedUntil > 0 {
		wait = min(wait, l.acceptPausedUntil-now)
	}
	if wait <= 0 {
		return 0
	}
	return int((wait + int64(time.Millisecond) - 1) / int64(time.Millisecond))
}

// accept takes pending connections off the listener.
func (l *loop) accept() {
	s := l.s
	for range 64 {
		fd, sa, err := unix.Accept4(l.lnfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if err != nil {
			switch {
			case err == unix.EAGAIN:
			case err == unix.EINTR, err == unix.ECONNABORTED:
				continue
			case err == unix.EMFILE, err == unix.ENFILE:
				// Out of descriptors: the level-triggered listener would spin the loop, so
				// leave the queue alone for a while.
				s.cfg.Logger.Warn("httpserver: accept: out of file descriptors", "err", err)
				l.removeListener()
				l.acceptPausedUntil = s.now() + int64(100*time.Millisecond)
			case s.shutdown.Load():
				// The listener was shut down under us: nothing to report.
			default:
				s.cfg.Logger.Error("httpserver: accept", "err", err)
			}
			return
		}
		s.stats.Accepted.Add(1)
		if s.shutdown.Load() {
			unix.Close(fd)
			continue
		}
		if s.stats.Open.Add(1) > int64(s.cfg.MaxConns) {
			s.stats.Open.Add(-1)
			s.stats.LimitRejections.Add(1)
			if s.cfg.TLS == nil { // a TLS client could not read a plain answer
				unix.Write(fd, l.cannedResponse(503))
			}
			unix.Close(fd)
			continue
		}
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		c := &conn{fd: fd, gen: s.gen.Add(1), loop: l, remote: addrPort(sa)}
		l.mu.Lock()
		l.conns[int32(fd)] = c
		c.state = stateHeader
		l.header.push(c, s.now()+int64(s.cfg.HeaderTimeout))
		err = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: connEvents, Fd: int32(fd), Pad: int32(c.gen)})
		l.mu.Unlock()
		if err != nil {
			s.cfg.Logger.Error("httpserver: epoll_ctl add", "err", err)
			l.closeConn(c)
		}
	}
}

func addrPort(sa unix.Sockaddr) netip.AddrPort {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr).Unmap(), uint16(a.Port))
	}
	return netip.AddrPort{}
}

// arm re-arms a loop-owned connection for input.
func (l *loop) arm(c *conn) {
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, c.fd, &unix.EpollEvent{Events: connEvents, Fd: int32(c.fd), Pad: int32(c.gen)}); err != nil {
		l.s.cfg.Logger.Error("httpserver: epoll_ctl mod", "err", err)
		l.closeConn(c)
	}
}

// armLocked arms an active connection for events (EPOLLIN or EPOLLOUT) on behalf of its
// parked handler, under mu so that it cannot race with the loop releasing its epoll set.
func (l *loop) armLocked(c *conn, events uint32) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.released {
		return errConnClosed
	}
	ev := unix.EpollEvent{Events: events | unix.EPOLLRDHUP | unix.EPOLLONESHOT, Fd: int32(c.fd), Pad: int32(c.gen)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, c.fd, &ev); err != nil {
		return fmt.Errorf("httpserver: epoll_ctl: %w", err)
	}
	return nil
}

// connEvent handles readiness of a connection.
func (l *loop) connEvent(ev *unix.EpollEvent) {
	l.mu.Lock()
	c := l.conns[ev.Fd]
	if c == nil || c.gen != uint32(ev.Pad) {
		l.mu.Unlock()
		return
	}
	state := c.state
	l.mu.Unlock()
	switch state {
	case stateActive, stateTLSHead:
		c.wakeWaiter()
	case stateLinger:
		l.discard(c)
	case stateHeader, stateIdle:
		l.readHead(c)
	}
}

// readHead reads into a loop-owned connection's buffer and dispatches a complete head.
func (l *loop) readHead(c *conn) {
	s := l.s
	if s.cfg.TLS != nil {
		l.dispatchTLS(c)
		return
	}
	if c.in == nil {
		c.in = s.pool.Get()
	}
	n, err := unix.Read(c.fd, c.in[c.w:])
	switch {
	case n > 0:
		c.w += n
		s.stats.BytesIn.Add(int64(n))
	case err == unix.EAGAIN || err == unix.EINTR:
		if c.w == 0 {
			s.pool.Put(c.in)
			c.in = nil
		}
		l.arm(c)
		return
	default: // EOF or error
		l.closeConn(c)
		return
	}
	end, perr := httpwire.HeadEnd(c.in[:c.w], c.scan-3, s.cfg.Limits)
	if perr != nil {
		l.reject(c, perr)
		return
	}
	if end < 0 {
		c.scan = c.w
		l.mu.Lock()
		if c.state == stateIdle { // first byte of the next request: the head deadline starts
			l.setState(c, stateHeader)
			l.header.push(c, s.now()+int64(s.cfg.HeaderTimeout))
		}
		l.mu.Unlock()
		l.arm(c)
		return
	}
	if !l.parse(c, end) {
		return
	}
	l.mu.Lock()
	l.setState(c, stateActive)
	l.mu.Unlock()
	s.dispatch(c)
}

// parse parses the complete head in c.in[:end] into a fresh request state. On a malformed
// head it answers and lingers the connection, and returns false.
func (l *loop) parse(c *conn, end int) bool {
	rs := l.s.getState()
	if _, err := httpwire.ParseHead(c.in[:end], l.s.cfg.Limits, &rs.head); err != nil {
		l.s.putState(rs)
		l.reject(c, err)
		return false
	}
	c.rs, c.r, c.headEnd, c.scan = rs, end, end, 0
	rs.startRequest(c)
	return true
}

// setState moves c to st, keeping the Idle and Active gauges. Caller holds mu.
func (l *loop) setState(c *conn, st connState) {
	c.unlink()
	switch c.state {
	case stateIdle:
		l.s.stats.Idle.Add(-1)
	case stateActive:
		l.s.stats.Active.Add(-1)
	}
	switch st {
	case stateIdle:
		l.s.stats.Idle.Add(1)
	case stateActive:
		l.s.stats.Active.Add(1)
	}
	c.state = st
}

// reject answers a malformed head and lingers the connection (loop goroutine).
func (l *loop) reject(c *conn, err error) {
	status := 400
	var perr *httpwire.Error
	if errors.As(err, &perr) {
		l.s.stats.Malformed[perr.Reason].Add(1)
		status = perr.Status()
	}
	unix.Write(c.fd, l.cannedResponse(status))
	l.mu.Lock()
	l.lingerLocked(c)
	l.mu.Unlock()
}

// cannedResponse renders a body-less response that closes the connection.
func (l *loop) cannedResponse(status int) []byte {
	b := httpwire.AppendStatusLine(l.closeBuf[:0], status)
	b = append(b, "Connection: close\r\nContent-Length: 0\r\n\r\n"...)
	l.closeBuf = b
	return b
}
