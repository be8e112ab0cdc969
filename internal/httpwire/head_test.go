package httpwire

import (
	"errors"
	"strings"
	"testing"
)

// crlfs turns the readable "\n" line ends of test inputs into CRLF.
func crlfs(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

func TestParseHeadValid(t *testing.T) {
	tests := []struct {
		name, in       string
		method, path   string
		query, host    string
		minor          int
		length         int64
		chunked, alive bool
		expect         bool
		fields         int
	}{
		{name: "simple get", in: "GET /b/k HTTP/1.1\nHost: h\n\n",
			method: "GET", path: "/b/k", host: "h", minor: 1, alive: true, fields: 1},
		{name: "query", in: "GET /b?list-type=2&prefix=a%2Fb HTTP/1.1\nHost: h:9000\n\n",
			method: "GET", path: "/b", query: "list-type=2&prefix=a%2Fb", host: "h:9000", minor: 1, alive: true, fields: 1},
		{name: "empty query", in: "GET /b? HTTP/1.1\nHost: h\n\n",
			method: "GET", path: "/b", host: "h", minor: 1, alive: true, fields: 1},
		{name: "put with length and expect", in: "PUT /b/k HTTP/1.1\nHost: h\nContent-Length: 42\nExpect: 100-Continue\n\n",
			method: "PUT", path: "/b/k", host: "h", minor: 1, length: 42, alive: true, expect: true, fields: 3},
		{name: "chunked", in: "POST /x HTTP/1.1\nHost: h\nTransfer-Encoding: Chunked\n\n",
			method: "POST", path: "/x", host: "h", minor: 1, length: -1, chunked: true, alive: true, fields: 2},
		{name: "close", in: "GET / HTTP/1.1\nHost: h\nConnection: keep-alive, Close\n\n",
			method: "GET", path: "/", host: "h", minor: 1, fields: 2},
		{name: "http/1.0 no host", in: "GET / HTTP/1.0\n\n",
			method: "GET", path: "/", fields: 0},
		{name: "http/1.0 keep-alive", in: "HEAD / HTTP/1.0\nConnection: Keep-Alive\n\n",
			method: "HEAD", path: "/", alive: true, fields: 1},
		{name: "http/1.0 ignores expect", in: "PUT / HTTP/1.0\nExpect: 100-continue\nContent-Length: 1\n\n",
			method: "PUT", path: "/", length: 1, fields: 2},
		{name: "absolute form", in: "GET http://a.example:80/p?q HTTP/1.1\nHost: other\n\n",
			method: "GET", path: "/p", query: "q", host: "a.example:80", minor: 1, alive: true, fields: 1},
		{name: "asterisk", in: "OPTIONS * HTTP/1.1\nHost: h\n\n",
			method: "OPTIONS", path: "*", host: "h", minor: 1, alive: true, fields: 1},
		{name: "ows trimmed, empty value", in: "GET / HTTP/1.1\nHost:h\nX-A: \t v \t\nX-B:\n\n",
			method: "GET", path: "/", host: "h", minor: 1, alive: true, fields: 3},
		{name: "obs-text value", in: "GET / HTTP/1.1\nHost: h\nX-Meta: caf\xc3\xa9\n\n",
			method: "GET", path: "/", host: "h", minor: 1, alive: true, fields: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := crlfs(tt.in) + "trailing"
			var h Head
			n, err := ParseHead([]byte(in), Limits{}, &h)
			if err != nil {
				t.Fatalf("ParseHead: %v", err)
			}
			if in[n:] != "trailing" {
				t.Errorf("consumed %d, left %q", n, in[n:])
			}
			got := []any{h.Method, string(h.Path), string(h.RawQuery), string(h.Host), h.ProtoMinor,
				h.ContentLength, h.Chunked, h.KeepAlive, h.ExpectContinue, len(h.Fields)}
			want := []any{tt.method, tt.path, tt.query, tt.host, tt.minor,
				tt.length, tt.chunked, tt.alive, tt.expect, tt.fields}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("field %d = %v, want %v (all: %v)", i, got[i], want[i], got)
				}
			}
		})
	}
}

