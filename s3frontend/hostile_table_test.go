package s3frontend_test

import (
	"bufio"
	"context"
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/flashstor/flashstor/s3frontend"
)

// hostileCase is one hostile request of TestHostileInputs: the raw bytes a client sends
// on a fresh connection and the answer the server must give.
type hostileCase struct {
	input  string // what was sent, as the README's security table says it
	req    func(t *testing.T, e *env) string
	status int
	code   string // the S3 error code of the answer; "" for none
	// halfClose makes the client shut its side once the request is sent.
	halfClose bool
}

// renderHead renders req's head (request line, Host, fields) without its final empty line.
func renderHead(t *testing.T, req *http.Request) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", req.Method, req.URL.RequestURI(), req.URL.Host)
	if err := req.Header.Write(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// signedWith returns the head of a GET of path signed with the access key and secret at
// time at, after mod changed the request (nil: none); the payload is unsigned.
func signedWith(t *testing.T, e *env, path, key, secret string, at time.Time, mod func(*http.Request)) string {
	t.Helper()
	req := newRequest(t, "GET", e.url+path, nil)
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	if mod != nil {
		mod(req)
	}
	err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).SignHTTP(context.Background(),
		aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}, req, "UNSIGNED-PAYLOAD", "s3", testRegion, at)
	if err != nil {
		t.Fatal(err)
	}
	return renderHead(t, req) + "\r\n"
}

// plain returns a fixed request.
func plain(s string) func(*testing.T, *env) string { return func(*testing.T, *env) string { return s } }

// signedPut returns a PUT of path signed with an unsigned payload and the fields (name,
// value pairs), with extra unsigned fields (each ending in CRLF) and body after it.
func signedPut(path, extra, body string, fields ...string) func(*testing.T, *env) string {
	return func(t *testing.T, e *env) string {
		return signedHead(t, e, "PUT", path, fields...) + extra + "\r\n" + body
	}
}

// signedPost is signedPut for POST, with a Content-Length and a Content-MD5 of body.
func signedPost(path, body string) func(*testing.T, *env) string {
	return func(t *testing.T, e *env) string {
		sum := md5.Sum([]byte(body))
		return signedHead(t, e, "POST", path) + fmt.Sprintf("Content-Length: %d\r\nContent-MD5: %s\r\n\r\n%s",
			len(body), base64.StdEncoding.EncodeToString(sum[:]), body)
	}
}

// xmlBomb is a "billion laughs" document: ten levels of ten references each.
func xmlBomb() string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0"?><!DOCTYPE d [<!ENTITY l0 "lol">`)
	for i := 1; i < 10; i++ {
		fmt.Fprintf(&b, `<!ENTITY l%d "%s">`, i, strings.Repeat(fmt.Sprintf("&l%d;", i-1), 10))
	}
	b.WriteString(`]><Delete><Object><Key>&l9;</Key></Object></Delete>`)
	return b.String()
}

