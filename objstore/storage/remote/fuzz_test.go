package remote

import (
	"bytes"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/flashstor/flashstor/internal/httpserver"
	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/local"
)

var fuzzSecret = []byte("fuzz-cluster-secret-0123456789")

// FuzzRequest decodes arbitrary requests: unsigned or badly signed ones must get 401 and no
// body whatever they hold; correctly signed ones of any path, query and body must get one of
// the protocol's statuses (never a panic, never a 5xx), and a decoded call names a known op.
func FuzzRequest(f *testing.F) {
	f.Add("GET", Prefix+"d1/readformat", "", []byte(nil), true)
	f.Add("PUT", Prefix+"d1/createfile", "vol=.flashstor.sys&path=tmp%2Fa&size=3", []byte("abc"), true)
	f.Add("PUT", Prefix+"d1/createfile", "vol=.flashstor.sys&path=tmp%2Fa&size=-2", []byte("abc"), true)
	f.Add("GET", Prefix+"d1/readat", "vol=b&path=..%2Fx&off=9223372036854775807&len=5", []byte(nil), true)
	f.Add("GET", Prefix+"d1/walk", "vol=b&prefix=a%2F&recursive=1&meta=1", []byte(nil), true)
	f.Add("PUT", Prefix+"d1/commit", "vol=b&key=k&svol=&spath=", []byte("meta"), true)
	f.Add("POST", Prefix+"d1/renamefile", "svol=b&spath=a&dvol=b&dpath=%00", []byte(nil), false)
	f.Add("GET", "/flashstor/drive/v2/d1/readformat", "", []byte(nil), true)
	f.Add("GET", Prefix+"d1/readformat/x", "%zz", []byte(nil), true)
	d, err := local.Open(f.TempDir(), local.Options{})
	if err != nil {
		f.Fatal(err)
	}
	h, err := NewHandler(fuzzSecret, map[string]storage.Drive{"d1": d}, nil)
	if err != nil {
		f.Fatal(err)
	}
	served := httpserver.NetHTTP(h)
	f.Fuzz(func(t *testing.T, method, path, rawQuery string, body []byte, signed bool) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		u := &url.URL{Path: path, RawQuery: rawQuery}
		req, err := http.NewRequest(strings.ToUpper(method), "http://node"+u.EscapedPath()+"?"+rawQuery, bytes.NewReader(body))
		if err != nil {
			return // not a request an HTTP server would parse either
		}
		nonce := strings.Repeat("0", 16) + strings.Repeat("f", 16)
		secret := fuzzSecret
		if !signed {
			secret = []byte("not-the-cluster-secret")
		}
		tok := sign(secret, req.Method, req.URL.EscapedPath(), req.URL.RawQuery, time.Now(), nonce)
		req.Header.Set(authHeader, tok)
		req.RequestURI = req.URL.RequestURI() // as a server sees it
		// The body is chunked and signed as the client sends it (a body with the wrong
		// mac is TestBodyMacRefused's).
		m := bodyMAC(secret, nonce)
		m.Write(body)
		req.TransferEncoding, req.ContentLength = []string{"chunked"}, -1
		req.Trailer = http.Header{http.CanonicalHeaderKey(bodyMACHeader): {hex.EncodeToString(m.Sum(nil))}}
		h.auth.mu.Lock()
		clear(h.auth.nonces) // each input is a fresh request, not a replay of the last one
		h.auth.mu.Unlock()
		w := httptest.NewRecorder()
		done := make(chan struct{})
		go func() { defer close(done); served.ServeHTTP(w, req) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s %s?%s (body %d bytes) did not return in 5 s", req.Method, path, rawQuery, len(body))
		}
		if !signed {
			if w.Code != http.StatusUnauthorized || w.Body.Len() != 0 {
				t.Fatalf("badly signed request: %d %q", w.Code, w.Body.String())
			}
			return
		}
		switch w.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusNotFound, http.StatusConflict:
		default:
			t.Fatalf("signed %s %s?%s: status %d", req.Method, path, rawQuery, w.Code)
		}
		if c, err := parseCall(req.Method, req.URL.EscapedPath()); err == nil {
			if ops[c.op] != req.Method || c.drive == "" {
				t.Fatalf("parseCall(%q, %q) = %+v", req.Method, req.URL.EscapedPath(), c)
			}
		}
		if w.Code == http.StatusConflict && w.Header().Get(errHeader) == "" {
			t.Fatal("409 without an error code")
		}
	})
}

// FuzzToken: a token parseToken accepts is exactly v1:<ms>:<32 hex>:<64 hex>.
func FuzzToken(f *testing.F) {
	f.Add(sign(fuzzSecret, "GET", "/p", "", time.Unix(1700000000, 0), strings.Repeat("a", 32)))
	f.Add("v1:1:2:3")
	f.Add("v1:-5:" + strings.Repeat("a", 32) + ":" + strings.Repeat("b", 64))
	f.Fuzz(func(t *testing.T, h string) {
		tok, err := parseToken(h)
		if err != nil {
			return
		}
		if got := "v1:" + tok.ts + ":" + tok.nonce + ":" + tok.mac; got != h || tok.ms <= 0 {
			t.Fatalf("parseToken(%q) accepted %+v", h, tok)
		}
	})
}
