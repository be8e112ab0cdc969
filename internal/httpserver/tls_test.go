package httpserver

import (
	"bufio"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestTLSClientCases runs the client cases of both plain transports over TLS on the epoll
// server, all on keep-alive connections of one client.
func TestTLSClientCases(t *testing.T) {
	s, addr, pki := startEpollTLS(t, testHandler(), nil)
	c := newTLSClient(t, pki)
	for _, tc := range clientCases {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != nil {
				body = tc.body()
			}
			resp, got := doRequest(t, c, tc.method, "https://"+addr+tc.path, body, tc.length)
			if resp.TLS == nil {
				t.Fatal("response did not come over TLS")
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (body %q)", resp.StatusCode, tc.status, got)
			}
			tc.check(t, resp, got)
		})
	}
	if got, want := s.stats.Requests.Load(), int64(len(clientCases)); got != want {
		t.Errorf("Stats.Requests %d, want %d", got, want)
	}
}

// TestTLSKeepAlive makes sequential requests on one TLS connection: one accept, one
// handshake, and between requests the connection waits on its loop as idle.
func TestTLSKeepAlive(t *testing.T) {
	s, addr, pki := startEpollTLS(t, testHandler(), nil)
	c := newTLSClient(t, pki)
	for i := range 20 {
		var body io.Reader
		if i%2 == 1 {
			body = &pattern{n: int64(i * 1000)}
		}
		resp, got := doRequest(t, c, "PUT", "https://"+addr+"/echo", body, int64(i*1000))
		if resp.StatusCode != 200 || int64(len(got)) != int64(i%2*i*1000) {
			t.Fatalf("request %d: status %d, %d bytes", i, resp.StatusCode, len(got))
		}
		if !waitFor(5*time.Second, func() bool { return s.stats.Idle.Load() == 1 }) {
			t.Fatalf("request %d: connection not handed back to its loop (idle %d, active %d)",
				i, s.stats.Idle.Load(), s.stats.Active.Load())
		}
		if inUse, _ := s.stats.ArenaBlocks(); inUse != 0 {
			t.Fatalf("request %d: idle TLS connection holds %d blocks", i, inUse)
		}
	}
	if a, h := s.stats.Accepted.Load(), pki.handshakes.Load(); a != 1 || h != 1 {
		t.Fatalf("%d accepts and %d handshakes for 20 sequential requests, want 1 and 1", a, h)
	}
	if n := s.stats.Requests.Load(); n != 20 {
		t.Fatalf("Stats.Requests %d, want 20", n)
	}
}

// TestTLSLargeBodies streams a large PUT and GET through TLS, checked by hash.
func TestTLSLargeBodies(t *testing.T) {
	size := int64(64 << 20)
	if testing.Short() {
		size = 8 << 20
	}
	_, addr, pki := startEpollTLS(t, testHandler(), nil)
	c := newTLSClient(t, pki)
	want := patternSum(size)
	for _, chunked := range []bool{false, true} {
		length := size
		if chunked {
			length = -1
		}
		resp, got := doRequest(t, c, "PUT", "https://"+addr+"/sum", &pattern{n: size}, length)
		if resp.StatusCode != 200 || got != fmt.Sprintf("%d %s", size, want) {
			t.Fatalf("PUT (chunked %v): status %d, got %q", chunked, resp.StatusCode, got)
		}
	}
	for _, path := range []string{"/readfrom", "/stream"} { // Content-Length, then chunked
		resp, err := c.Get(fmt.Sprintf("https://%s%s?n=%d", addr, path, size))
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		n, err := io.Copy(h, resp.Body)
		resp.Body.Close()
		if err != nil || n != size || hex.EncodeToString(h.Sum(nil)) != want {
			t.Fatalf("GET %s: %d bytes, err %v", path, n, err)
		}
	}
}

