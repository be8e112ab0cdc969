package router

import (
	"strings"
	"testing"

	"github.com/flashstor/flashstor/internal/httpwire"
	"github.com/flashstor/flashstor/objstore/layout"
)

// FuzzRoute routes arbitrary requests: routing never panics, and whatever it accepts names
// a valid bucket and a key of at most 1024 bytes at the level its operation needs.
func FuzzRoute(f *testing.F) {
	f.Add("GET", "h", "/bkt/k", "partNumber=1", false)
	f.Add("PUT", "bkt.s3.example.com", "/a%20b", "uploadId=u&partNumber=2", true)
	f.Add("POST", "h", "/bkt", "delete", false)
	f.Add("GET", "h", "/", "list-type=2", false)
	f.Add("DELETE", "h", "/bkt/k", "uploadId=x&versionId=null", false)
	rt := New("s3.example.com")
	methods := []string{httpwire.MethodGet, httpwire.MethodHead, httpwire.MethodPut, httpwire.MethodPost, httpwire.MethodDelete}
	f.Fuzz(func(t *testing.T, method, host, path, query string, copySource bool) {
		for _, m := range methods {
			if strings.EqualFold(m, method) {
				method = m
			}
		}
		var q Query
		if q.Parse([]byte(query)) != nil {
			return
		}
		var out Route
		if e := rt.Route(&Request{Method: method, Host: []byte(host), Path: []byte(path), Query: &q, CopySource: copySource}, &out); e != nil {
			if e.Status < 400 || e.Status > 501 {
				t.Fatalf("routing error with status %d", e.Status)
			}
			return
		}
		switch out.Op.level() {
		case levelService:
			if out.Bucket != nil {
				t.Fatalf("%v with bucket %q", out.Op, out.Bucket)
			}
		case levelBucket:
			if out.Key != nil {
				t.Fatalf("%v with key %q", out.Op, out.Key)
			}
		case levelObject:
			if len(out.Key) == 0 || len(out.Key) > MaxKeyLength {
				t.Fatalf("%v with a %d-byte key", out.Op, len(out.Key))
			}
		}
		if out.Op.level() != levelService && layout.CheckBucketName(string(out.Bucket)) != nil {
			t.Fatalf("%v on invalid bucket %q", out.Op, out.Bucket)
		}
	})
}

// FuzzBucketName checks ValidBucketName against the object layer's rules.
func FuzzBucketName(f *testing.F) {
	for _, s := range []string{"abc", "1.2.3.4", "a..b", "xn--a", "ab-s3alias", "0.0.0.0", "00.1.2.3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if got, want := ValidBucketName([]byte(name)), layout.CheckBucketName(name) == nil; got != want {
			t.Fatalf("ValidBucketName(%q) = %v, the object layer says %v", name, got, want)
		}
	})
}

// FuzzParseCopySource parses arbitrary copy sources without panicking; what it accepts
// names a valid bucket and a bounded key.
func FuzzParseCopySource(f *testing.F) {
	f.Add("bkt/key?versionId=null")
	f.Add("/a%2Fb/c")
	f.Fuzz(func(t *testing.T, s string) {
		cs, ok := ParseCopySource([]byte(s))
		if ok && (!ValidBucketName([]byte(cs.Bucket)) || cs.Key == "" || len(cs.Key) > MaxKeyLength) {
			t.Fatalf("accepted %q as %+v", s, cs)
		}
	})
}
