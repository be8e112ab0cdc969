package httpserver

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// trailerHandler answers with the trailers it sees before and after reading the body.
var trailerHandler = HandlerFunc(func(w ResponseWriter, r *Request) {
	before := r.Trailer("X-Sum")
	n, err := io.Copy(io.Discard, r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, err.Error())
		return
	}
	var b strings.Builder
	b.WriteString("before=" + string(before) + " n=" + strconv.FormatInt(n, 10))
	for _, name := range []string{"x-sum", "X-Abort", "X-Missing"} {
		if v := r.Trailer(name); v != nil {
			b.WriteString(" " + name + "=" + string(v))
		}
	}
	io.WriteString(w, b.String())
})

// Trailers of a chunked body reach the handler once the body is read, on both transports,
// sent by net/http's client as the remote drive sends them.
func TestRequestTrailers(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			addr, _ := tr.start(t, trailerHandler)
			c := newClient(t)
			req, _ := http.NewRequest("PUT", "http://"+addr+"/t", strings.NewReader(strings.Repeat("a", 100000)))
			req.ContentLength = -1
			req.Trailer = http.Header{"X-Sum": {"abc"}, "X-Abort": nil}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if want := "before= n=100000 x-sum=abc"; string(body) != want {
				t.Fatalf("got %q, want %q", body, want)
			}
			// A body with no trailers, on the same connection: none are left over.
			req, _ = http.NewRequest("PUT", "http://"+addr+"/t", strings.NewReader("xyz"))
			req.ContentLength = -1
			req.TransferEncoding = []string{"chunked"}
			resp, err = c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if want := "before= n=3"; string(body) != want {
				t.Fatalf("got %q, want %q", body, want)
			}
		})
	}
}

// A malformed or oversized trailer section fails the body with an *httpwire.Error naming
// the trailer, which the handler answers with 400; 32 fields pass.
func TestMalformedTrailers(t *testing.T) {
	addr, _ := transports[0].start(t, trailerHandler)
	for _, tt := range []struct{ name, trailer string }{
		{"no colon", "X-Sum\r\n"},
		{"too many", strings.Repeat("X-N: 1\r\n", 33)},
		{"too large", "X-Sum: " + strings.Repeat("v", 16<<10) + "\r\n"},
		{"control byte", "X-Sum: a\x01\r\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := dialRaw(t, addr)
			c.send("PUT /t HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n" + tt.trailer + "\r\n")
			resp, body := c.response("PUT")
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "trailer") {
				t.Fatalf("%s: %d %q, want 400 naming the trailer", tt.name, resp.StatusCode, body)
			}
		})
	}
	c := dialRaw(t, addr)
	c.send("PUT /t HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n" + strings.Repeat("X-N: 1\r\n", 32) + "\r\n")
	if resp, body := c.response("PUT"); resp.StatusCode != 200 || body != "before= n=1" {
		t.Fatalf("32 trailers: %d %q", resp.StatusCode, body)
	}
}