// TestTLSExpectContinue checks that 100 Continue travels through TLS when the handler reads,
// and that a handler answering without reading gets its answer to a client that never
// sends the body.
func TestTLSExpectContinue(t *testing.T) {
	_, addr, pki := startEpollTLS(t, testHandler(), nil)
	c := newTLSClient(t, pki)
	// A long wait makes the client depend on the server's 100 Continue.
	c.Transport.(*http.Transport).ExpectContinueTimeout = time.Minute
	const size = 300000
	for _, path := range []string{"/sum", "/reject"} {
		t.Run(path, func(t *testing.T) {
			var got100 atomic.Bool
			var sent atomic.Int64
			body := &countingReader{r: &pattern{n: size}, n: &sent}
			req, err := http.NewRequest("PUT", "https://"+addr+path, body)
			if err != nil {
				t.Fatal(err)
			}
			req.ContentLength = size
			req.Header.Set("Expect", "100-continue")
			req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
				Got100Continue: func() { got100.Store(true) },
			}))
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			switch path {
			case "/sum":
				if !got100.Load() || resp.StatusCode != 200 || string(b) != fmt.Sprintf("%d %s", size, patternSum(size)) {
					t.Fatalf("100 Continue %v, status %d, body %q", got100.Load(), resp.StatusCode, b)
				}
			case "/reject":
				if got100.Load() || resp.StatusCode != 403 || sent.Load() != 0 || !resp.Close {
					t.Fatalf("100 Continue %v, status %d, body bytes sent %d, close %v", got100.Load(), resp.StatusCode, sent.Load(), resp.Close)
				}
			}
		})
	}
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// TestTLSMalformedHead gets a 400 over TLS for a malformed head, then the connection
// closes; the rejection is counted as on plain TCP.
func TestTLSMalformedHead(t *testing.T) {
	s, addr, pki := startEpollTLS(t, testHandler(), nil)
	for i, req := range []string{
		"GET /hello HTTP/1.1\r\nHost: h\r\nno colon here\r\n\r\n",
		// the second head of a pipelined pair
		"GET /hello HTTP/1.1\r\nHost: h\r\n\r\nGET /hello HTTP/1.1\r\nHost h\r\n\r\n",
	} {
		c := dialTLS(t, addr, pki)
		c.send(req)
		if i == 1 {
			if resp, _ := c.response("GET"); resp.StatusCode != 200 {
				t.Fatalf("first pipelined request: status %d", resp.StatusCode)
			}
		}
		resp, _ := c.response("GET")
		if resp.StatusCode != 400 || !resp.Close {
			t.Fatalf("case %d: status %d close %v, want 400 and close", i, resp.StatusCode, resp.Close)
		}
		if !c.closed() {
			t.Fatalf("case %d: connection not closed after a 400", i)
		}
	}
	if n := s.stats.MalformedTotal(); n != 2 {
		t.Fatalf("Stats.Malformed total %d, want 2", n)
	}
}

// TestTLSPipelining sends three requests in one write; the responses come in order.
func TestTLSPipelining(t *testing.T) {
	_, addr, pki := startEpollTLS(t, testHandler(), nil)
	c := dialTLS(t, addr, pki)
	c.send("GET /hello?n=1 HTTP/1.1\r\nHost: h\r\n\r\n" +
		"PUT /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello" +
		"GET /hello?n=3 HTTP/1.1\r\nHost: h\r\n\r\n")
	for i, want := range []string{"hello GET n=1 h", "hello", "hello GET n=3 h"} {
		resp, body := c.response("GET")
		if resp.StatusCode != 200 || body != want {
			t.Fatalf("response %d: status %d body %q, want %q", i, resp.StatusCode, body, want)
		}
	}
}

// TestTLSHeaderTimeout cuts, after HeaderTimeout, a client that connects and sends nothing,
// one that stops inside its ClientHello, one that completes the handshake and sends no
// request, and one that stops inside its second head; each is counted.
func TestTLSHeaderTimeout(t *testing.T) {
	s, addr, pki := startEpollTLS(t, testHandler(), func(c *Config) { c.HeaderTimeout = 300 * time.Millisecond })
	cases := []struct {
		name string
		conn func(t *testing.T) *rawConn
	}{
		{"silent", func(t *testing.T) *rawConn { return dialRaw(t, addr) }},
		{"partial hello", func(t *testing.T) *rawConn {
			c := dialRaw(t, addr)
			c.send("\x16\x03\x01\x02") // a handshake record header, cut short
			return c
		}},
		{"no request", func(t *testing.T) *rawConn { return dialTLS(t, addr, pki) }},
		{"partial head after a request", func(t *testing.T) *rawConn {
			c := dialTLS(t, addr, pki)
			c.send("GET /hello HTTP/1.1\r\nHost: h\r\n\r\n")
			if resp, _ := c.response("GET"); resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			c.send("GET /hello HTTP/1.1\r\nHo")
			return c
		}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.conn(t)
			if !c.closed() {
				t.Fatal("connection not closed")
			}
			if !waitFor(5*time.Second, func() bool { return s.stats.HeaderTimeouts.Load() == int64(i+1) }) {
				t.Fatalf("HeaderTimeouts %d, want %d", s.stats.HeaderTimeouts.Load(), i+1)
			}
		})
	}
	if !waitFor(5*time.Second, func() bool { return s.stats.Open.Load() == 0 }) {
		t.Fatalf("%d connections still open", s.stats.Open.Load())
	}
}

