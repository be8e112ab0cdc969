package httpserver

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchPayload is the 4 KiB body of the small GET.
var benchPayload = bytes.Repeat([]byte("0123456789abcdef"), 256)

// benchBig is the 1 MiB body of the large GET.
var benchBig = bytes.Repeat(benchPayload, 256)

// benchHandler serves GET /small (4 KiB with a length), GET /big (1 MiB with a length) and
// PUT /put (reads the body, answers an empty 200).
func benchHandler() Handler {
	return HandlerFunc(func(w ResponseWriter, r *Request) {
		if string(r.Path) == "/big" {
			w.Header().Set("Content-Length", strconv.Itoa(len(benchBig)))
			w.Write(benchBig)
			return
		}
		if r.Method == "PUT" {
			buf := r.Arena.AllocNoZero(64 << 10)
			for {
				if _, err := r.Body.Read(buf); err != nil {
					break
				}
			}
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(200)
			return
		}
		w.Header().Set("Content-Length", "4096")
		w.Write(benchPayload)
	})
}

// benchTransport starts the bench handler on one transport and returns its address.
type benchTransport struct {
	name  string
	start func(b *testing.B) string
}

var benchTransports = []benchTransport{
	{"epoll", func(b *testing.B) string { _, addr := startEpoll(b, benchHandler(), nil); return addr }},
	{"epoll-pollwait", func(b *testing.B) string {
		_, addr := startEpoll(b, benchHandler(), func(c *Config) { c.wait = waitPoll })
		return addr
	}},
	{"epoll-noworkers", func(b *testing.B) string {
		_, addr := startEpoll(b, benchHandler(), func(c *Config) { c.noWorkers = true })
		return addr
	}},
	{"epoll-blockingloop", func(b *testing.B) string {
		_, addr := startEpoll(b, benchHandler(), func(c *Config) { c.blockingLoop = true })
		return addr
	}},
	{"nethttp", func(b *testing.B) string { addr, _ := startNetHTTPBench(b); return addr }},
	{"limit-rawtcp", startRawTCPLimit},
}

// startRawTCPLimit runs the floor against which both transports are measured: a goroutine
// per connection that finds the end of each head, skips Content-Length bytes and writes a
// canned response, with no parsing, validation or handler. Same client, same run.
func startRawTCPLimit(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var conns sync.WaitGroup
	b.Cleanup(func() { ln.Close(); conns.Wait() })
	getResp := append([]byte("HTTP/1.1 200 OK\r\nContent-Length: 4096\r\n\r\n"), benchPayload...)
	putResp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer conns.Done()
				defer c.Close()
				br := bufio.NewReaderSize(c, 64<<10)
				for {
					length, put := 0, false
					for i := 0; ; i++ {
						line, err := br.ReadSlice('\n')
						if err != nil || i > 64 {
							return
						}
						if i == 0 {
							put = bytes.HasPrefix(line, []byte("PUT"))
						}
						if len(line) <= 2 {
							break
						}
						if bytes.HasPrefix(line, []byte("Content-Length: ")) {
							length, _ = strconv.Atoi(string(bytes.TrimSpace(line[16:])))
						}
					}
					if _, err := br.Discard(length); err != nil {
						return
					}
					resp := getResp
					if put {
						resp = putResp
					}
					if _, err := c.Write(resp); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// startNetHTTPBench runs the bench handler behind net/http and returns the address and a
// count of idle connections.
func startNetHTTPBench(b testing.TB) (string, *atomic.Int64) {
	return startNetHTTPBenchTLS(b, nil)
}

// startNetHTTPBenchTLS is startNetHTTPBench through TLS when conf is not nil.
func startNetHTTPBenchTLS(b testing.TB, conf *tls.Config) (string, *atomic.Int64) {
	var ln net.Listener
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	if conf != nil {
		ln = tls.NewListener(ln, conf)
	}
	var idle atomic.Int64
	srv := &http.Server{Handler: NetHTTP(benchHandler()), ConnState: func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateIdle:
			idle.Add(1)
		case http.StateActive:
			// A connection leaves the idle state when a request arrives; new connections
			// go from StateNew to StateActive without having been idle.
		}
	}}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	return addr, &idle
}

