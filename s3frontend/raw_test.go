package s3frontend_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// s3Error is the <Error> document.
type s3Error struct {
	Code, Message, Resource, RequestId, HostId, Key, BucketName string
}

// rawResponse is a response read whole.
type rawResponse struct {
	status int
	header http.Header
	body   []byte
	err    s3Error
}

// do sends req (signed with the test credentials unless anonymous) and reads the whole
// response.
func (e *env) do(req *http.Request, sign bool) rawResponse {
	e.t.Helper()
	if sign {
		signRequest(e.t, req, time.Now())
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: reading: %v", req.Method, req.URL, err)
	}
	r := rawResponse{status: resp.StatusCode, header: resp.Header, body: body}
	if resp.StatusCode >= 300 && len(body) > 0 {
		if err := xml.Unmarshal(body, &r.err); err != nil {
			e.t.Fatalf("%s %s: %d with a body that is not an S3 error: %v\n%s", req.Method, req.URL, resp.StatusCode, err, body)
		}
	}
	if resp.Header.Get("x-amz-request-id") == "" || resp.Header.Get("x-amz-id-2") == "" {
		e.t.Errorf("%s %s: response without x-amz-request-id / x-amz-id-2: %v", req.Method, req.URL, resp.Header)
	}
	return r
}

// signRequest signs req with SigV4 at time at. Its body must be a *bytes.Reader or nil;
// the payload is signed by its SHA-256 unless X-Amz-Content-Sha256 is already set.
func signRequest(t testing.TB, req *http.Request, at time.Time) {
	t.Helper()
	hash := req.Header.Get("X-Amz-Content-Sha256")
	if hash == "" {
		var body []byte
		if req.Body != nil {
			b, err := req.GetBody()
			if err != nil {
				t.Fatal(err)
			}
			body, _ = io.ReadAll(b)
		}
		sum := sha256.Sum256(body)
		hash = hex.EncodeToString(sum[:])
		req.Header.Set("X-Amz-Content-Sha256", hash)
	}
	err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).SignHTTP(context.Background(),
		aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey}, req, hash, "s3", testRegion, at)
	if err != nil {
		t.Fatal(err)
	}
}