func TestParseHeadFieldViews(t *testing.T) {
	in := []byte(crlfs("GET / HTTP/1.1\nHost: h\nX-Amz-Date:  20260101T000000Z \nx-amz-date: second\n\n"))
	var h Head
	if _, err := ParseHead(in, Limits{}, &h); err != nil {
		t.Fatal(err)
	}
	if got := string(h.Get("x-amz-date")); got != "20260101T000000Z" {
		t.Fatalf("Get = %q", got)
	}
	if h.Get("missing") != nil {
		t.Fatal("Get(missing) != nil")
	}
	// Views alias the input: no copy was made.
	if &h.Fields[1].Name[0] != &in[25] {
		t.Fatal("field name is not a view into the input")
	}
}

// rejectCases are malformed or dangerous heads and the reason each must be rejected for.
// Many are request-smuggling shapes; they also seed FuzzParseRequest.
var rejectCases = []struct {
	name, in string
	reason   Reason
}{
	{"cl and te", "POST / HTTP/1.1\nHost: h\nContent-Length: 5\nTransfer-Encoding: chunked\n\n", ReasonLengthAndChunked},
	{"te and cl", "POST / HTTP/1.1\nHost: h\nTransfer-Encoding: chunked\nContent-Length: 5\n\n", ReasonLengthAndChunked},
	{"duplicate cl same", "POST / HTTP/1.1\nHost: h\nContent-Length: 5\nContent-Length: 5\n\n", ReasonDuplicateLength},
	{"duplicate cl differ", "POST / HTTP/1.1\nHost: h\nContent-Length: 5\nContent-Length: 6\n\n", ReasonDuplicateLength},
	{"cl list", "POST / HTTP/1.1\nHost: h\nContent-Length: 5, 5\n\n", ReasonContentLength},
	{"cl sign", "POST / HTTP/1.1\nHost: h\nContent-Length: +5\n\n", ReasonContentLength},
	{"cl negative", "POST / HTTP/1.1\nHost: h\nContent-Length: -1\n\n", ReasonContentLength},
	{"cl hex", "POST / HTTP/1.1\nHost: h\nContent-Length: 0x10\n\n", ReasonContentLength},
	{"cl empty", "POST / HTTP/1.1\nHost: h\nContent-Length: \n\n", ReasonContentLength},
	{"cl overflow", "POST / HTTP/1.1\nHost: h\nContent-Length: 99999999999999999999\n\n", ReasonContentLength},
	{"te gzip", "POST / HTTP/1.1\nHost: h\nTransfer-Encoding: gzip\n\n", ReasonTransferEncoding},
	{"te list", "POST / HTTP/1.1\nHost: h\nTransfer-Encoding: gzip, chunked\n\n", ReasonTransferEncoding},
	{"te chunked twice", "POST / HTTP/1.1\nHost: h\nTransfer-Encoding: chunked\nTransfer-Encoding: chunked\n\n", ReasonTransferEncoding},
	{"te quoted", "POST / HTTP/1.1\nHost: h\nTransfer-Encoding: \"chunked\"\n\n", ReasonTransferEncoding},
	{"te on 1.0", "POST / HTTP/1.0\nTransfer-Encoding: chunked\n\n", ReasonTransferEncoding},
	{"te space before colon", "POST / HTTP/1.1\nHost: h\nTransfer-Encoding : chunked\n\n", ReasonSpaceBeforeColon},
	{"obs-fold", "GET / HTTP/1.1\nHost: h\nX-A: a\n b\n\n", ReasonObsFold},
	{"obs-fold te", "POST / HTTP/1.1\nHost: h\nX-Y: z\n Transfer-Encoding: chunked\n\n", ReasonObsFold},
	{"first line folded", "GET / HTTP/1.1\n Host: h\n\n", ReasonObsFold},
	{"nul in value", "GET / HTTP/1.1\nHost: h\nX-A: a\x00b\n\n", ReasonFieldValue},
	{"del in value", "GET / HTTP/1.1\nHost: h\nX-A: a\x7fb\n\n", ReasonFieldValue},
	{"nul in name", "GET / HTTP/1.1\nHost: h\nX\x00A: b\n\n", ReasonFieldName},
	{"bad name char", "GET / HTTP/1.1\nHost: h\nX(A): b\n\n", ReasonFieldName},
	{"empty name", "GET / HTTP/1.1\nHost: h\n: b\n\n", ReasonFieldName},
	{"no colon", "GET / HTTP/1.1\nHost: h\nnocolon\n\n", ReasonFieldName},
	{"space in name", "GET / HTTP/1.1\nHost: h\nX A: b\n\n", ReasonFieldName},
	{"tab before colon", "GET / HTTP/1.1\nHost: h\nX-A\t: b\n\n", ReasonSpaceBeforeColon},
	{"missing host 1.1", "GET / HTTP/1.1\n\n", ReasonHost},
	{"two hosts", "GET / HTTP/1.1\nHost: a\nHost: b\n\n", ReasonHost},
	{"bad host", "GET / HTTP/1.1\nHost: a/b\n\n", ReasonHost},
	{"lowercase method", "get / HTTP/1.1\nHost: h\n\n", ReasonMethodUnsupported},
	{"connect", "CONNECT h:443 HTTP/1.1\nHost: h\n\n", ReasonMethodUnsupported},
	{"method not token", "G(T / HTTP/1.1\nHost: h\n\n", ReasonMethod},
	{"two spaces", "GET  / HTTP/1.1\nHost: h\n\n", ReasonVersion},
	{"no version", "GET /\nHost: h\n\n", ReasonRequestLine},
	{"version lower", "GET / http/1.1\nHost: h\n\n", ReasonVersion},
	{"version 2", "GET / HTTP/2.0\nHost: h\n\n", ReasonVersionUnsupported},
	{"version 1.2", "GET / HTTP/1.2\nHost: h\n\n", ReasonVersionUnsupported},
	{"version long", "GET / HTTP/1.10\nHost: h\n\n", ReasonVersion},
	{"leading empty line", "\nGET / HTTP/1.1\nHost: h\n\n", ReasonRequestLine},
	{"fragment", "GET /a#b HTTP/1.1\nHost: h\n\n", ReasonTarget},
	{"bad escape", "GET /a%zz HTTP/1.1\nHost: h\n\n", ReasonTarget},
	{"bad escape query", "GET /a?x=%4 HTTP/1.1\nHost: h\n\n", ReasonTarget},
	{"non-ascii target", "GET /caf\xc3\xa9 HTTP/1.1\nHost: h\n\n", ReasonTarget},
	{"relative target", "GET a HTTP/1.1\nHost: h\n\n", ReasonTarget},
	{"star not options", "GET * HTTP/1.1\nHost: h\n\n", ReasonTarget},
	{"absolute no path", "GET http://h HTTP/1.1\nHost: h\n\n", ReasonTarget},
	{"absolute userinfo", "GET http://u@h/ HTTP/1.1\nHost: h\n\n", ReasonTarget},
	{"expect other", "PUT / HTTP/1.1\nHost: h\nExpect: 200-ok\n\n", ReasonExpectation},
}

