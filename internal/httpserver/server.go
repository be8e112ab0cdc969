package httpserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/flashstor/flashstor/internal/arena"
	"github.com/flashstor/flashstor/internal/httpwire"
	"golang.org/x/sys/unix"
)

// Errors returned by the server and by request bodies and response writers.
var (
	ErrServerClosed = errors.New("httpserver: server closed")
	ErrBodyTimeout  = errors.New("httpserver: request body read timed out")
	// ErrClientReset wraps a body read that failed because the client reset or abandoned
	// the connection: the client's doing, not the server's.
	ErrClientReset   = errors.New("httpserver: the client reset the connection")
	ErrWriteTimeout  = errors.New("httpserver: response write timed out")
	ErrContentLength = errors.New("httpserver: wrote more than the declared Content-Length")
	ErrAbortHandler  = errors.New("httpserver: abort handler") // panic with it to abort quietly
)

// DefaultIdleTimeout is Config.IdleTimeout's default: how long an idle keep-alive
// connection is kept open. A client that keeps its idle connections longer may send a
// request on one the server is closing, and see it fail.
const DefaultIdleTimeout = 60 * time.Second

// Config configures a Server. Zero fields take the defaults shown.
type Config struct {
	Handler Handler // required

	Loops           int             // event loops; default runtime.NumCPU()
	MaxConns        int             // open connections beyond which new ones are refused; default 65536
	HeaderTimeout   time.Duration   // to receive a whole head, from the first byte (or accept); default 10s
	IdleTimeout     time.Duration   // keep-alive wait for the next request; default DefaultIdleTimeout
	BodyReadTimeout time.Duration   // longest stall while reading a body; default 30s
	WriteTimeout    time.Duration   // longest stall while writing a response; default 30s
	LingerTimeout   time.Duration   // how long unread input is discarded before closing, in all; default 2s
	MaxDrain        int64           // unread body bytes, already received, skipped to keep a connection; default 256 KiB
	Limits          httpwire.Limits // head limits; default httpwire.DefaultLimits
	MaxPooledBlocks int             // idle 64 KiB blocks kept for reuse; default 1024 (64 MiB)
	Logger          *slog.Logger    // for panics and accept errors; default slog.Default()
	// TLS, if set, makes every connection speak TLS (1.2 at least, whatever MinVersion
	// says); nil serves plain TCP. Certificates come from it at each handshake
	// (GetCertificate can switch them at any time). See the package comment.
	TLS *tls.Config
	// OnArenaLeak receives arena memory still referenced after its request ended
	// (-tags arenadebug builds only; the default logs it).
	OnArenaLeak func(arena.Leak)

	// wait selects how a handler goroutine waits for a non-blocking socket (benchmarks).
	wait waitMode
	// blockingLoop makes loops block in epoll_wait instead of parking on the runtime's
	// poller (benchmarks).
	blockingLoop bool
	// noWorkers starts a goroutine per request instead of reusing workers (benchmarks).
	noWorkers bool
	// tlsNoCork writes each TLS record with its own system call (benchmarks).
	tlsNoCork bool
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.Loops <= 0 {
		c.Loops = runtime.NumCPU()
	}
	if c.MaxConns <= 0 {
		c.MaxConns = 65536
	}
	def(&c.HeaderTimeout, 10*time.Second)
	def(&c.IdleTimeout, DefaultIdleTimeout)
	def(&c.BodyReadTimeout, 30*time.Second)
	def(&c.WriteTimeout, 30*time.Second)
	def(&c.LingerTimeout, defaultLingerTimeout)
	if c.MaxDrain <= 0 {
		c.MaxDrain = 256 << 10
	}
	if c.Limits.MaxRequestLine <= 0 {
		c.Limits.MaxRequestLine = httpwire.DefaultLimits.MaxRequestLine
	}
	if c.Limits.MaxHeadBytes <= 0 {
		c.Limits.MaxHeadBytes = httpwire.DefaultLimits.MaxHeadBytes
	}
	if c.Limits.MaxFields <= 0 {
		c.Limits.MaxFields = httpwire.DefaultLimits.MaxFields
	}
	// The head and at least as much body buffering must fit in one input block.
	c.Limits.MaxHeadBytes = min(c.Limits.MaxHeadBytes, arena.BlockSize/2)
	if c.MaxPooledBlocks <= 0 {
		c.MaxPooledBlocks = 1024
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.TLS != nil {
		c.TLS = c.TLS.Clone() // the caller may keep changing theirs
		c.TLS.MinVersion = max(c.TLS.MinVersion, tls.VersionTLS12)
	}
}

// defaultLingerTimeout bounds, in all, the time a connection that is closing discards
// input, so that the client can read the response first (see loop.lingerLocked); the
// net/http adapter bounds its discard of an unread body with it too.
const defaultLingerTimeout = 2 * time.Second

// Server is the epoll HTTP/1.1 server. Several may run in one process: all state hangs off
// the Server value.
type Server struct {
	cfg   Config
	pool  *arena.Pool
	stats Stats
	epoch time.Time // origin of the monotonic nanosecond clock used for deadlines
	dates dateCache

	// states recycles per-request state (request, response, arena) between requests.
	states sync.Pool
	// work hands a connection with a parsed request to an idle worker goroutine (see
	// dispatch); unbuffered, so a send succeeds only when a worker is waiting.
	work        chan *conn
	idleWorkers atomic.Int64  // workers waiting on work
	gen         atomic.Uint32 // connection generations, to drop stale epoll events

	baseCtx    context.Context
	cancelBase context.CancelFunc

	mu       sync.Mutex // guards lnFD, loops, serving, and the transitions of shutdown/closed
	lnFD     int
	ln       net.Listener
	loops    []*loop
	serving  bool
	loopsWG  sync.WaitGroup
	shutdown atomic.Bool // Shutdown or Close called: stop accepting, close idle connections
	closed   atomic.Bool // Close called, or Shutdown done: loops exit
	done     chan struct{}
}

// New returns a Server for cfg. Call Serve or ListenAndServe to run it.
func New(cfg Config) (*Server, error) {
	if cfg.Handler == nil {
		return nil, errors.New("httpserver: Config.Handler is nil")
	}
	cfg.setDefaults()
	s := &Server{cfg: cfg, pool: arena.NewPool(cfg.MaxPooledBlocks), epoch: time.Now(), lnFD: -1,
		done: make(chan struct{}), work: make(chan *conn)}
	s.stats.pool = s.pool
	if cfg.OnArenaLeak != nil {
		s.pool.SetLeakHandler(cfg.OnArenaLeak)
	}
	s.baseCtx, s.cancelBase = context.WithCancel(context.Background())
	s.states.New = func() any { return newReqState(s) }
	return s, nil
}

// Stats returns the server's live counters.
func (s *Server) Stats() *Stats { return &s.stats }

// Pool returns the block pool shared by the server's connections.
func (s *Server) Pool() *arena.Pool { return s.pool }

// now returns monotonic nanoseconds since the server was created.
func (s *Server) now() int64 { return int64(time.Since(s.epoch)) }

// ListenAndServe listens on the TCP address addr and serves.
func (s *Server) ListenAndServe(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("httpserver: listen: %w", err)
	}
	return s.Serve(ln)
}