func newRequest(t testing.TB, method, url string, body []byte) *http.Request {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestRawErrors(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		c := e.sdk()
		mkbucket(t, c, "raw")
		putString(t, c, "raw", "obj", "data")
		cases := []struct {
			name, method, path string
			body               []byte
			sign               bool
			hdr                map[string]string
			status             int
			code               string
		}{
			{"anonymous list", "GET", "/", nil, false, nil, 403, "AccessDenied"},
			{"anonymous get", "GET", "/raw/obj", nil, false, nil, 403, "AccessDenied"},
			{"anonymous unknown op", "GET", "/raw?acl", nil, false, nil, 403, "AccessDenied"},
			{"website", "GET", "/raw?website", nil, true, nil, 501, "NotImplemented"},
			{"object tagging without a TagSet", "PUT", "/raw/obj?tagging", []byte("<Tagging/>"), true, nil, 400, "MalformedXML"},
			{"notification", "GET", "/raw?notification", nil, true, nil, 501, "NotImplemented"},
			{"policy", "GET", "/raw?policy", nil, true, nil, 404, "NoSuchBucketPolicy"},
			{"website", "GET", "/raw?website", nil, true, nil, 501, "NotImplemented"},
			{"unknown parameter", "GET", "/raw/obj?frobnicate=1", nil, true, nil, 501, "NotImplemented"},
			{"malformed version id", "GET", "/raw/obj?versionId=abc", nil, true, nil, 400, "InvalidArgument"},
			{"versionId null", "GET", "/raw/obj?versionId=null", nil, true, nil, 200, ""},
			{"sse header", "PUT", "/raw/enc", []byte("x"), true, map[string]string{"x-amz-server-side-encryption": "AES256"}, 501, "NotImplemented"},
			{"post object", "POST", "/raw/obj", nil, true, nil, 405, "MethodNotAllowed"},
			{"patch", "PATCH", "/raw/obj", nil, true, nil, 405, "MethodNotAllowed"},
			{"post service", "POST", "/", nil, true, nil, 405, "MethodNotAllowed"},
			{"invalid bucket", "GET", "/Bad_Bucket/obj", nil, true, nil, 400, "InvalidBucketName"},
			{"key too long", "GET", "/raw/" + strings.Repeat("x", 1025), nil, true, nil, 400, "KeyTooLongError"},
			{"delete: bad xml", "POST", "/raw?delete", []byte("<Delete><Object><Key>a</Key></Object"), true, map[string]string{"Content-MD5": md5b64("<Delete><Object><Key>a</Key></Object")}, 400, "MalformedXML"},
			{"delete: no objects", "POST", "/raw?delete", []byte("<Delete></Delete>"), true, map[string]string{"Content-MD5": md5b64("<Delete></Delete>")}, 400, "MalformedXML"},
			{"delete: wrong root", "POST", "/raw?delete", []byte("<Remove/>"), true, map[string]string{"Content-MD5": md5b64("<Remove/>")}, 400, "MalformedXML"},
			{"delete: no md5", "POST", "/raw?delete", []byte("<Delete><Object><Key>a</Key></Object></Delete>"), true, nil, 400, "InvalidRequest"},
			{"delete: wrong md5", "POST", "/raw?delete", []byte("<Delete><Object><Key>a</Key></Object></Delete>"), true, map[string]string{"Content-MD5": md5b64("other")}, 400, "BadDigest"},
			{"create bucket: bad xml", "PUT", "/newbucket", []byte("<CreateBucketConfiguration><LocationConstraint>"), true, nil, 400, "MalformedXML"},
			{"complete: bad xml", "POST", "/raw/obj?uploadId=0123456789abcdef0123456789abcdef", []byte("not xml"), true, nil, 400, "MalformedXML"},
			{"complete: no parts", "POST", "/raw/obj?uploadId=0123456789abcdef0123456789abcdef", []byte("<CompleteMultipartUpload/>"), true, nil, 400, "MalformedXML"},
			{"complete: bad part number", "POST", "/raw/obj?uploadId=0123456789abcdef0123456789abcdef", []byte("<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>e</ETag></Part></CompleteMultipartUpload>"), true, nil, 400, "MalformedXML"},
			{"complete: unknown upload", "POST", "/raw/obj?uploadId=0123456789abcdef0123456789abcdef", []byte("<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>e</ETag></Part></CompleteMultipartUpload>"), true, nil, 404, "NoSuchUpload"},
			{"upload part: bad number", "PUT", "/raw/obj?uploadId=0123456789abcdef0123456789abcdef&partNumber=0", []byte("x"), true, nil, 400, "InvalidArgument"},
			{"list: bad max-keys", "GET", "/raw?max-keys=-1", nil, true, nil, 400, "InvalidArgument"},
			{"list v2: bad list-type", "GET", "/raw?list-type=3", nil, true, nil, 400, "InvalidArgument"},
			{"payload hash mismatch", "PUT", "/raw/hash", []byte("body"), true, map[string]string{"X-Amz-Content-Sha256": strings.Repeat("ab", 32)}, 400, "XAmzContentSHA256Mismatch"},
			{"bad If-None-Match on write", "PUT", "/raw/cond", []byte("x"), true, map[string]string{"If-None-Match": `"abc"`}, 501, "NotImplemented"},
			{"copy with body", "PUT", "/raw/copy", []byte("x"), true, map[string]string{"x-amz-copy-source": "raw/obj"}, 400, "UnexpectedContent"},
			{"user metadata too large", "PUT", "/raw/meta", []byte("x"), true, map[string]string{"x-amz-meta-big": strings.Repeat("m", 2100)}, 400, "MetadataTooLarge"},
			{"head missing: no body", "HEAD", "/raw/missing", nil, true, nil, 404, ""},
		}
		for _, tc := range cases {
			req := newRequest(t, tc.method, e.url+tc.path, tc.body)
			for k, v := range tc.hdr {
				req.Header.Set(k, v)
			}
			r := e.do(req, tc.sign)
			if r.status != tc.status || r.err.Code != tc.code {
				t.Errorf("%s: %d %s (%s), want %d %s", tc.name, r.status, r.err.Code, r.err.Message, tc.status, tc.code)
			}
			if tc.code != "" && (r.err.RequestId != r.header.Get("x-amz-request-id") || r.err.Resource == "") {
				t.Errorf("%s: error document %+v does not name the request", tc.name, r.err)
			}
			if tc.method == "HEAD" && len(r.body) != 0 {
				t.Errorf("%s: HEAD response has a body", tc.name)
			}
		}
		// Nothing was stored by the refused writes.
		for _, k := range []string{"hash", "enc", "cond", "copy", "meta"} {
			r := e.do(newRequest(t, "HEAD", e.url+"/raw/"+k, nil), true)
			if r.status != 404 {
				t.Errorf("refused PUT of %s left an object (HEAD %d)", k, r.status)
			}
		}
	})
}

