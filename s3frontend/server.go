package s3frontend

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"

	"github.com/flashstor/flashstor/internal/arena"
	"github.com/flashstor/flashstor/internal/httpserver"
)

// The transports a Server can run on.
const (
	// TransportEpoll is the epoll-driven HTTP/1.1 server with per-connection arenas.
	TransportEpoll = "epoll"
	// TransportNetHTTP is net/http's server, through httpserver.NetHTTP.
	TransportNetHTTP = "nethttp"
)

// ServerConfig configures a Server.
type ServerConfig struct {
	// Handler serves the requests (an *s3frontend.Handler, usually). Required.
	Handler httpserver.Handler
	// Transport is TransportEpoll (the default when empty) or TransportNetHTTP.
	Transport string
	// HTTP tunes the transport. Its Handler and TLS fields are ignored. For net/http,
	// HeaderTimeout, IdleTimeout and Limits.MaxHeadBytes apply; the rest is epoll-only.
	HTTP httpserver.Config
	// TLS, if set, serves HTTPS on either transport (internal/tlsconf's
	// Store.ServerConfig, usually); nil serves plain HTTP.
	TLS *tls.Config
}

// Server runs a Handler on one of the transports.
type Server struct {
	transport string
	epoll     *httpserver.Server
	nethttp   *http.Server
	tls       *tls.Config // net/http only: the epoll server has its own copy

	mu sync.Mutex // guards addr
	// addr is the address Serve listens on, nil before Serve.
	addr net.Addr
}

// NewServer returns a Server for cfg; call Serve to run it.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Handler == nil {
		return nil, errors.New("s3frontend: ServerConfig.Handler is required")
	}
	s := &Server{transport: cfg.Transport}
	if h, ok := s3Handler(cfg.Handler).(*Handler); ok && cfg.TLS != nil {
		h.secure.Store(true) // aws:SecureTransport
	}
	switch cfg.Transport {
	case "", TransportEpoll:
		s.transport = TransportEpoll
		hc := cfg.HTTP
		hc.Handler, hc.TLS = cfg.Handler, cfg.TLS
		srv, err := httpserver.New(hc)
		if err != nil {
			return nil, err
		}
		s.epoll = srv
	case TransportNetHTTP:
		hc := cfg.HTTP
		s.nethttp = &http.Server{
			Handler:           httpserver.NetHTTP(cfg.Handler),
			ReadHeaderTimeout: hc.HeaderTimeout,
			IdleTimeout:       hc.IdleTimeout,
			MaxHeaderBytes:    hc.Limits.MaxHeadBytes,
		}
		if cfg.TLS != nil {
			// Served through tls.NewListener rather than ServeTLS, which would add HTTP/2
			// to the protocols offered.
			s.tls = cfg.TLS.Clone()
			s.tls.MinVersion = max(s.tls.MinVersion, tls.VersionTLS12)
		}
	default:
		return nil, fmt.Errorf("s3frontend: unknown transport %q (want %q or %q)", cfg.Transport, TransportEpoll, TransportNetHTTP)
	}
	return s, nil
}

// s3Handler finds the S3 handler behind the routers that put other APIs (the node-to-node
// API) on the same listener.
func s3Handler(h httpserver.Handler) httpserver.Handler {
	for range 8 { // routers nest a few deep at most
		rt, ok := h.(*httpserver.Router)
		if !ok {
			break
		}
		h = rt.Next()
	}
	return h
}

// Transport returns the transport the server runs on.
func (s *Server) Transport() string { return s.transport }

// ListenAndServe listens on the TCP address addr ("127.0.0.1:9000") and serves.
func (s *Server) ListenAndServe(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("s3frontend: listen: %w", err)
	}
	return s.Serve(ln)
}

// Addr returns the address the server listens on, or nil before Serve.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Serve serves on ln until Shutdown or Close; it then returns nil. It takes ownership of
// ln.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	s.addr = ln.Addr()
	s.mu.Unlock()
	var err error
	if s.epoll != nil {
		err = s.epoll.Serve(ln)
		if errors.Is(err, httpserver.ErrServerClosed) {
			return nil
		}
		return err
	}
	if s.tls != nil {
		ln = tls.NewListener(ln, s.tls)
	}
	err = s.nethttp.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting, lets the requests in flight finish and closes every
// connection; if ctx ends first it returns ctx.Err() (call Close then).
func (s *Server) Shutdown(ctx context.Context) error {
	if s.epoll != nil {
		return s.epoll.Shutdown(ctx)
	}
	return s.nethttp.Shutdown(ctx)
}

// Close closes the listener and every connection at once.
func (s *Server) Close() error {
	if s.epoll != nil {
		return s.epoll.Close()
	}
	return s.nethttp.Close()
}

// Stats returns the epoll transport's counters, or nil on net/http.
func (s *Server) Stats() *httpserver.Stats {
	if s.epoll != nil {
		return s.epoll.Stats()
	}
	return nil
}

// ArenaPool returns the epoll transport's pool of 64 KiB blocks, or nil on net/http.
func (s *Server) ArenaPool() *arena.Pool {
	if s.epoll != nil {
		return s.epoll.Pool()
	}
	return nil
}