// rawRejectCases need exact bytes (bare CR/LF), so crlfs is not applied to them.
var rawRejectCases = []struct {
	name, in string
	reason   Reason
}{
	{"bare lf end", "GET / HTTP/1.1\nHost: h\n\n", ReasonLineEnding},
	{"bare lf in fields", "GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n", ReasonLineEnding},
	{"bare cr in value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", ReasonLineEnding},
	{"bare cr line", "GET / HTTP/1.1\r\nHost: h\r\n\rX: y\r\n\r\n", ReasonLineEnding},
	{"cr cr lf", "GET / HTTP/1.1\r\nHost: h\r\r\n\r\n", ReasonLineEnding},
}

func TestParseHeadRejects(t *testing.T) {
	check := func(t *testing.T, in string, want Reason) {
		t.Helper()
		var h Head
		_, err := ParseHead([]byte(in), Limits{}, &h)
		var perr *Error
		if !errors.As(err, &perr) {
			t.Fatalf("err = %v, want reason %v", err, want)
		}
		if perr.Reason != want {
			t.Fatalf("reason = %v, want %v", perr.Reason, want)
		}
	}
	for _, tt := range rejectCases {
		t.Run(tt.name, func(t *testing.T) { check(t, crlfs(tt.in), tt.reason) })
	}
	for _, tt := range rawRejectCases {
		t.Run(tt.name, func(t *testing.T) { check(t, tt.in, tt.reason) })
	}
}

