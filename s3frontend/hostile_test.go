package s3frontend_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flashstor/flashstor/internal/httpwire"
	"github.com/flashstor/flashstor/internal/metrics"
	"github.com/flashstor/flashstor/s3frontend"
)

// syncBuffer is a bytes.Buffer that a server's logger and the test may use at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startLogged starts a server of transport whose log (Info and above) goes to the returned
// buffer and whose requests are counted in the returned metrics; mods change the handler's
// configuration further.
func startLogged(t *testing.T, transport string, mods ...func(*s3frontend.Config)) (*env, *syncBuffer, *metrics.Metrics) {
	t.Helper()
	logs, m := &syncBuffer{}, metrics.New()
	e := start(t, transport, func(o *envOptions) {
		o.handler = func(c *s3frontend.Config) {
			c.Log = slog.New(slog.NewTextHandler(logs, nil))
			c.Metrics = m
			for _, mod := range mods {
				mod(c)
			}
		}
	})
	return e, logs, m
}

// signedHead returns the head of a request signed with the test credentials and an
// unsigned payload, without its final empty line, so that the caller can add framing
// fields that are not signed and a body of its own. fields are more name, value pairs to
// sign with it.
func signedHead(t *testing.T, e *env, method, path string, fields ...string) string {
	t.Helper()
	req := newRequest(t, method, e.url+path, nil)
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	for i := 0; i+1 < len(fields); i += 2 {
		req.Header.Set(fields[i], fields[i+1])
	}
	signRequest(t, req, time.Now())
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, path, req.Host)
	if err := req.Header.Write(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// requestsWithStatus is the count of requests of op answered with status.
func requestsWithStatus(t *testing.T, e *env, op string, status int) float64 {
	t.Helper()
	_, fams := scrapeMetrics(t, e, "")
	n, _ := fams.Value("flashstor_s3_requests_total", "operation", op, "code", fmt.Sprint(status))
	return n
}

// TestBadChunkedFraming: a signed PUT whose chunked transfer coding is malformed is the
// client's error: 400 IncompleteBody, counted by reason among the malformed requests
// (epoll), logged as a client error and not as an internal one, and nothing is stored.
func TestBadChunkedFraming(t *testing.T) {
	cases := []struct {
		name, body string
		reason     httpwire.Reason
	}{
		{"size zz", "zz\r\nhello\r\n0\r\n\r\n", httpwire.ReasonChunkSize},
		{"size -5", "-5\r\nhello\r\n0\r\n\r\n", httpwire.ReasonChunkSize},
		{"18 hex digits", "123456789abcdef012\r\nhello\r\n0\r\n\r\n", httpwire.ReasonChunkSize},
		{"10 KB of extensions", "5" + strings.Repeat(";ext=value", 1000) + "\r\nhello\r\n0\r\n\r\n", httpwire.ReasonChunkLine},
	}
	eachTransportObserved(t, func(t *testing.T, e *env, logs *syncBuffer) {
		mkbucket(t, e.sdk(), "framing")
		for i, tc := range cases {
			key := fmt.Sprintf("k%d", i)
			var before int64
			if st := e.srv.Stats(); st != nil {
				before = st.Malformed[tc.reason].Load()
			}
			req := signedHead(t, e, "PUT", "/framing/"+key) + "Transfer-Encoding: chunked\r\n\r\n" + tc.body
			out, _ := rawExchange(t, e.addr, req, 10*time.Second)
			if !strings.HasPrefix(out, "HTTP/1.1 400 ") || !strings.Contains(out, "<Code>IncompleteBody</Code>") {
				t.Errorf("%s: got %.300q, want 400 IncompleteBody", tc.name, out)
			}
			if st := e.srv.Stats(); st != nil && st.Malformed[tc.reason].Load() != before+1 {
				t.Errorf("%s: malformed requests of reason %v: %d, want %d", tc.name, tc.reason, st.Malformed[tc.reason].Load(), before+1)
			}
			if r := e.do(newRequest(t, "HEAD", e.url+"/framing/"+key, nil), true); r.status != 404 {
				t.Errorf("%s: the refused PUT left an object (HEAD %d)", tc.name, r.status)
			}
		}
		if n := requestsWithStatus(t, e, "PutObject", 400); n != float64(len(cases)) {
			t.Errorf("PutObject 400s counted: %v, want %d", n, len(cases))
		}
		checkClientErrorsLogged(t, logs, len(cases))
	})
}

// eachTransportObserved is eachTransport on servers made by startLogged.
func eachTransportObserved(t *testing.T, f func(t *testing.T, e *env, logs *syncBuffer)) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			e, logs, _ := startLogged(t, tr)
			f(t, e, logs)
		})
	}
}

// checkClientErrorsLogged checks that the log has no internal error and at least n client
// errors, at level INFO.
func checkClientErrorsLogged(t *testing.T, logs *syncBuffer, n int) {
	t.Helper()
	text := logs.String()
	if strings.Contains(text, "internal error") || strings.Contains(text, "level=ERROR") {
		t.Errorf("a client's fault logged as an internal error:\n%s", text)
	}
	if got := strings.Count(text, `level=INFO msg="s3: client error"`); got < n {
		t.Errorf("%d client errors logged, want %d:\n%s", got, n, text)
	}
}

