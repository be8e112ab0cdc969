package httpserver

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/flashstor/flashstor/internal/httpwire"
)

func TestPipelining(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			addr, accepted := tr.start(t, testHandler())
			c := dialRaw(t, addr)
			c.send("GET /hello?1 HTTP/1.1\r\nHost: h\r\n\r\n" +
				"PUT /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nabcde" +
				"POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n0\r\n\r\n" +
				"GET /hello?4 HTTP/1.1\r\nHost: h\r\n\r\n")
			want := []string{"hello GET 1 h", "abcde", "xyz", "hello GET 4 h"}
			for i, w := range want {
				resp, body := c.response("GET")
				if resp.StatusCode != 200 || body != w {
					t.Fatalf("response %d: %d %q, want %q", i, resp.StatusCode, body, w)
				}
			}
			if accepted() != 1 {
				t.Fatalf("accepted %d", accepted())
			}
		})
	}
}

// TestPipelinedSplitHead sends a second request whose head arrives in pieces after the first
// response, so the loop has to resume a partial head left in the buffer.
func TestPipelinedSplitHead(t *testing.T) {
	_, addr := startEpoll(t, testHandler(), nil)
	c := dialRaw(t, addr)
	c.send("GET /hello?1 HTTP/1.1\r\nHost: h\r\n\r\nGET /hello?2 HT")
	if _, body := c.response("GET"); body != "hello GET 1 h" {
		t.Fatalf("first: %q", body)
	}
	time.Sleep(20 * time.Millisecond)
	c.send("TP/1.1\r\nHo")
	time.Sleep(20 * time.Millisecond)
	c.send("st: h\r\n\r\n")
	if _, body := c.response("GET"); body != "hello GET 2 h" {
		t.Fatalf("second: %q", body)
	}
}

