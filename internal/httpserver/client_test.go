package httpserver

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// pattern is a deterministic, non-repeating-looking byte stream of a given length, generated
// on the fly so large bodies are never held in memory.
type pattern struct{ off, n int64 }

func (p *pattern) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.n-p.off)]
	for i := range b {
		x := uint64(p.off + int64(i))
		b[i] = byte(x ^ x>>8 ^ x>>16 ^ x>>24)
	}
	p.off += int64(len(b))
	return len(b), nil
}

func patternSum(n int64) string {
	h := sha256.New()
	io.Copy(h, &pattern{n: n})
	return hex.EncodeToString(h.Sum(nil))
}

func queryInt(r *Request, key string) int64 {
	for _, kv := range strings.Split(string(r.RawQuery), "&") {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// testHandler serves the routes the client tests use.
func testHandler() Handler {
	return HandlerFunc(func(w ResponseWriter, r *Request) {
		switch string(r.Path) {
		case "/hello":
			w.Header().Set("Content-Type", "text/plain")
			w.Header().SetBytes("X-Echo", r.Header("x-echo"))
			fmt.Fprintf(w, "hello %s %s %s", r.Method, r.RawQuery, r.Host)
		case "/small":
			buf := r.Arena.AllocNoZero(4096)
			for i := range buf {
				buf[i] = 'a' + byte(i%26)
			}
			w.Header().Set("Content-Length", "4096")
			w.Write(buf)
		case "/echo":
			body, err := io.ReadAll(r.Body)
			if err != nil {
				w.WriteHeader(400)
				return
			}
			w.Header().Set("X-Chunked", strconv.FormatBool(r.Chunked))
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.Write(body)
		case "/sum":
			h := sha256.New()
			n, err := io.Copy(h, r.Body)
			if err != nil {
				w.WriteHeader(400)
				return
			}
			fmt.Fprintf(w, "%d %x", n, h.Sum(nil))
		case "/stream": // no Content-Length: chunked on HTTP/1.1
			io.Copy(w, &pattern{n: queryInt(r, "n")})
		case "/readfrom":
			n := queryInt(r, "n")
			w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
			w.ReadFrom(&pattern{n: n})
		case "/vectored":
			w.WriteVectored([][]byte{[]byte("one,"), bytes.Repeat([]byte("x"), 3000), []byte(",three")})
		case "/panic":
			panic("handler exploded")
		case "/reject": // answers without reading the body
			w.WriteHeader(403)
			w.Write([]byte("denied"))
		case "/nocontent":
			w.WriteHeader(204)
		default:
			w.WriteHeader(404)
			w.Write([]byte("no such route"))
		}
	})
}

// clientCases run against both transports with net/http's client.
var clientCases = []struct {
	name, method, path string
	body               func() io.Reader // nil: no body
	length             int64            // -1: chunked request
	status             int
	check              func(t *testing.T, resp *http.Response, body string)
}{
	{name: "get", method: "GET", path: "/hello?a=1", status: 200, check: func(t *testing.T, resp *http.Response, body string) {
		if !strings.HasPrefix(body, "hello GET a=1 127.0.0.1:") || resp.Header.Get("X-Echo") != "ping" ||
			resp.Header.Get("Content-Type") != "text/plain" || resp.Header.Get("Date") == "" {
			t.Errorf("body %q header %v", body, resp.Header)
		}
	}},
	{name: "head", method: "HEAD", path: "/hello", status: 200, check: func(t *testing.T, resp *http.Response, body string) {
		if body != "" {
			t.Errorf("HEAD body %q", body)
		}
	}},
	{name: "small 4k", method: "GET", path: "/small", status: 200, check: func(t *testing.T, resp *http.Response, body string) {
		if len(body) != 4096 || resp.ContentLength != 4096 || body[27] != 'b' {
			t.Errorf("len %d cl %d", len(body), resp.ContentLength)
		}
	}},
	{name: "put content-length", method: "PUT", path: "/echo", length: 5000, status: 200,
		body: func() io.Reader { return &pattern{n: 5000} },
		check: func(t *testing.T, resp *http.Response, body string) {
			want, _ := io.ReadAll(&pattern{n: 5000})
			if body != string(want) || resp.Header.Get("X-Chunked") != "false" {
				t.Errorf("echo mismatch (len %d) chunked %q", len(body), resp.Header.Get("X-Chunked"))
			}
		}},
	{name: "put chunked", method: "PUT", path: "/echo", length: -1, status: 200,
		body: func() io.Reader { return io.MultiReader(strings.NewReader("abc"), &pattern{n: 70000}) },
		check: func(t *testing.T, resp *http.Response, body string) {
			want, _ := io.ReadAll(io.MultiReader(strings.NewReader("abc"), &pattern{n: 70000}))
			if body != string(want) || resp.Header.Get("X-Chunked") != "true" {
				t.Errorf("echo mismatch (len %d) chunked %q", len(body), resp.Header.Get("X-Chunked"))
			}
		}},
	{name: "chunked response", method: "GET", path: "/stream?n=300000", status: 200,
		check: func(t *testing.T, resp *http.Response, body string) {
			want, _ := io.ReadAll(&pattern{n: 300000})
			if body != string(want) || resp.ContentLength != -1 || len(resp.TransferEncoding) != 1 {
				t.Errorf("len %d cl %d te %v", len(body), resp.ContentLength, resp.TransferEncoding)
			}
		}},
	{name: "small response gets a length", method: "GET", path: "/stream?n=100", status: 200,
		check: func(t *testing.T, resp *http.Response, body string) {
			if len(body) != 100 || resp.ContentLength != 100 {
				t.Errorf("len %d cl %d", len(body), resp.ContentLength)
			}
		}},
	{name: "readfrom", method: "GET", path: "/readfrom?n=1000000", status: 200,
		check: func(t *testing.T, resp *http.Response, body string) {
			want, _ := io.ReadAll(&pattern{n: 1000000})
			if body != string(want) || resp.ContentLength != 1000000 {
				t.Errorf("len %d cl %d", len(body), resp.ContentLength)
			}
		}},
	{name: "vectored", method: "GET", path: "/vectored", status: 200,
		check: func(t *testing.T, resp *http.Response, body string) {
			if body != "one,"+strings.Repeat("x", 3000)+",three" {
				t.Errorf("body len %d", len(body))
			}
		}},
	{name: "not found", method: "GET", path: "/nope", status: 404,
		check: func(t *testing.T, resp *http.Response, body string) {
			if body != "no such route" {
				t.Errorf("body %q", body)
			}
		}},
	{name: "no content", method: "DELETE", path: "/nocontent", status: 204,
		check: func(t *testing.T, resp *http.Response, body string) {
			if body != "" || resp.Header.Get("Content-Length") != "" {
				t.Errorf("body %q cl %q", body, resp.Header.Get("Content-Length"))
			}
		}},
	{name: "panic", method: "GET", path: "/panic", status: 500,
		check: func(t *testing.T, resp *http.Response, body string) {
			if !resp.Close {
				t.Error("connection not closed after a panic")
			}
		}},
}

func doRequest(t *testing.T, c *http.Client, method, url string, body io.Reader, length int64) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Echo", "ping")
	if body != nil {
		req.ContentLength = length
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp, string(b)
}

func TestClientCases(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			addr, _ := tr.start(t, testHandler())
			c := newClient(t)
			for _, tc := range clientCases {
				t.Run(tc.name, func(t *testing.T) {
					var body io.Reader
					if tc.body != nil {
						body = tc.body()
					}
					resp, got := doRequest(t, c, tc.method, "http://"+addr+tc.path, body, tc.length)
					if resp.StatusCode != tc.status {
						t.Fatalf("status %d, want %d (body %q)", resp.StatusCode, tc.status, got)
					}
					tc.check(t, resp, got)
				})
			}
		})
	}
}