func TestRawHealth(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		for _, p := range []string{"/flashstor/health/live", "/flashstor/health/ready"} {
			for _, m := range []string{"GET", "HEAD"} {
				r := e.do(newRequest(t, m, e.url+p, nil), false)
				if r.status != 200 {
					t.Errorf("%s %s: %d", m, p, r.status)
				}
			}
		}
		r := e.do(newRequest(t, "POST", e.url+"/flashstor/health/live", nil), false)
		if r.status != 405 {
			t.Errorf("POST health: %d", r.status)
		}
		// Signed, the same path is an object of bucket "flashstor".
		if r := e.do(newRequest(t, "GET", e.url+"/flashstor/health/live", nil), true); r.status != 404 || r.err.Code != "NoSuchBucket" {
			t.Errorf("signed GET of the health path: %d %s, want 404 NoSuchBucket", r.status, r.err.Code)
		}
		mkbucket(t, e.sdk(), "flashstor")
		if r := e.do(newRequest(t, "PUT", e.url+"/flashstor/health/live", []byte("an object")), true); r.status != 200 {
			t.Errorf("signed PUT of the health path: %d %s", r.status, r.err.Code)
		}
		if r := e.do(newRequest(t, "GET", e.url+"/flashstor/health/live", nil), true); r.status != 200 || string(r.body) != "an object" {
			t.Errorf("signed GET of the health path: %d %q", r.status, r.body)
		}
		if r := e.do(newRequest(t, "GET", e.url+"/flashstor/health/live", nil), false); r.status != 200 || len(r.body) != 0 {
			t.Errorf("unsigned GET of the health path after the object was put: %d %q", r.status, r.body)
		}
	})
}

func TestRawSignatures(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		mkbucket(t, e.sdk(), "sig")
		// A signature made with another secret.
		req := newRequest(t, "GET", e.url+"/sig", nil)
		req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
		v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: "wrong"},
			req, "UNSIGNED-PAYLOAD", "s3", testRegion, time.Now())
		if r := e.do(req, false); r.status != 403 || r.err.Code != "SignatureDoesNotMatch" {
			t.Errorf("wrong secret: %d %s", r.status, r.err.Code)
		}
		// An unknown access key.
		req = newRequest(t, "GET", e.url+"/sig", nil)
		v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "NOBODY", SecretAccessKey: "x"},
			req, "UNSIGNED-PAYLOAD", "s3", testRegion, time.Now())
		req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
		if r := e.do(req, false); r.status != 403 || r.err.Code != "InvalidAccessKeyId" {
			t.Errorf("unknown key: %d %s", r.status, r.err.Code)
		}
		// Clock skew.
		req = newRequest(t, "GET", e.url+"/sig", nil)
		signRequest(t, req, time.Now().Add(-20*time.Minute))
		if r := e.do(req, false); r.status != 403 || r.err.Code != "RequestTimeTooSkewed" {
			t.Errorf("skewed: %d %s", r.status, r.err.Code)
		}
		// A tampered path after signing.
		req = newRequest(t, "GET", e.url+"/sig", nil)
		signRequest(t, req, time.Now())
		req.URL.Path = "/sig2"
		if r := e.do(req, false); r.status != 403 || r.err.Code != "SignatureDoesNotMatch" {
			t.Errorf("tampered: %d %s", r.status, r.err.Code)
		}
	})
}