func TestParseHeadLimits(t *testing.T) {
	lim := Limits{MaxRequestLine: 64, MaxHeadBytes: 256, MaxFields: 4}
	long := "GET /" + strings.Repeat("a", 100) + " HTTP/1.1\r\nHost: h\r\n\r\n"
	many := "GET / HTTP/1.1\r\nHost: h\r\n" + strings.Repeat("X: y\r\n", 4) + "\r\n"
	big := "GET / HTTP/1.1\r\nHost: h\r\nX: " + strings.Repeat("v", 300) + "\r\n\r\n"
	tests := []struct {
		name, in string
		want     Reason
	}{
		{"request line too long", long, ReasonURITooLong},
		{"request line too long, incomplete", long[:80], ReasonURITooLong},
		{"too many fields", many, ReasonHeaderTooLarge},
		{"head too large", big, ReasonHeaderTooLarge},
		{"head too large, incomplete", big[:260], ReasonHeaderTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Head
			_, err := ParseHead([]byte(tt.in), lim, &h)
			var perr *Error
			if !errors.As(err, &perr) || perr.Reason != tt.want {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if s := tt.want.Status(); s != 414 && s != 431 {
				t.Fatalf("status %d", s)
			}
		})
	}
}

func TestParseHeadIncomplete(t *testing.T) {
	full := crlfs("GET / HTTP/1.1\nHost: h\n\n")
	for i := 0; i < len(full); i++ {
		var h Head
		if _, err := ParseHead([]byte(full[:i]), Limits{}, &h); err != ErrIncomplete {
			t.Fatalf("prefix %d: err = %v, want ErrIncomplete", i, err)
		}
	}
}

func TestHeadEndResume(t *testing.T) {
	full := []byte(crlfs("PUT /k HTTP/1.1\nHost: h\nContent-Length: 3\n\nabc"))
	want := len(full) - 3
	scanned := 0
	for i := 1; i <= len(full); i++ {
		end, err := HeadEnd(full[:i], scanned-3, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if end >= 0 {
			if end != want || i < want {
				t.Fatalf("end %d at length %d, want %d", end, i, want)
			}
			return
		}
		scanned = i
	}
	t.Fatal("end never found")
}

func BenchmarkParseHead(b *testing.B) {
	in := []byte(crlfs("PUT /bucket/some/object/key.bin?partNumber=3&uploadId=abc HTTP/1.1\n" +
		"Host: 127.0.0.1:9000\nUser-Agent: aws-sdk-go-v2/1.30.0\nContent-Length: 1048576\n" +
		"Content-Type: application/octet-stream\nExpect: 100-continue\n" +
		"X-Amz-Content-Sha256: UNSIGNED-PAYLOAD\nX-Amz-Date: 20260101T000000Z\n" +
		"Authorization: AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20260101/us-east-1/s3/aws4_request, " +
		"SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=0123456789abcdef0123456789abcdef\n\n"))
	var h Head
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseHead(in, Limits{}, &h); err != nil {
			b.Fatal(err)
		}
	}
}