// TestClientResetMidUpload: a client that resets its connection in the middle of a PUT
// body is the client's doing: the request counts as a 400 IncompleteBody, the log says it
// was a client error, not an internal one, and nothing is stored.
func TestClientResetMidUpload(t *testing.T) {
	eachTransportObserved(t, func(t *testing.T, e *env, logs *syncBuffer) {
		mkbucket(t, e.sdk(), "reset")
		conn, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		head := signedHead(t, e, "PUT", "/reset/k") + "Content-Length: 1048576\r\n\r\n"
		if _, err := io.WriteString(conn, head+strings.Repeat("x", 100_000)); err != nil {
			t.Fatal(err)
		}
		// Wait until the handler reads the body, then reset: SO_LINGER 0 makes close send RST.
		answered := func() bool {
			return requestsWithStatus(t, e, "PutObject", 400)+requestsWithStatus(t, e, "PutObject", 500) > 0
		}
		for i := 0; i < 500 && !answered(); i++ {
			if i == 20 {
				conn.(*net.TCPConn).SetLinger(0)
				conn.Close()
			}
			time.Sleep(20 * time.Millisecond)
		}
		if n := requestsWithStatus(t, e, "PutObject", 400); n != 1 {
			t.Fatalf("PutObject 400s: %v, want 1 (500s: %v)", n, requestsWithStatus(t, e, "PutObject", 500))
		}
		checkClientErrorsLogged(t, logs, 1)
		if r := e.do(newRequest(t, "HEAD", e.url+"/reset/k", nil), true); r.status != 404 {
			t.Errorf("the reset PUT left an object (HEAD %d)", r.status)
		}
	})
}

// TestUnauthenticatedSlowBody: a PUT without credentials gets its 403 at once, and then
// the server does not wait for the body: however slowly the client keeps sending it (a
// byte every 200 ms here), the server closes the connection within a bounded wait, on
// both transports, and the epoll transport's connection count comes back to zero.
func TestUnauthenticatedSlowBody(t *testing.T) {
	const conns = 20
	eachTransport(t, func(t *testing.T, e *env) {
		var wg sync.WaitGroup
		results := make(chan string, conns)
		for range conns {
			wg.Go(func() { results <- slowBodyClient(e.addr) })
		}
		wg.Wait()
		close(results)
		for r := range results {
			if r != "" {
				t.Error(r)
			}
		}
		if st := e.srv.Stats(); st != nil {
			for i := 0; i < 500 && st.Open.Load() != 0; i++ {
				time.Sleep(20 * time.Millisecond)
			}
			if n := st.Open.Load(); n != 0 {
				t.Errorf("%d connections still open on the server", n)
			}
		}
	})
}

// slowBodyClient sends an unsigned PUT whose 200,000-byte body it trickles after the
// first byte, reads the answer, and keeps trickling until the server closes the
// connection or 15 s pass. It returns what went wrong, "" when the server answered 403
// and closed the connection.
func slowBodyClient(addr string) string {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err.Error()
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := io.WriteString(conn, "PUT /bucket/key HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\nx"); err != nil {
		return err.Error()
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return "reading the answer: " + err.Error()
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 {
		return fmt.Sprintf("answer %d, want 403", resp.StatusCode)
	}
	// The server may shut its side at once (EOF) and still read for a while, so that this
	// client can read the answer: it has closed only when a write fails (RST, EPIPE) or a
	// read is reset.
	buf := make([]byte, 512)
	halfClosed := false
	for range 75 {
		if _, err := conn.Write([]byte{'x'}); err != nil {
			return ""
		}
		if halfClosed {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		switch _, err := br.Read(buf); {
		case err == io.EOF:
			halfClosed = true
		case err != nil && !isTimeout(err):
			return ""
		}
	}
	return "the connection was still open after 15 s of a slow body"
}

// TestKeySegmentLimit: a key segment longer than 253 bytes once encoded is refused with
// KeyTooLongError whose message names the segment limit (a 1,024-byte key without a '/'
// among them); 253 bytes, and 1,024 bytes split by '/', are stored.
func TestKeySegmentLimit(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		c := e.sdk()
		mkbucket(t, c, "seg")
		split := strings.Repeat(strings.Repeat("s", 200)+"/", 6)[:1024]
		for _, key := range []string{strings.Repeat("a", 253), strings.Repeat("%", 84) + "a", split} {
			putString(t, c, "seg", key, "stored")
		}
		for _, key := range []string{strings.Repeat("k", 1024), strings.Repeat("b", 254), "dir/" + strings.Repeat("%", 85)} {
			r := e.do(newRequest(t, "PUT", e.url+"/seg/"+strings.ReplaceAll(key, "%", "%25"), []byte("x")), true)
			if r.status != 400 || r.err.Code != "KeyTooLongError" || !strings.Contains(r.err.Message, "segment") || !strings.Contains(r.err.Message, "253") {
				t.Errorf("PUT of a %d-byte key: %d %s %q, want 400 KeyTooLongError naming the segment limit", len(key), r.status, r.err.Code, r.err.Message)
			}
		}
	})
}