// rawClient is an allocation-free keep-alive client, so that -benchmem counts (nearly) only
// the server's allocations.
type rawClient struct {
	conn net.Conn
	br   *bufio.Reader
	req  []byte
	body []byte
}

// newRawClient connects to addr, through TLS when conf is not nil.
func newRawClient(tb testing.TB, addr string, conf *tls.Config, req, body []byte) *rawClient {
	var c net.Conn
	var err error
	if conf != nil {
		c, err = tls.Dial("tcp", addr, conf)
	} else {
		c, err = net.Dial("tcp", addr)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return &rawClient{conn: c, br: bufio.NewReaderSize(c, 64<<10), req: req, body: body}
}

var contentLengthPrefix = []byte("content-length:")

// do sends one request and reads its response (Content-Length framed).
func (c *rawClient) do() error {
	if _, err := c.conn.Write(c.req); err != nil {
		return err
	}
	if len(c.body) > 0 {
		if _, err := c.conn.Write(c.body); err != nil {
			return err
		}
	}
	status, err := c.br.ReadSlice('\n')
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(status, []byte("HTTP/1.1 200")) {
		return fmt.Errorf("status %q", status)
	}
	length := 0
	for range 64 {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			_, err = c.br.Discard(length)
			return err
		}
		if len(line) > len(contentLengthPrefix) && bytes.EqualFold(line[:len(contentLengthPrefix)], contentLengthPrefix) {
			length, _ = strconv.Atoi(string(bytes.TrimSpace(line[len(contentLengthPrefix):])))
		}
	}
	return fmt.Errorf("too many header lines")
}

// runClients spreads b.N requests over conc keep-alive connections and reports req/s.
func runClients(b *testing.B, addr string, conc int, req, body []byte) {
	runClientsTLS(b, addr, nil, conc, req, body)
}