// Serve runs the event loops on ln, a *net.TCPListener (or anything with a SyscallConn whose
// descriptor is a listening socket), until Shutdown or Close. It takes ownership of ln and
// returns ErrServerClosed after a Shutdown or Close.
func (s *Server) Serve(ln net.Listener) error {
	fd, err := listenerFD(ln)
	if err != nil {
		ln.Close()
		return err
	}
	s.mu.Lock()
	if s.serving || s.shutdown.Load() {
		s.mu.Unlock()
		unix.Close(fd)
		ln.Close()
		return ErrServerClosed
	}
	s.serving, s.lnFD, s.ln = true, fd, ln
	for i := 0; i < s.cfg.Loops; i++ {
		l, err := newLoop(s, fd)
		if err != nil {
			s.mu.Unlock()
			s.Close()
			return err
		}
		s.loops = append(s.loops, l)
	}
	for _, l := range s.loops {
		s.loopsWG.Add(1)
		go func() {
			defer s.loopsWG.Done()
			l.run()
		}()
	}
	s.mu.Unlock()
	<-s.done
	return ErrServerClosed
}

// Addr returns the listener's address, or nil before Serve.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// listenerFD returns a non-blocking duplicate of ln's socket descriptor.
func listenerFD(ln net.Listener) (int, error) {
	sc, ok := ln.(interface {
		SyscallConn() (syscall.RawConn, error)
	})
	if !ok {
		return -1, fmt.Errorf("httpserver: listener %T has no SyscallConn", ln)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, fmt.Errorf("httpserver: listener: %w", err)
	}
	fd, dupErr := -1, error(nil)
	if err := rc.Control(func(orig uintptr) {
		fd, dupErr = unix.FcntlInt(orig, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return -1, fmt.Errorf("httpserver: listener: %w", err)
	}
	if dupErr != nil {
		return -1, fmt.Errorf("httpserver: dup listener: %w", dupErr)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("httpserver: listener: %w", err)
	}
	return fd, nil
}

// Shutdown stops accepting, closes idle connections, lets requests in flight finish (their
// connections close after the response) and returns once every connection is closed. If
// ctx ends first it returns ctx.Err() and connections stay open: call Close to cut them.
func (s *Server) Shutdown(ctx context.Context) error {
	s.beginShutdown()
	wait := time.Millisecond
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for s.stats.Open.Load() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
		wait = min(2*wait, 50*time.Millisecond)
		timer.Reset(wait)
	}
	s.stopLoops()
	return nil
}

// Close closes the listener and every connection at once: idle ones are closed, those
// running a handler are shut down so the handler's next read or write fails. It does not
// wait for handlers to return.
func (s *Server) Close() error {
	s.closed.Store(true)
	s.beginShutdown()
	s.stopLoops()
	return nil
}

func (s *Server) beginShutdown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutdown.Swap(true) {
		for _, l := range s.loops {
			l.wake()
		}
		return
	}
	if s.ln != nil {
		s.ln.Close()
	}
	if s.lnFD >= 0 {
		// Stop listening now: new connections are refused instead of queueing in the backlog
		// until the loops exit. The descriptor stays open (so its number cannot be reused
		// under a loop still calling accept) until stopLoops.
		unix.Shutdown(s.lnFD, unix.SHUT_RDWR)
	}
	for _, l := range s.loops {
		l.wake()
	}
	if !s.serving {
		s.serving = true // a later Serve returns at once
		close(s.done)
	}
}

// stopLoops makes the loops exit, waits for them and releases their descriptors.
func (s *Server) stopLoops() {
	s.closed.Store(true)
	s.mu.Lock()
	loops := s.loops
	for _, l := range loops {
		l.wake()
	}
	s.mu.Unlock()
	s.loopsWG.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range loops {
		l.release()
	}
	s.loops = nil
	if s.lnFD >= 0 {
		unix.Close(s.lnFD)
		s.lnFD = -1
	}
	s.cancelBase()
	select {
	case <-s.done:
	default:
		close(s.done)
	}
}