// TestTLSIdleTimeout closes an idle TLS keep-alive connection after IdleTimeout.
func TestTLSIdleTimeout(t *testing.T) {
	s, addr, pki := startEpollTLS(t, testHandler(), func(c *Config) { c.IdleTimeout = 200 * time.Millisecond })
	c := dialTLS(t, addr, pki)
	c.send("GET /hello HTTP/1.1\r\nHost: h\r\n\r\n")
	if resp, _ := c.response("GET"); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if !c.closed() {
		t.Fatal("idle connection not closed")
	}
	if n := s.stats.IdleTimeouts.Load(); n != 1 {
		t.Fatalf("IdleTimeouts %d, want 1", n)
	}
}

// TestTLSPlainHTTPOnTLSPort answers a plain HTTP request on the TLS port as net/http does
// and closes the connection; the server keeps serving TLS.
func TestTLSPlainHTTPOnTLSPort(t *testing.T) {
	s, addr, pki := startEpollTLS(t, testHandler(), nil)
	c := dialRaw(t, addr)
	c.send("GET /hello HTTP/1.1\r\nHost: h\r\n\r\n")
	resp, body := c.response("GET")
	if resp.StatusCode != 400 || !strings.Contains(body, "HTTP request to an HTTPS server") {
		t.Fatalf("status %d body %q", resp.StatusCode, body)
	}
	if !c.closed() {
		t.Fatal("connection not closed")
	}
	if n := s.stats.TLSHandshakeErrors.Load(); n != 1 {
		t.Fatalf("TLSHandshakeErrors %d, want 1", n)
	}
	if resp, _ := doRequest(t, newTLSClient(t, pki), "GET", "https://"+addr+"/hello", nil, 0); resp.StatusCode != 200 {
		t.Fatalf("TLS request after: status %d", resp.StatusCode)
	}
}

// TestTLSOldVersionRefused refuses a client that offers TLS 1.1 at most, although the
// server's tls.Config does not set MinVersion.
func TestTLSOldVersionRefused(t *testing.T) {
	s, addr, pki := startEpollTLS(t, testHandler(), nil)
	cfg := pki.clientConfig()
	cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err == nil {
		c.Close()
		t.Fatalf("TLS 1.1 handshake succeeded (version %x)", c.ConnectionState().Version)
	}
	if !waitFor(5*time.Second, func() bool { return s.stats.TLSHandshakeErrors.Load() == 1 }) {
		t.Fatalf("TLSHandshakeErrors %d, want 1 (client error %v)", s.stats.TLSHandshakeErrors.Load(), err)
	}
	cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	c, err = tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		t.Fatalf("TLS 1.2: %v", err)
	}
	c.Close()
}

// recordTypes is a net.Conn that remembers the type byte of each TLS record it reads.
type recordTypes struct {
	net.Conn
	mu    sync.Mutex
	buf   []byte // bytes of the record being read
	types []byte
}

func (r *recordTypes) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf = append(r.buf, p[:n]...)
	for len(r.buf) >= 5 {
		size := 5 + (int(r.buf[3])<<8 | int(r.buf[4]))
		if len(r.buf) < size {
			break
		}
		r.types = append(r.types, r.buf[0])
		r.buf = r.buf[size:]
	}
	return n, err
}

func (r *recordTypes) last() byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.types) == 0 {
		return 0
	}
	return r.types[len(r.types)-1]
}

