package httpserver

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// transport starts h on 127.0.0.1 and returns the address and a function counting the
// connections accepted so far.
type transport struct {
	name  string
	start func(t *testing.T, h Handler) (addr string, accepted func() int64)
}

var transports = []transport{
	{"epoll", func(t *testing.T, h Handler) (string, func() int64) {
		s, addr := startEpoll(t, h, nil)
		return addr, s.stats.Accepted.Load
	}},
	{"nethttp", startNetHTTP},
}

// quietLogger discards log output (panics are expected in some tests).
func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startEpoll runs an epoll Server for h on a loopback port until the test ends.
func startEpoll(t testing.TB, h Handler, mod func(*Config)) (*Server, string) {
	t.Helper()
	cfg := Config{Handler: h, Logger: quietLogger()}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		// A real leak repeats on every request that takes the leaking path; a rare report
		// can be a false positive (see the arena package comment).
		if n, reqs := s.pool.Stats().Leaks, s.stats.Requests.Load(); n != 0 && cfg.OnArenaLeak == nil {
			if n > reqs/100 {
				t.Errorf("arenadebug: %d arena allocations leaked in %d requests", n, reqs)
			} else {
				t.Logf("arenadebug: %d arena allocation(s) reported in %d requests", n, reqs)
			}
		}
		select {
		case err := <-served:
			if !errors.Is(err, ErrServerClosed) {
				t.Errorf("Serve returned %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after Close")
		}
	})
	return s, ln.Addr().String()
}

// startNetHTTP runs h behind net/http on a loopback port until the test ends.
func startNetHTTP(t *testing.T, h Handler) (string, func() int64) {
	t.Helper()
	var accepted atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: NetHTTP(h), ConnState: func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			accepted.Add(1)
		}
	}, ErrorLog: nil}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), accepted.Load
}

// newClient returns an HTTP client whose connections are closed when the test ends.
func newClient(t testing.TB) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}
}

// rawConn is a raw TCP client for byte-exact requests.
type rawConn struct {
	t *testing.T
	net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return &rawConn{t: t, Conn: c, br: bufio.NewReader(c)}
}

func (c *rawConn) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.Conn, s); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// response reads one response (for a request of the given method).
func (c *rawConn) response(method string) (*http.Response, string) {
	c.t.Helper()
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		c.t.Fatalf("read response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("read body: %v", err)
	}
	return resp, string(body)
}

// line reads one CRLF-terminated line.
func (c *rawConn) line() string {
	c.t.Helper()
	s, err := c.br.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read line: %v (got %q)", err, s)
	}
	return strings.TrimRight(s, "\r\n")
}

// closed reports whether the server closed the connection (EOF or reset) before anything
// more than junk arrived, within the connection deadline.
func (c *rawConn) closed() bool {
	c.t.Helper()
	_, err := io.Copy(io.Discard, c.br)
	return err == nil || errors.Is(err, net.ErrClosed) || isReset(err)
}

func isReset(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "broken pipe"))
}

// waitFor polls cond every few milliseconds for at most limit; it reports whether cond held.
func waitFor(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return cond()
}

func shutdownCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