// TestMalformedRequests sends smuggling shapes and other malformed heads: each gets the
// right status, the connection is closed, and the reason is counted.
func TestMalformedRequests(t *testing.T) {
	s, addr := startEpoll(t, testHandler(), func(c *Config) {
		c.Limits = httpwire.Limits{MaxRequestLine: 256, MaxHeadBytes: 1024, MaxFields: 10}
	})
	tests := []struct {
		name, in string
		status   int
		reason   httpwire.Reason
	}{
		{"cl and te", "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, httpwire.ReasonLengthAndChunked},
		{"duplicate cl", "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400, httpwire.ReasonDuplicateLength},
		{"invalid cl", "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 1x\r\n\r\n", 400, httpwire.ReasonContentLength},
		{"te identity", "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n", 400, httpwire.ReasonTransferEncoding},
		{"te list", "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 400, httpwire.ReasonTransferEncoding},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n  b\r\n\r\n", 400, httpwire.ReasonObsFold},
		{"bare lf", "GET / HTTP/1.1\nHost: h\n\n", 400, httpwire.ReasonLineEnding},
		{"bare cr", "GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", 400, httpwire.ReasonLineEnding},
		{"space before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400, httpwire.ReasonSpaceBeforeColon},
		{"nul", "GET / HTTP/1.1\r\nHost: h\r\nX: \x00\r\n\r\n", 400, httpwire.ReasonFieldValue},
		{"bad token", "GET / HTTP/1.1\r\nHost: h\r\nX@Y: z\r\n\r\n", 400, httpwire.ReasonFieldName},
		{"no host", "GET / HTTP/1.1\r\n\r\n", 400, httpwire.ReasonHost},
		{"unknown method", "BREW / HTTP/1.1\r\nHost: h\r\n\r\n", 501, httpwire.ReasonMethodUnsupported},
		{"http/2 version", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505, httpwire.ReasonVersionUnsupported},
		{"uri too long", "GET /" + strings.Repeat("a", 300) + " HTTP/1.1\r\nHost: h\r\n\r\n", 414, httpwire.ReasonURITooLong},
		{"head too large", "GET / HTTP/1.1\r\nHost: h\r\nX: " + strings.Repeat("v", 1100) + "\r\n\r\n", 431, httpwire.ReasonHeaderTooLarge},
		{"too many fields", "GET / HTTP/1.1\r\nHost: h\r\n" + strings.Repeat("X: y\r\n", 10) + "\r\n", 431, httpwire.ReasonHeaderTooLarge},
		{"expect other", "PUT /echo HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx", 417, httpwire.ReasonExpectation},
		{"bad chunk size", "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, httpwire.ReasonChunkSize},
		{"chunk overflow", "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n", 400, httpwire.ReasonChunkSize},
		{"long chunk ext", "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1;" + strings.Repeat("e", httpwire.MaxChunkLine) + "\r\n", 400, httpwire.ReasonChunkLine},
		{"pipelined smuggle", "GET /hello HTTP/1.1\r\nHost: h\r\n\r\nPOST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400, httpwire.ReasonDuplicateLength},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := s.stats.Malformed[tt.reason].Load()
			c := dialRaw(t, addr)
			c.send(tt.in)
			resp, _ := c.response("GET")
			if strings.HasPrefix(tt.name, "pipelined") {
				if resp.StatusCode != 200 {
					t.Fatalf("first pipelined response %d", resp.StatusCode)
				}
				resp, _ = c.response("GET")
			}
			if tt.reason == httpwire.ReasonChunkSize || tt.reason == httpwire.ReasonChunkLine {
				// The head was fine: the handler saw a body error and answered 400 itself.
				if resp.StatusCode != 400 {
					t.Fatalf("status %d", resp.StatusCode)
				}
			} else if resp.StatusCode != tt.status || !resp.Close {
				t.Fatalf("status %d close %v, want %d and close", resp.StatusCode, resp.Close, tt.status)
			}
			if !c.closed() {
				t.Fatal("connection left open")
			}
			if got := s.stats.Malformed[tt.reason].Load() - before; got != 1 {
				t.Fatalf("reason %v counted %d times", tt.reason, got)
			}
		})
	}
}

// TestSlowloris sends a head one byte at a time, slower than the head deadline allows: the
// server must cut the connection and count it.
func TestSlowloris(t *testing.T) {
	s, addr := startEpoll(t, testHandler(), func(c *Config) { c.HeaderTimeout = 300 * time.Millisecond })
	c := dialRaw(t, addr)
	head := "GET /hello HTTP/1.1\r\nHost: h\r\nX-Slow: " + strings.Repeat("s", 200) + "\r\n\r\n"
	cut := false
	for i := 0; i < len(head) && !cut; i++ {
		if _, err := c.Write([]byte{head[i]}); err != nil {
			cut = true
		}
		time.Sleep(10 * time.Millisecond)
		if s.stats.HeaderTimeouts.Load() > 0 {
			cut = true
		}
	}
	if !cut {
		t.Fatal("whole head sent without being cut")
	}
	if !c.closed() {
		t.Fatal("connection still open")
	}
	if n := s.stats.HeaderTimeouts.Load(); n != 1 {
		t.Fatalf("HeaderTimeouts = %d", n)
	}
	if s.stats.Requests.Load() != 0 {
		t.Fatal("the slow request reached the handler")
	}
}

func TestIdleTimeout(t *testing.T) {
	s, addr := startEpoll(t, testHandler(), func(c *Config) { c.IdleTimeout = 200 * time.Millisecond })
	c := dialRaw(t, addr)
	c.send("GET /hello HTTP/1.1\r\nHost: h\r\n\r\n")
	if resp, _ := c.response("GET"); resp.StatusCode != 200 || resp.Close {
		t.Fatalf("status %d close %v", resp.StatusCode, resp.Close)
	}
	if !c.closed() {
		t.Fatal("idle connection not closed")
	}
	if n := s.stats.IdleTimeouts.Load(); n != 1 {
		t.Fatalf("IdleTimeouts = %d", n)
	}
	if !waitFor(5*time.Second, func() bool { return s.stats.Open.Load() == 0 && s.stats.Idle.Load() == 0 }) {
		t.Fatalf("gauges open %d idle %d", s.stats.Open.Load(), s.stats.Idle.Load())
	}
}

func TestBodyTimeout(t *testing.T) {
	got := make(chan error, 1)
	h := HandlerFunc(func(w ResponseWriter, r *Request) {
		_, err := io.ReadAll(r.Body)
		got <- err
	})
	s, addr := startEpoll(t, h, func(c *Config) { c.BodyReadTimeout = 200 * time.Millisecond })
	c := dialRaw(t, addr)
	c.send("PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n0123456789")
	select {
	case err := <-got:
		if err != ErrBodyTimeout {
			t.Fatalf("handler read error %v, want ErrBodyTimeout", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("handler never saw the timeout")
	}
	if !c.closed() {
		t.Fatal("connection open after a body timeout")
	}
	if n := s.stats.BodyTimeouts.Load(); n != 1 {
		t.Fatalf("BodyTimeouts = %d", n)
	}
}

// TestExpectContinue behaves like curl: send the head with Expect, wait for 100 Continue,
// then send the body.
func TestExpectContinue(t *testing.T) {
	_, addr := startEpoll(t, testHandler(), nil)
	c := dialRaw(t, addr)
	for i := range 2 { // twice: the connection stays usable
		c.send("PUT /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\nExpect: 100-continue\r\n\r\n")
		if l := c.line(); l != "HTTP/1.1 100 Continue" {
			t.Fatalf("round %d: got %q, want 100 Continue", i, l)
		}
		if l := c.line(); l != "" {
			t.Fatalf("100 Continue not followed by a blank line: %q", l)
		}
		c.send("abcdef")
		resp, body := c.response("PUT")
		if resp.StatusCode != 200 || body != "abcdef" || resp.Close {
			t.Fatalf("round %d: %d %q close %v", i, resp.StatusCode, body, resp.Close)
		}
	}
}

// TestExpectContinueRejected: the handler answers without reading the body, so no 100
// Continue is sent, the response says Connection: close, and the connection is closed (even
// if the client sends the body anyway, as curl does after a second).
func TestExpectContinueRejected(t *testing.T) {
	for _, sendAnyway := range []bool{false, true} {
		_, addr := startEpoll(t, testHandler(), nil)
		c := dialRaw(t, addr)
		c.send("PUT /reject HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\nExpect: 100-continue\r\n\r\n")
		if l := c.line(); l != "HTTP/1.1 403 Forbidden" {
			t.Fatalf("got %q, want the final status without 100 Continue", l)
		}
		if sendAnyway {
			c.send("abcdef")
		}
		rest, err := io.ReadAll(c.br)
		if err != nil && !isReset(err) {
			t.Fatalf("reading the rest: %v", err)
		}
		if !strings.Contains(string(rest), "Connection: close\r\n") || !strings.HasSuffix(string(rest), "denied") {
			t.Fatalf("rest of response %q", rest)
		}
	}
}

// TestUnreadBody: a handler that ignores a small body keeps the connection (it is drained);
// one that ignores a large body closes it.
func TestUnreadBody(t *testing.T) {
	_, addr := startEpoll(t, testHandler(), func(c *Config) { c.MaxDrain = 1000 })
	c := dialRaw(t, addr)
	c.send("PUT /hello HTTP/1.1\r\nHost: h\r\nContent-Length: 500\r\n\r\n" + strings.Repeat("x", 500))
	c.send("GET /hello HTTP/1.1\r\nHost: h\r\n\r\n")
	for range 2 {
		if resp, _ := c.response("GET"); resp.StatusCode != 200 || resp.Close {
			t.Fatalf("small unread body: %d close %v", resp.StatusCode, resp.Close)
		}
	}
	c.send("PUT /hello HTTP/1.1\r\nHost: h\r\nContent-Length: 5000\r\n\r\n" + strings.Repeat("x", 5000))
	if resp, _ := c.response("GET"); resp.StatusCode != 200 || !resp.Close {
		t.Fatalf("large unread body: %d close %v", resp.StatusCode, resp.Close)
	}
	if !c.closed() {
		t.Fatal("connection open after a large unread body")
	}
}

func TestHTTP10(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			addr, _ := tr.start(t, testHandler())
			c := dialRaw(t, addr)
			c.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
			if resp, body := c.response("GET"); resp.StatusCode != 200 || resp.Close || body != "hello GET  " {
				t.Fatalf("keep-alive: %d close %v %q", resp.StatusCode, resp.Close, body)
			}
			c.send("GET /stream?n=5000 HTTP/1.0\r\n\r\n")
			resp, body := c.response("GET")
			if resp.StatusCode != 200 || !resp.Close || len(body) != 5000 || resp.TransferEncoding != nil {
				t.Fatalf("1.0 without keep-alive: %d close %v len %d te %v", resp.StatusCode, resp.Close, len(body), resp.TransferEncoding)
			}
			if !c.closed() {
				t.Fatal("HTTP/1.0 connection left open")
			}
		})
	}
}

func TestConnectionLimit(t *testing.T) {
	s, addr := startEpoll(t, testHandler(), func(c *Config) { c.MaxConns = 2 })
	a, b := dialRaw(t, addr), dialRaw(t, addr)
	for _, c := range []*rawConn{a, b} {
		c.send("GET /hello HTTP/1.1\r\nHost: h\r\n\r\n")
		if resp, _ := c.response("GET"); resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	third := dialRaw(t, addr)
	if resp, _ := third.response("GET"); resp.StatusCode != 503 {
		t.Fatalf("third connection got %d, want 503", resp.StatusCode)
	}
	if !third.closed() {
		t.Fatal("refused connection left open")
	}
	if n := s.stats.LimitRejections.Load(); n != 1 {
		t.Fatalf("LimitRejections = %d", n)
	}
	a.Close()
	if !waitFor(5*time.Second, func() bool { return s.stats.Open.Load() == 1 }) {
		t.Fatal("closed connection still counted")
	}
	d := dialRaw(t, addr)
	d.send("GET /hello HTTP/1.1\r\nHost: h\r\n\r\n")
	if resp, _ := d.response("GET"); resp.StatusCode != 200 {
		t.Fatalf("after a slot freed: %d", resp.StatusCode)
	}
}

func TestGracefulShutdown(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	h := HandlerFunc(func(w ResponseWriter, r *Request) {
		if string(r.Path) == "/slow" {
			close(entered)
			<-release
		}
		w.Write([]byte("done"))
	})
	s, addr := startEpoll(t, h, nil)
	idle := dialRaw(t, addr)
	idle.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	idle.response("GET")
	busy := dialRaw(t, addr)
	busy.send("GET /slow HTTP/1.1\r\nHost: h\r\n\r\n")
	<-entered

	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(shutdownCtx(t, 10*time.Second)) }()
	if !idle.closed() {
		t.Fatal("idle connection not closed by Shutdown")
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.SetDeadline(time.Now().Add(2 * time.Second))
		_, rerr := c.Read(make([]byte, 1))
		c.Close()
		if rerr == nil {
			t.Fatal("a new connection was served during Shutdown")
		}
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	resp, body := busy.response("GET")
	if resp.StatusCode != 200 || body != "done" || !resp.Close {
		t.Fatalf("in-flight request: %d %q close %v", resp.StatusCode, body, resp.Close)
	}
	busy.Close()
	select {
	case err := <-shut:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not return")
	}
}

func TestShutdownDeadline(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	h := HandlerFunc(func(w ResponseWriter, r *Request) { <-release })
	s, addr := startEpoll(t, h, nil)
	c := dialRaw(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	if !waitFor(5*time.Second, func() bool { return s.stats.Active.Load() == 1 }) {
		t.Fatal("request never started")
	}
	if err := s.Shutdown(shutdownCtx(t, 100*time.Millisecond)); err == nil {
		t.Fatal("Shutdown returned nil with a stuck handler")
	}
}

func TestSeveralServers(t *testing.T) {
	s1, a1 := startEpoll(t, testHandler(), nil)
	s2, a2 := startEpoll(t, testHandler(), nil)
	c := newClient(t)
	for _, a := range []string{a1, a1, a2} {
		if resp, _ := doRequest(t, c, "GET", "http://"+a+"/hello", nil, 0); resp.StatusCode != 200 {
			t.Fatal(resp.Status)
		}
	}
	if s1.stats.Requests.Load() != 2 || s2.stats.Requests.Load() != 1 {
		t.Fatalf("requests %d %d", s1.stats.Requests.Load(), s2.stats.Requests.Load())
	}
}