// hostileCases are the requests TestHostileInputs sends, each on its own connection to a
// server with bucket "hst" holding object "obj".
func hostileCases() []hostileCase {
	now := time.Now
	return []hostileCase{
		// Framing and heads.
		{"Content-Length and Transfer-Encoding together", plain("PUT /hst/k HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), 400, "", false},
		{"two Content-Length fields", plain("PUT /hst/k HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello"), 400, "", false},
		{"Content-Length: -1", plain("PUT /hst/k HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"), 400, "", false},
		{"Transfer-Encoding: gzip, chunked", plain("PUT /hst/k HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"), 400, "", false},
		{"obs-fold (a field continued on the next line)", plain("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n"), 400, "", false},
		{"bare LF inside the head", plain("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\nb\r\n\r\n"), 400, "", false},
		{"binary garbage", plain("\x00\x01\x02\x03 garbage\r\n\r\n"), 400, "", false},
		{"HTTP/1.1 without Host", plain("GET / HTTP/1.1\r\n\r\n"), 400, "", false},
		{"two Host fields", plain("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400, "", false},
		{"space in a field name", plain("GET / HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n"), 400, "", false},
		{"NUL in a field value", plain("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n"), 400, "", false},
		{"bad percent-escape in the path (unsigned)", plain("GET /hst/%zz HTTP/1.1\r\nHost: x\r\n\r\n"), 400, "", false},
		{"10 KB request line", plain("GET /" + strings.Repeat("a", 10_000) + " HTTP/1.1\r\nHost: x\r\n\r\n"), 414, "", false},
		{"70 KB header field", plain("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 70_000) + "\r\n\r\n"), 431, "", false},
		{"200 header fields", plain("GET / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-F: v\r\n", 200) + "\r\n"), 431, "", false},
		{"HTTP/2.0 request line", plain("GET / HTTP/2.0\r\nHost: x\r\n\r\n"), 505, "", false},
		{"unknown method BREW", plain("BREW / HTTP/1.1\r\nHost: x\r\n\r\n"), 501, "", false},
		{"Expect: 200-ok", plain("PUT /hst/k HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx"), 417, "", false},
		{"signed chunked PUT, chunk size zz", signedPut("/hst/c1", "Transfer-Encoding: chunked\r\n", "zz\r\nhello\r\n0\r\n\r\n"), 400, "IncompleteBody", false},
		{"signed chunked PUT, chunk size -5", signedPut("/hst/c2", "Transfer-Encoding: chunked\r\n", "-5\r\nhello\r\n0\r\n\r\n"), 400, "IncompleteBody", false},
		{"signed chunked PUT, chunk size of 18 hex digits", signedPut("/hst/c3", "Transfer-Encoding: chunked\r\n", "123456789abcdef012\r\nhello\r\n0\r\n\r\n"), 400, "IncompleteBody", false},
		{"signed chunked PUT, 10 KB of chunk extensions", signedPut("/hst/c4", "Transfer-Encoding: chunked\r\n", "5"+strings.Repeat(";e=v", 2500)+"\r\nhello\r\n0\r\n\r\n"), 400, "IncompleteBody", false},
		{"signed chunked PUT, 20 KB trailer field (limit 16 KiB)", signedPut("/hst/c5", "Transfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\nX-T: "+strings.Repeat("t", 20_000)+"\r\n\r\n"), 400, "IncompleteBody", false},
		{"signed PUT, body shorter than Content-Length, then half-close", signedPut("/hst/short", "Content-Length: 100\r\n", "only this"), 400, "IncompleteBody", true},
		// Authentication.
		{"anonymous GET", plain("GET /hst/obj HTTP/1.1\r\nHost: x\r\n\r\n"), 403, "AccessDenied", false},
		{"anonymous PUT with a 1 MiB body announced", plain("PUT /hst/anon HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\nabc"), 403, "AccessDenied", false},
		{"anonymous PUT with Expect: 100-continue, body never sent", plain("PUT /hst/k100 HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 1000\r\n\r\n"), 403, "AccessDenied", false},
		{"a signed GET replayed on a new connection", func(t *testing.T, e *env) string {
			h := signedWith(t, e, "/hst/obj", testAccessKey, testSecretKey, now(), nil)
			if answer, _ := hostileExchange(t, e, h, false); answer != "200" {
				t.Errorf("the original of the replayed request: %s", answer)
			}
			return h
		}, 200, "", false},
		{"signed with a wrong secret", func(t *testing.T, e *env) string {
			return signedWith(t, e, "/hst/obj", testAccessKey, "wrong", now(), nil)
		}, 403, "SignatureDoesNotMatch", false},
		{"unknown access key", func(t *testing.T, e *env) string { return signedWith(t, e, "/hst/obj", "NOBODY", "x", now(), nil) }, 403, "InvalidAccessKeyId", false},
		{"signed 20 minutes ago", func(t *testing.T, e *env) string {
			return signedWith(t, e, "/hst/obj", testAccessKey, testSecretKey, now().Add(-20*time.Minute), nil)
		}, 403, "RequestTimeTooSkewed", false},
		{"path changed after signing", func(t *testing.T, e *env) string {
			return strings.Replace(signedWith(t, e, "/hst/obj", testAccessKey, testSecretKey, now(), nil), "/hst/obj", "/hst/other", 1)
		}, 403, "SignatureDoesNotMatch", false},
		{"x-amz-meta field added after signing", func(t *testing.T, e *env) string {
			h := signedWith(t, e, "/hst/obj", testAccessKey, testSecretKey, now(), nil)
			return strings.TrimSuffix(h, "\r\n") + "X-Amz-Meta-Evil: 1\r\n\r\n"
		}, 403, "AccessDenied", false},
		{"session token this server did not issue", func(t *testing.T, e *env) string {
			return signedWith(t, e, "/hst/obj", testAccessKey, testSecretKey, now(), func(r *http.Request) { r.Header.Set("X-Amz-Security-Token", "forged") })
		}, 400, "InvalidToken", false},
		{"SigV2 Authorization header", plain("GET /hst/obj HTTP/1.1\r\nHost: x\r\nDate: " + time.Now().UTC().Format(http.TimeFormat) + "\r\nAuthorization: AWS " + testAccessKey + ":c2lnbmF0dXJl\r\n\r\n"), 400, "InvalidRequest", false},
		{"malformed AWS4 Authorization header", plain("GET /hst/obj HTTP/1.1\r\nHost: x\r\nX-Amz-Date: 20260101T000000Z\r\nX-Amz-Content-Sha256: UNSIGNED-PAYLOAD\r\nAuthorization: AWS4-HMAC-SHA256 Credential=garbage\r\n\r\n"), 400, "AuthorizationHeaderMalformed", false},
		{"presigned URL expired an hour ago", func(t *testing.T, e *env) string {
			req := newRequest(t, "GET", e.url+"/hst/obj?X-Amz-Expires=60", nil)
			u, _, err := v4.NewSigner().PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey},
				req, "UNSIGNED-PAYLOAD", "s3", testRegion, time.Now().Add(-time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			req2 := newRequest(t, "GET", u, nil)
			return renderHead(t, req2) + "\r\n"
		}, 403, "AccessDenied", false},
		{"body not matching x-amz-content-sha256", func(t *testing.T, e *env) string {
			req := newRequest(t, "PUT", e.url+"/hst/hash", []byte("body"))
			req.Header.Set("X-Amz-Content-Sha256", strings.Repeat("ab", 32))
			signRequest(t, req, time.Now())
			return renderHead(t, req) + "Content-Length: 4\r\n\r\nbody"
		}, 400, "XAmzContentSHA256Mismatch", false},
		{"aws-chunked PUT with a forged chunk signature", func(t *testing.T, e *env) string {
			req := newRequest(t, "PUT", e.url+"/hst/chunked", nil)
			req.Header.Set("X-Amz-Content-Sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
			req.Header.Set("X-Amz-Decoded-Content-Length", "5")
			req.Header.Set("Content-Encoding", "aws-chunked")
			signRequest(t, req, time.Now())
			body := "5;chunk-signature=" + strings.Repeat("0", 64) + "\r\nhello\r\n0;chunk-signature=" + strings.Repeat("0", 64) + "\r\n\r\n"
			return renderHead(t, req) + fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body)
		}, 403, "SignatureDoesNotMatch", false},
		{"/metrics with a wrong bearer token", plain("GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\n\r\n"), 401, "", false},
		// Documents.
		{"DeleteObjects with an XML bomb (billion laughs)", signedPost("/hst?delete", xmlBomb()), 400, "MalformedXML", false},
		{"DeleteObjects of 9 MiB (limit 8 MiB)", signedPost("/hst?delete", "<Delete>"+strings.Repeat("<Object><Key>k</Key></Object>", 9<<20/29)+"</Delete>"), 400, "MaxMessageLengthExceeded", false},
		{"DeleteObjects with 1,001 keys", signedPost("/hst?delete", "<Delete>"+strings.Repeat("<Object><Key>k</Key></Object>", 1001)+"</Delete>"), 400, "MalformedXML", false},
		{"CompleteMultipartUpload with garbage", signedPost("/hst/obj?uploadId=0123456789abcdef0123456789abcdef", "not xml at all"), 400, "MalformedXML", false},
		// Names and sizes.
		{"key ../../../etc/passwd", signedPut("/hst/../../../etc/passwd", "Content-Length: 4\r\n", "evil"), 200, "", false}, // checked on disk by TestHostileInputs
		{"key with a NUL byte (%00)", signedPut("/hst/a%00b", "Content-Length: 1\r\n", "x"), 400, "InvalidObjectName", false},
		{"key of invalid UTF-8 (%FF)", signedPut("/hst/a%FFb", "Content-Length: 1\r\n", "x"), 400, "InvalidObjectName", false},
		{"1,025-byte key", signedPut("/hst/"+strings.Repeat("k", 1025), "Content-Length: 1\r\n", "x"), 400, "KeyTooLongError", false},
		{"1,024-byte key without '/'", signedPut("/hst/"+strings.Repeat("k", 1024), "Content-Length: 1\r\n", "x"), 400, "KeyTooLongError", false},
		{"bucket name with upper case and '_'", signedPut("/Bad_Bucket/k", "Content-Length: 1\r\n", "x"), 400, "InvalidBucketName", false},
		{"PUT announcing 6 TiB", signedPut("/hst/huge", "Content-Length: 6597069766656\r\n", "x"), 400, "EntityTooLarge", false},
		{"x-amz-meta-* of 2,100 bytes (limit 2 KiB)", signedPut("/hst/meta", "Content-Length: 1\r\n", "x", "X-Amz-Meta-Big", strings.Repeat("m", 2100)), 400, "MetadataTooLarge", false},
		{"Range with 1,000 ranges", func(t *testing.T, e *env) string {
			req := newRequest(t, "GET", e.url+"/hst/obj", nil)
			req.Header.Set("Range", "bytes=0-0"+strings.Repeat(",0-0", 999))
			signRequest(t, req, time.Now())
			return renderHead(t, req) + "\r\n"
		}, 200, "", false},
		{"SSE header (not implemented)", signedPut("/hst/sse", "Content-Length: 1\r\n", "x", "X-Amz-Server-Side-Encryption", "AES256"), 501, "NotImplemented", false},
	}
}

var codeRE = regexp.MustCompile(`<Code>([^<]*)</Code>`)

// hostileRow is one line of the security table.
type hostileRow struct{ input, answer, cost string }

// TestHostileInputs sends the hostile set on the epoll transport (the default) with the
// real S3 handler and checks each answer: the status and S3 code, no 5xx, nothing stored
// by a refused write, nothing written outside the drives, the server still serving after.
// With -v it prints the README's security table, the cost being what this run measured:
// the time to the answer and what became of the connection. The slow, resetting and
// many-connection inputs have their own tests (TestSlowloris, TestUnauthenticatedSlowBody,
// TestClientResetMidUpload, httpserver.TestUnreadBodyConnections) and rows written from them.
func TestHostileInputs(t *testing.T) {
	e, logs := startLoggedEpoll(t)
	c := e.sdk()
	mkbucket(t, c, "hst")
	putString(t, c, "hst", "obj", "some data")
	var rows []hostileRow
	for _, tc := range hostileCases() {
		answer, cost := hostileExchange(t, e, tc.req(t, e), tc.halfClose)
		want := fmt.Sprint(tc.status)
		if tc.code != "" {
			want += " " + tc.code
		}
		if answer != want {
			t.Errorf("%s: answered %q, want %q", tc.input, answer, want)
		}
		rows = append(rows, hostileRow{tc.input, answer, cost})
	}
	// Refused writes stored nothing; the traversal key stayed inside the drives.
	for _, k := range []string{"c1", "c2", "c3", "c4", "c5", "short", "anon", "hash", "chunked", "huge", "meta", "sse"} {
		if r := e.do(newRequest(t, "HEAD", e.url+"/hst/"+k, nil), true); r.status != 404 {
			t.Errorf("a refused PUT left object %s (HEAD %d)", k, r.status)
		}
	}
	if r := e.do(newRequest(t, "GET", e.url+"/hst/../../../etc/passwd", nil), true); r.status != 200 || string(r.body) != "evil" {
		t.Errorf("the traversal key reads back as %d %q", r.status, r.body)
	}
	if fi, err := os.Stat(filepath.Join(filepath.Dir(filepath.Dir(e.layer.Drives[0].String())), "etc")); err == nil {
		t.Errorf("a PUT wrote outside the drives: %v", fi.Name())
	}
	if r := e.do(newRequest(t, "GET", e.url+"/flashstor/health/live", nil), false); r.status != 200 {
		t.Fatalf("after the hostile set: health %d", r.status)
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("errors logged for the hostile set:\n%s", logs)
	}
	t.Logf("hostile set on epoll:\n| input | answer | cost |\n|---|---|---|\n%s", tableRows(rows))
}

// startLoggedEpoll is startLogged on the epoll transport, without its metrics, and with
// a token for /metrics.
func startLoggedEpoll(t *testing.T) (*env, *syncBuffer) {
	e, logs, _ := startLogged(t, "epoll", func(c *s3frontend.Config) { c.MetricsToken = "the-scrape-token" })
	return e, logs
}

func tableRows(rows []hostileRow) string {
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", r.input, r.answer, r.cost)
	}
	return b.String()
}

// hostileExchange sends req on a new connection (then shuts the client's side, with
// halfClose) and returns the answer ("status code") and its cost: the time from the last
// byte sent to the answer's head, and whether the server kept the connection (a health
// check on it then succeeds) or closed it.
func hostileExchange(t *testing.T, e *env, req string, halfClose bool) (answer, cost string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", e.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil && !isReset(err) {
		t.Fatalf("writing: %v", err)
	}
	if halfClose {
		conn.(*net.TCPConn).CloseWrite()
	}
	sent := time.Now()
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return "no answer: " + err.Error(), ""
	}
	took := time.Since(sent)
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	answer = fmt.Sprint(resp.StatusCode)
	if m := codeRE.FindSubmatch(body); m != nil {
		answer += " " + string(m[1])
	}
	state := "connection kept"
	switch {
	case halfClose:
		state = "client closed its side"
	case resp.Close:
		state = "connection closed"
		if !closedBy(conn, br) {
			state = "Connection: close, but left open"
		}
	default:
		io.WriteString(conn, "GET /flashstor/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
		if r2, err := http.ReadResponse(br, nil); err != nil || r2.StatusCode != 200 {
			state = fmt.Sprintf("kept, but the next request failed: %v", err)
		}
	}
	return answer, fmt.Sprintf("%s; %s", roundDuration(took), state)
}

// closedBy reports whether the server ends conn (EOF or reset) within 5 s.
func closedBy(conn net.Conn, br *bufio.Reader) bool {
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := io.Copy(io.Discard, br)
	return err == nil || isReset(err)
}

func isReset(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "broken pipe"))
}

// roundDuration renders d for the table: the noise of a shared machine is larger than
// a tenth of a millisecond.
func roundDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("answered in %d µs", d.Microseconds())
	case d < 10*time.Millisecond:
		return fmt.Sprintf("answered in %.1f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("answered in %d ms", d.Milliseconds())
}