// TestTLSShutdown closes idle TLS connections at once, with a close_notify alert, while a
// request in flight finishes on its own connection before Shutdown returns.
func TestTLSShutdown(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	h := HandlerFunc(func(w ResponseWriter, r *Request) {
		if string(r.Path) == "/slow" {
			entered <- struct{}{}
			<-release
		}
		w.Write([]byte("done"))
	})
	s, addr, pki := startEpollTLS(t, h, nil)
	const idle = 4
	var recs []*recordTypes
	var conns []*rawConn
	for range idle {
		raw, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		rec := &recordTypes{Conn: raw}
		cfg := pki.clientConfig()
		cfg.MaxVersion = tls.VersionTLS12 // TLS 1.2 shows an alert's record type in clear
		tc := tls.Client(rec, cfg)
		t.Cleanup(func() { tc.Close() })
		tc.SetDeadline(time.Now().Add(20 * time.Second))
		c := &rawConn{t: t, Conn: tc, br: bufio.NewReader(tc)}
		c.send("GET /fast HTTP/1.1\r\nHost: h\r\n\r\n")
		if resp, body := c.response("GET"); resp.StatusCode != 200 || body != "done" {
			t.Fatalf("status %d body %q", resp.StatusCode, body)
		}
		recs, conns = append(recs, rec), append(conns, c)
	}
	slow := dialTLS(t, addr, pki)
	slow.send("GET /slow HTTP/1.1\r\nHost: h\r\n\r\n")
	<-entered
	if !waitFor(5*time.Second, func() bool { return s.stats.Idle.Load() == idle }) {
		t.Fatalf("idle %d, want %d", s.stats.Idle.Load(), idle)
	}
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(shutdownCtx(t, 20*time.Second)) }()
	for i, c := range conns {
		if !c.closed() {
			t.Fatalf("idle connection %d not closed by Shutdown", i)
		}
		if typ := recs[i].last(); typ != 21 {
			t.Errorf("idle connection %d: last record of type %d, want an alert (21)", i, typ)
		}
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	default:
	}
	close(release)
	resp, body := slow.response("GET")
	if resp.StatusCode != 200 || body != "done" || !resp.Close {
		t.Fatalf("request in flight: status %d body %q close %v", resp.StatusCode, body, resp.Close)
	}
	slow.Close() // ends the server's linger on it
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// TestTLSCloseCutsEverything: Close cuts a TLS request in flight and a handshake in
// progress.
func TestTLSCloseCutsEverything(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	h := HandlerFunc(func(w ResponseWriter, r *Request) {
		entered <- struct{}{}
		<-release
		w.Write([]byte("late"))
	})
	s, addr, pki := startEpollTLS(t, h, nil)
	defer close(release)
	busy := dialTLS(t, addr, pki)
	busy.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	<-entered
	hello := dialRaw(t, addr)
	hello.send("\x16\x03\x01\x02")
	if !waitFor(5*time.Second, func() bool { return s.stats.Open.Load() == 2 }) {
		t.Fatalf("open %d, want 2", s.stats.Open.Load())
	}
	s.Close()
	if !hello.closed() {
		t.Error("handshake in progress not cut")
	}
	if _, err := http.ReadResponse(busy.br, nil); err == nil {
		t.Error("request in flight got a response after Close")
	}
}

// TestTLSConcurrentClients runs many TLS clients at once (for the race detector).
func TestTLSConcurrentClients(t *testing.T) {
	const clients, perClient = 16, 10
	_, addr, pki := startEpollTLS(t, testHandler(), nil)
	c := newTLSClient(t, pki)
	var wg sync.WaitGroup
	var failures atomic.Int64
	var mu sync.Mutex
	var firstErr error
	fail := func(err error) {
		failures.Add(1)
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
	}
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range perClient {
				n := int64((i*perClient + j) % 7 * 20000)
				req, _ := http.NewRequest("PUT", "https://"+addr+"/sum", &pattern{n: n})
				req.ContentLength = n
				resp, err := c.Do(req)
				if err != nil {
					fail(err)
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != fmt.Sprintf("%d %s", n, patternSum(n)) {
					fail(errors.New(string(b)))
				}
			}
		}()
	}
	wg.Wait()
	if f := failures.Load(); f != 0 {
		t.Fatalf("%d of %d requests failed; first: %v", f, clients*perClient, firstErr)
	}
}