func TestKeepAliveReuse(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			addr, accepted := tr.start(t, testHandler())
			c := newClient(t)
			for i := range 20 {
				var body io.Reader
				if i%2 == 1 {
					body = &pattern{n: int64(i * 1000)}
				}
				resp, _ := doRequest(t, c, "PUT", "http://"+addr+"/echo", body, int64(i*1000))
				if resp.StatusCode != 200 {
					t.Fatalf("status %d", resp.StatusCode)
				}
			}
			if n := accepted(); n != 1 {
				t.Fatalf("accepted %d connections for 20 sequential requests, want 1", n)
			}
		})
	}
}

func TestConcurrentClients(t *testing.T) {
	const clients, perClient = 32, 25
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			addr, _ := tr.start(t, testHandler())
			c := newClient(t)
			var wg sync.WaitGroup
			var failures atomic.Int64
			for i := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for j := range perClient {
						n := int64((i*perClient + j) % 7 * 10000)
						req, _ := http.NewRequest("PUT", "http://"+addr+"/sum", &pattern{n: n})
						req.ContentLength = n
						resp, err := c.Do(req)
						if err != nil {
							failures.Add(1)
							continue
						}
						b, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						if string(b) != fmt.Sprintf("%d %s", n, patternSum(n)) {
							failures.Add(1)
						}
					}
				}()
			}
			wg.Wait()
			if f := failures.Load(); f != 0 {
				t.Fatalf("%d of %d requests failed", f, clients*perClient)
			}
		})
	}
}

// TestLargeBodiesStreamed sends and receives 256 MiB through a handler that never holds the
// body, and checks the process heap stays bounded meanwhile.
func TestLargeBodiesStreamed(t *testing.T) {
	if testing.Short() {
		t.Skip("large transfer")
	}
	const size = 256 << 20
	const heapBound = 64 << 20
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			addr, _ := tr.start(t, testHandler())
			c := newClient(t)
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			base := ms.HeapInuse
			var peak atomic.Uint64
			stop := make(chan struct{})
			sampled := make(chan struct{})
			go func() {
				defer close(sampled)
				tick := time.NewTicker(20 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
						var m runtime.MemStats
						runtime.ReadMemStats(&m)
						if m.HeapInuse > peak.Load() {
							peak.Store(m.HeapInuse)
						}
					}
				}
			}()
			req, _ := http.NewRequest("PUT", "http://"+addr+"/sum", &pattern{n: size})
			req.ContentLength = size
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if want := fmt.Sprintf("%d %s", size, patternSum(size)); string(got) != want {
				t.Fatalf("PUT: got %q want %q", got, want)
			}
			resp, err = c.Get(fmt.Sprintf("http://%s/readfrom?n=%d", addr, size))
			if err != nil {
				t.Fatal(err)
			}
			h := sha256.New()
			n, err := io.Copy(h, resp.Body)
			resp.Body.Close()
			if err != nil || n != size || hex.EncodeToString(h.Sum(nil)) != patternSum(size) {
				t.Fatalf("GET: %d bytes, err %v", n, err)
			}
			close(stop)
			<-sampled
			if grew := int64(peak.Load()) - int64(base); grew > heapBound {
				t.Fatalf("heap grew by %d MiB while streaming %d MiB", grew>>20, size>>20)
			}
		})
	}
}