// runClientsTLS is runClients through TLS when conf is not nil. Handshakes happen before
// the timer starts.
func runClientsTLS(b *testing.B, addr string, conf *tls.Config, conc int, req, body []byte) {
	clients := make([]*rawClient, conc)
	for i := range clients {
		clients[i] = newRawClient(b, addr, conf, req, body)
		if err := clients[i].do(); err != nil { // warm the connection up
			b.Fatal(err)
		}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if err := c.do(); err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
}

func BenchmarkSmallGET(b *testing.B) {
	req := []byte("GET /small HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
	for _, tr := range benchTransports {
		for _, conc := range []int{1, 8, 32} {
			b.Run(fmt.Sprintf("%s/c%d", tr.name, conc), func(b *testing.B) {
				runClients(b, tr.start(b), conc, req, nil)
			})
		}
	}
}

func BenchmarkPut1MiB(b *testing.B) {
	const size = 1 << 20
	req := []byte("PUT /put HTTP/1.1\r\nHost: bench\r\nContent-Length: " + strconv.Itoa(size) + "\r\n\r\n")
	body := bytes.Repeat([]byte{'x'}, size)
	for _, tr := range benchTransports {
		for _, conc := range []int{1, 8, 32} {
			b.Run(fmt.Sprintf("%s/c%d", tr.name, conc), func(b *testing.B) {
				b.SetBytes(size)
				runClients(b, tr.start(b), conc, req, body)
			})
		}
	}
}

// tlsBenchTransports serve the bench handler over TLS with the given configuration.
var tlsBenchTransports = []struct {
	name  string
	start func(b *testing.B, conf *tls.Config) string
}{
	{"epoll", func(b *testing.B, conf *tls.Config) string {
		_, addr := startEpoll(b, benchHandler(), func(c *Config) { c.TLS = conf })
		return addr
	}},
	{"epoll-nocork", func(b *testing.B, conf *tls.Config) string {
		_, addr := startEpoll(b, benchHandler(), func(c *Config) { c.TLS, c.tlsNoCork = conf, true })
		return addr
	}},
	{"nethttp", func(b *testing.B, conf *tls.Config) string {
		addr, _ := startNetHTTPBenchTLS(b, conf)
		return addr
	}},
}

// BenchmarkTLSGET measures GETs of 4 KiB and 1 MiB over TLS (TLS 1.3, AES-GCM on this
// machine's CPU) on keep-alive connections.
func BenchmarkTLSGET(b *testing.B) {
	pki := newTestPKI(b)
	for _, size := range []struct {
		name, path string
		n          int64
	}{{"4KiB", "/small", 4096}, {"1MiB", "/big", 1 << 20}} {
		req := []byte("GET " + size.path + " HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
		for _, tr := range tlsBenchTransports {
			for _, conc := range []int{1, 8, 32} {
				b.Run(fmt.Sprintf("%s/%s/c%d", size.name, tr.name, conc), func(b *testing.B) {
					b.SetBytes(size.n)
					runClientsTLS(b, tr.start(b, pki.serverConfig()), pki.clientConfig(), conc, req, nil)
				})
			}
		}
	}
}

// BenchmarkIdleConns reports the server's heap+stack per idle keep-alive connection, for
// 10,000 connections held by a child process. It is a one-shot measurement: b.N only
// repeats a no-op.
func BenchmarkIdleConns(b *testing.B) {
	const n = 10000
	b.Run("epoll", func(b *testing.B) {
		s, addr := startEpoll(b, benchHandler(), func(c *Config) {
			c.MaxConns, c.IdleTimeout = 2*n, 10*time.Minute
		})
		perConn, _ := measureIdle(b, addr, nil, n, s.stats.Idle.Load, func() int64 { return pooledBytes(s) })
		for b.Loop() {
		}
		b.ReportMetric(perConn, "B/idle-conn")
	})
	b.Run("nethttp", func(b *testing.B) {
		addr, idle := startNetHTTPBench(b)
		perConn, _ := measureIdle(b, addr, nil, n, idle.Load, func() int64 { return 0 })
		for b.Loop() {
		}
		b.ReportMetric(perConn, "B/idle-conn")
	})
	b.Run("epoll-tls", func(b *testing.B) {
		pki := newTestPKI(b)
		s, addr := startEpoll(b, benchHandler(), func(c *Config) {
			c.MaxConns, c.IdleTimeout, c.TLS = 2*n, 10*time.Minute, pki.serverConfig()
		})
		perConn, _ := measureIdle(b, addr, pki.caPEM, n, s.stats.Idle.Load, func() int64 { return pooledBytes(s) })
		for b.Loop() {
		}
		b.ReportMetric(perConn, "B/idle-conn")
	})
	b.Run("nethttp-tls", func(b *testing.B) {
		pki := newTestPKI(b)
		addr, idle := startNetHTTPBenchTLS(b, pki.serverConfig())
		perConn, _ := measureIdle(b, addr, pki.caPEM, n, idle.Load, func() int64 { return 0 })
		for b.Loop() {
		}
		b.ReportMetric(perConn, "B/idle-conn")
	})
}

// BenchmarkPutChunked1MiB is BenchmarkPut1MiB with a chunked body (64 KiB chunks) that ends
// in a trailer field, as the node API's createfile sends it.
func BenchmarkPutChunked1MiB(b *testing.B) {
	const size, chunk = 1 << 20, 64 << 10
	req := []byte("PUT /put HTTP/1.1\r\nHost: bench\r\nTransfer-Encoding: chunked\r\n\r\n")
	var body []byte
	for off := 0; off < size; off += chunk {
		body = append(body, strconv.FormatInt(chunk, 16)+"\r\n"...)
		body = append(body, bytes.Repeat([]byte{'x'}, chunk)...)
		body = append(body, "\r\n"...)
	}
	body = append(body, "0\r\nX-Flashstor-Body-Mac: "+strings.Repeat("ab", 32)+"\r\n\r\n"...)
	for _, tr := range benchTransports {
		b.Run(tr.name+"/c8", func(b *testing.B) {
			b.SetBytes(size)
			runClients(b, tr.start(b), 8, req, body)
		})
	}
}
