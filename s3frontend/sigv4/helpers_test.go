package sigv4

import (
	"bufio"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The credentials of the AWS documentation examples.
const (
	docAccessKey = "AKIAIOSFODNN7EXAMPLE"
	docSecret    = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

// docTime is the signing time of every AWS documentation example.
var docTime = time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC)

// newTestVerifier returns a verifier for the documentation credentials whose clock reads
// *now, so a test can move it.
func newTestVerifier(t testing.TB, now *time.Time, cacheSize int) *Verifier {
	t.Helper()
	v, err := New(Config{
		Credentials:  StaticCredentials{docAccessKey: docSecret},
		Now:          func() time.Time { return *now },
		KeyCacheSize: cacheSize,
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// fields builds a Fields request from a request target and "Name: value" header lines.
func fields(method, target string, headers ...string) *Fields {
	path, query, _ := strings.Cut(target, "?")
	f := &Fields{MethodBytes: []byte(method), Path: []byte(path), Query: []byte(query)}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ":")
		f.Headers = append(f.Headers, Field{Name: []byte(name), Value: []byte(strings.TrimLeft(value, " "))})
	}
	return f
}

// fieldsFromHTTP captures what a server would see of a client-side request signed by the
// SDK: the escaped path and query as they go on the wire, every header, and Host.
func fieldsFromHTTP(r *http.Request) *Fields {
	f := &Fields{MethodBytes: []byte(r.Method), Path: []byte(r.URL.EscapedPath()), Query: []byte(r.URL.RawQuery)}
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	f.Headers = append(f.Headers, Field{Name: []byte("Host"), Value: []byte(host)})
	for name, values := range r.Header {
		for _, v := range values {
			f.Headers = append(f.Headers, Field{Name: []byte(name), Value: []byte(v)})
		}
	}
	return f
}

// wantFailure fails the test unless err is an *Error of failure f with S3 code code.
func wantFailure(t testing.TB, err error, f Failure, code string) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v, want %s (%d)", err, code, f)
	}
	if e.Failure != f || e.Code != code {
		t.Fatalf("error = %s (failure %d), want %s (failure %d)", e, e.Failure, code, f)
	}
	if e.Status == 0 || e.Message == "" {
		t.Fatalf("error %+v lacks status or message", e)
	}
	return e
}

// setHeader replaces (or adds) header name in f.
func (f *Fields) setHeader(name, value string) {
	for i := range f.Headers {
		if strings.EqualFold(string(f.Headers[i].Name), name) {
			f.Headers[i].Value = []byte(value)
			return
		}
	}
	f.Headers = append(f.Headers, Field{Name: []byte(name), Value: []byte(value)})
}

// clone deep-copies f so a mutation does not leak into other cases.
func (f *Fields) clone() *Fields {
	g := &Fields{MethodBytes: append([]byte(nil), f.MethodBytes...), Path: append([]byte(nil), f.Path...), Query: append([]byte(nil), f.Query...)}
	for _, h := range f.Headers {
		g.Headers = append(g.Headers, Field{Name: append([]byte(nil), h.Name...), Value: append([]byte(nil), h.Value...)})
	}
	return g
}

func bufioReader(s string) *bufio.Reader { return bufio.NewReader(strings.NewReader(s)) }
