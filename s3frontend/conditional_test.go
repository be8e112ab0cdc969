package s3frontend

import (
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/flashstor/flashstor/s3frontend/s3err"
)

func TestParseRange(t *testing.T) {
	const size = 100
	cases := []struct {
		v           string
		off, length int64
		ok          bool
		invalid     bool
	}{
		{"bytes=0-0", 0, 1, true, false},
		{"bytes=0-99", 0, 100, true, false},
		{"bytes=10-", 10, 90, true, false},
		{"bytes=90-1000", 90, 10, true, false},
		{"bytes=-10", 90, 10, true, false},
		{"bytes=-1000", 0, 100, true, false},
		{"bytes=99-99", 99, 1, true, false},
		{"bytes=100-", 0, 0, false, true},
		{"bytes=100-200", 0, 0, false, true},
		{"bytes=-0", 0, 0, false, true},
		{"bytes=5-4", 0, 0, false, false},
		{"bytes=0-1,3-4", 0, 0, false, false},
		{"bytes= 0-1", 0, 0, false, false},
		{"bytes=-", 0, 0, false, false},
		{"bytes=", 0, 0, false, false},
		{"items=0-1", 0, 0, false, false},
		{"bytes=1-2-3", 0, 0, false, false},
		{"bytes=99999999999999999999-", 0, 0, false, false},
	}
	for _, tc := range cases {
		r, ok, err := parseRange([]byte(tc.v), size)
		if ok != tc.ok || (err != nil) != tc.invalid || ok && (r.off != tc.off || r.length != tc.length) {
			t.Errorf("parseRange(%q) = %+v %v %v", tc.v, r, ok, err)
		}
	}
	if _, ok, err := parseRange([]byte("bytes=0-"), 0); ok || err == nil {
		t.Errorf("a range of an empty object must be unsatisfiable")
	}
}

func TestConditions(t *testing.T) {
	mod := time.Date(2024, 5, 6, 7, 8, 9, 500_000_000, time.UTC)
	at := func(d time.Duration) []byte { return []byte(mod.Add(d).Format(http.TimeFormat)) }
	cases := []struct {
		name    string
		cd      conditions
		forCopy bool
		want    *s3err.Error
	}{
		{"none", conditions{}, false, nil},
		{"if-match", conditions{ifMatch: []byte(`"e1"`)}, false, nil},
		{"if-match list", conditions{ifMatch: []byte(`"x", "e1"`)}, false, nil},
		{"if-match weak", conditions{ifMatch: []byte(`W/"e1"`)}, false, nil},
		{"if-match unquoted", conditions{ifMatch: []byte(`e1`)}, false, nil},
		{"if-match fails", conditions{ifMatch: []byte(`"e2"`)}, false, s3err.PreconditionFailed},
		{"if-none-match", conditions{ifNoneMatch: []byte(`"e1"`)}, false, s3err.NotModified},
		{"if-none-match star", conditions{ifNoneMatch: []byte(`*`)}, false, s3err.NotModified},
		{"if-none-match copy", conditions{ifNoneMatch: []byte(`"e1"`)}, true, s3err.PreconditionFailed},
		{"if-modified-since same second", conditions{ifModifiedSince: at(0)}, false, s3err.NotModified},
		{"if-modified-since before", conditions{ifModifiedSince: at(-time.Second)}, false, nil},
		{"if-unmodified-since same second", conditions{ifUnmodifiedSin: at(0)}, false, nil},
		{"if-unmodified-since before", conditions{ifUnmodifiedSin: at(-time.Second)}, false, s3err.PreconditionFailed},
		{"bad date ignored", conditions{ifUnmodifiedSin: []byte("yesterday")}, false, nil},
		{"if-match beats if-unmodified-since", conditions{ifMatch: []byte(`"e1"`), ifUnmodifiedSin: at(-time.Hour)}, false, nil},
		{"if-none-match beats if-modified-since", conditions{ifNoneMatch: []byte(`"zz"`), ifModifiedSince: at(time.Hour)}, false, nil},
		{"412 before 304", conditions{ifMatch: []byte(`"zz"`), ifNoneMatch: []byte(`"e1"`)}, false, s3err.PreconditionFailed},
	}
	for _, tc := range cases {
		if got := tc.cd.check("e1", mod, tc.forCopy); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestAppendURLEncoded(t *testing.T) {
	for _, s := range []string{"plain/key", "a b+c%d", "ü日本", "\x00\x7f\xff", "q?x=1&y#z"} {
		enc := string(appendURLEncoded(nil, s))
		dec, err := url.QueryUnescape(enc)
		if err != nil || dec != s {
			t.Errorf("%q -> %q -> %q %v", s, enc, dec, err)
		}
		if dec, err := url.PathUnescape(enc); err != nil || dec != s {
			t.Errorf("%q -> %q -> %q %v (path)", s, enc, dec, err)
		}
	}
}

func TestErrorMapping(t *testing.T) {
	if e := s3err.From(errors.New("boom")); e.Code != "InternalError" || e.Status != 500 {
		t.Errorf("unknown error -> %v", e)
	}
}

// FuzzParseRange checks that a range accepted is inside the object and that a range
// refused as unsatisfiable is S3's InvalidRange.
func FuzzParseRange(f *testing.F) {
	f.Add("bytes=0-10", int64(5))
	f.Add("bytes=-3", int64(0))
	f.Add("bytes=7-", int64(7))
	f.Fuzz(func(t *testing.T, v string, size int64) {
		if size < 0 {
			size = -size
		}
		if size < 0 {
			return
		}
		r, ok, err := parseRange([]byte(v), size)
		switch {
		case err != nil:
			if ok || err != s3err.InvalidRange {
				t.Fatalf("%q: ok %v, err %v", v, ok, err)
			}
		case ok:
			if r.off < 0 || r.length <= 0 || r.off+r.length > size {
				t.Fatalf("%q on %d bytes: %+v", v, size, r)
			}
		}
	})
}