func TestPresignedURLs(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		c := e.sdk()
		mkbucket(t, c, "pre")
		ps := s3.NewPresignClient(c)
		put, err := ps.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("pre"), Key: aws.String("up load")}, s3.WithPresignExpires(time.Hour))
		mustOK(t, "PresignPutObject", err)
		req := newRequest(t, put.Method, put.URL, []byte("presigned body"))
		for k, vs := range put.SignedHeader {
			for _, v := range vs {
				req.Header.Add(k, v)
			}
		}
		if r := e.do(req, false); r.status != 200 {
			t.Fatalf("presigned PUT: %d %s %s", r.status, r.err.Code, r.err.Message)
		}
		get, err := ps.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("pre"), Key: aws.String("up load")}, s3.WithPresignExpires(time.Hour))
		mustOK(t, "PresignGetObject", err)
		r := e.do(newRequest(t, "GET", get.URL, nil), false)
		if r.status != 200 || string(r.body) != "presigned body" {
			t.Fatalf("presigned GET: %d %q", r.status, r.body)
		}
		// Tampering with the signed URL.
		r = e.do(newRequest(t, "GET", strings.Replace(get.URL, "up%20load", "other", 1), nil), false)
		if r.status != 403 || r.err.Code != "SignatureDoesNotMatch" {
			t.Errorf("tampered presigned GET: %d %s", r.status, r.err.Code)
		}
		// Expired.
		old, err := ps.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("pre"), Key: aws.String("up load")}, s3.WithPresignExpires(time.Second),
			func(o *s3.PresignOptions) {
				o.ClientOptions = append(o.ClientOptions, func(o *s3.Options) {
					o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
				})
			})
		mustOK(t, "PresignGetObject", err)
		time.Sleep(2100 * time.Millisecond)
		r = e.do(newRequest(t, "GET", old.URL, nil), false)
		if r.status != 403 || r.err.Code != "AccessDenied" {
			t.Errorf("expired presigned GET: %d %s", r.status, r.err.Code)
		}
	})
}

// rawExchange writes raw bytes on a new connection and returns what the server sends back
// until it closes the connection or deadline passes.
func rawExchange(t *testing.T, addr string, req string, deadline time.Duration) (string, bool) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(deadline))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	_, err = io.Copy(&out, bufio.NewReader(conn))
	closed := err == nil || !isTimeout(err)
	return out.String(), closed
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func TestRawMalformedRequests(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		cases := []struct{ name, req string }{
			{"CL and TE", "PUT /b/k HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
			{"two Content-Lengths", "PUT /b/k HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello"},
			{"bad Content-Length", "PUT /b/k HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"},
			{"obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n"},
			{"bare LF in header", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\nb\r\n\r\n"},
			{"garbage", "\x00\x01\x02\x03 garbage\r\n\r\n"},
			{"no Host", "GET / HTTP/1.1\r\n\r\n"},
			{"space in name", "GET / HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n"},
			{"bad percent-escape", "GET /raw/%zz HTTP/1.1\r\nHost: x\r\n\r\n"},
			{"huge header", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 70000) + "\r\n\r\n"},
		}
		// The epoll transport answers 400 and closes (RFC 9112 smuggling shapes); net/http has
		// its own rules (it accepts obs-fold, lets Transfer-Encoding override Content-Length)
		// and is only required to answer with a client error, never a 5xx.
		epoll := e.transport == "epoll"
		wait := time.Second
		if epoll {
			wait = 10 * time.Second
		}
		for _, tc := range cases {
			out, closed := rawExchange(t, e.addr, tc.req, wait)
			if !strings.HasPrefix(out, "HTTP/1.1 4") && !(out == "" && closed) {
				t.Errorf("%s: got %.60q", tc.name, out)
			}
			if epoll && !closed {
				t.Errorf("%s: connection left open", tc.name)
			}
		}
		// The server still serves.
		if r := e.do(newRequest(t, "GET", e.url+"/flashstor/health/live", nil), false); r.status != 200 {
			t.Fatalf("after malformed requests: %d", r.status)
		}
	})
}

func TestSlowloris(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			e := start(t, tr, func(o *envOptions) { o.http.HeaderTimeout = 300 * time.Millisecond })
			conn, err := net.Dial("tcp", e.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			// A head that trickles in and never ends: the server must cut it, whatever the
			// client keeps sending.
			io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n")
			cut := false
			for i := 0; i < 100 && !cut; i++ {
				time.Sleep(50 * time.Millisecond)
				if _, err := io.WriteString(conn, "X-Slow: 1\r\n"); err != nil {
					cut = true
				}
			}
			if !cut {
				conn.SetReadDeadline(time.Now().Add(5 * time.Second))
				_, err := io.Copy(io.Discard, conn)
				cut = err == nil || !isTimeout(err)
			}
			if !cut {
				t.Fatal("a trickling head kept its connection for 5 s past a 300 ms header timeout")
			}
			if st := e.srv.Stats(); st != nil && st.HeaderTimeouts.Load() == 0 {
				t.Errorf("epoll: HeaderTimeouts not counted")
			}
		})
	}
}
