package sigv4

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/flashstor/flashstor/s3frontend/checksum"
)

// signedChunkedRequest signs a STREAMING-AWS4-HMAC-SHA256-PAYLOAD request with the SDK
// (seed signature from SignHTTP, chunk signatures from its v4.StreamSigner, whose string to
// sign with empty headers is exactly S3's chunk string to sign) and returns the request and
// the encoded body, cutting data into chunks of the given sizes.
func signedChunkedRequest(t testing.TB, at time.Time, data []byte, sizes []int) (*Fields, []byte) {
	t.Helper()
	r := sdkRequest(t, "PUT", "chunked", "")
	r.Header.Set("Content-Encoding", "aws-chunked")
	r.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(len(data)))
	signHeader(t, r, streamingPayload, at)
	authz := r.Header.Get("Authorization")
	seed, err := hex.DecodeString(authz[strings.Index(authz, "Signature=")+len("Signature="):])
	if err != nil {
		t.Fatal(err)
	}
	ss := v4.NewStreamSigner(docCreds, "s3", "us-east-1", seed)
	var body bytes.Buffer
	emit := func(chunk []byte) {
		sig, err := ss.GetSignature(context.Background(), nil, chunk, at)
		if err != nil {
			t.Fatal(err)
		}
		body.WriteString(strconv.FormatInt(int64(len(chunk)), 16) + ";chunk-signature=" + hex.EncodeToString(sig) + "\r\n")
		body.Write(chunk)
		body.WriteString("\r\n")
	}
	rest := data
	for _, n := range sizes {
		emit(rest[:n])
		rest = rest[n:]
	}
	if len(rest) > 0 {
		emit(rest)
	}
	emit(nil)
	return fieldsFromHTTP(r), body.Bytes()
}

// readBody verifies req and reads its body through Body.
func readBody(t testing.TB, v *Verifier, req *Fields, body []byte, opt BodyOptions) ([]byte, *Body, error) {
	t.Helper()
	a, err := v.Verify(req)
	if err != nil {
		return nil, nil, err
	}
	b, err := v.Body(req, &a, bytes.NewReader(body), opt)
	if err != nil {
		return nil, nil, err
	}
	got, err := io.ReadAll(b)
	return got, b, err
}

func TestSignedChunks(t *testing.T) {
	now := docTime
	v := newTestVerifier(t, &now, 0)
	data := testPayload(3*8192 + 100)
	req, body := signedChunkedRequest(t, now, data, []int{8192, 8192 * 2})
	got, b, err := readBody(t, v, req, body, BodyOptions{Compute: checksum.CRC32C})
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("decode: %v, %d bytes", err, len(got))
	}
	if sum, ok := b.Checksum(); !ok || sum.Algorithm != checksum.CRC32C || b.ClientChecksum() {
		t.Fatalf("checksum %v %v", sum, ok)
	}

	small, smallBody := signedChunkedRequest(t, now, data, []int{100})
	_, _, err = readBody(t, v, small, smallBody, BodyOptions{})
	e := wantFailure(t, err, FailChunkTooSmall, "InvalidChunkSizeError")
	if e.Extra[0] != [2]string{"Chunk", "2"} || e.Extra[1] != [2]string{"BadChunkSize", "100"} {
		t.Fatalf("extra %v", e.Extra)
	}

	mutations := []struct {
		name   string
		mutate func(req *Fields, body []byte) []byte
		fail   Failure
		code   string
	}{
		{"data byte", func(_ *Fields, b []byte) []byte { b[200] ^= 1; return b }, FailChunkSignatureMismatch, "SignatureDoesNotMatch"},
		{"chunk signature", func(_ *Fields, b []byte) []byte {
			i := bytes.Index(b, []byte("chunk-signature=")) + len("chunk-signature=")
			b[i] ^= 1
			return b
		}, FailChunkSignatureMismatch, "SignatureDoesNotMatch"},
		{"final chunk signature", func(_ *Fields, b []byte) []byte {
			i := bytes.LastIndex(b, []byte("chunk-signature=")) + len("chunk-signature=")
			b[i] = 'x'
			return b
		}, FailChunkSignatureMismatch, "SignatureDoesNotMatch"},
		{"truncated", func(_ *Fields, b []byte) []byte { return b[:len(b)/2] }, FailIncompleteBody, "IncompleteBody"},
		{"missing final chunk", func(_ *Fields, b []byte) []byte { return b[:bytes.LastIndex(b, []byte("0;chunk"))] }, FailIncompleteBody, "IncompleteBody"},
		{"bad size", func(_ *Fields, b []byte) []byte { b[0] = 'g'; return b }, FailIncompleteBody, "IncompleteBody"},
		{"decoded length too small", func(r *Fields, b []byte) []byte {
			r.setHeader("X-Amz-Decoded-Content-Length", strconv.Itoa(len(data)-1))
			return b
		}, FailSignatureMismatch, "SignatureDoesNotMatch"},
		{"no signature on chunk", func(_ *Fields, b []byte) []byte {
			i := bytes.IndexByte(b, ';')
			j := bytes.IndexByte(b, '\r')
			return append(b[:i:i], b[j:]...)
		}, FailChunkSignatureMismatch, "SignatureDoesNotMatch"},
	}
	for _, tc := range mutations {
		t.Run(tc.name, func(t *testing.T) {
			req, body := signedChunkedRequest(t, now, data, []int{8192, 8192 * 2})
			body = tc.mutate(req, body)
			_, _, err := readBody(t, v, req, body, BodyOptions{})
			wantFailure(t, err, tc.fail, tc.code)
		})
	}
}

// unsignedTrailerRequest builds a STREAMING-UNSIGNED-PAYLOAD-TRAILER request in the SDK's
// wire format ("size\r\ndata\r\n", "0\r\n", "x-amz-checksum-x:value\r\n", "\r\n").
func unsignedTrailerRequest(t testing.TB, at time.Time, data []byte, alg checksum.Algorithm, trailerValue string) (*Fields, []byte) {
	t.Helper()
	r := sdkRequest(t, "PUT", "trailer", "")
	r.Header.Set("Content-Encoding", "aws-chunked")
	r.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(len(data)))
	r.Header.Set("X-Amz-Trailer", alg.HeaderName())
	r.Header.Set("X-Amz-Sdk-Checksum-Algorithm", alg.String())
	signHeader(t, r, streamingUnsignedTrailer, at)
	var body bytes.Buffer
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 5000)
		body.WriteString(strconv.FormatInt(int64(n), 16) + "\r\n")
		body.Write(rest[:n])
		body.WriteString("\r\n")
		rest = rest[n:]
	}
	body.WriteString("0\r\n" + alg.HeaderName() + ":" + trailerValue + "\r\n\r\n")
	return fieldsFromHTTP(r), body.Bytes()
}

func TestUnsignedTrailer(t *testing.T) {
	now := docTime
	v := newTestVerifier(t, &now, 0)
	data := testPayload(12345)
	for _, alg := range []checksum.Algorithm{checksum.CRC32, checksum.CRC32C, checksum.CRC64NVME, checksum.SHA1, checksum.SHA256} {
		h := alg.New()
		h.Write(data)
		good := checksum.Sum(alg, h).Base64()
		t.Run(alg.String(), func(t *testing.T) {
			req, body := unsignedTrailerRequest(t, now, data, alg, good)
			got, b, err := readBody(t, v, req, body, BodyOptions{})
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("decode: %v", err)
			}
			if sum, ok := b.Checksum(); !ok || sum.Base64() != good || !b.ClientChecksum() {
				t.Fatalf("checksum %v", sum)
			}
			wrong := checksum.Sum(alg, alg.New()).Base64()
			req, body = unsignedTrailerRequest(t, now, data, alg, wrong)
			_, _, err = readBody(t, v, req, body, BodyOptions{})
			e := wantFailure(t, err, FailChecksumMismatch, "BadDigest")
			if e.Message != "The "+alg.String()+" you specified did not match the calculated checksum." {
				t.Fatalf("message %q", e.Message)
			}
			req, body = unsignedTrailerRequest(t, now, data, alg, "!!")
			_, _, err = readBody(t, v, req, body, BodyOptions{})
			wantFailure(t, err, FailInvalidChecksumHeader, "InvalidRequest")
			req, body = unsignedTrailerRequest(t, now, data, alg, good)
			body = body[:bytes.LastIndex(body, []byte("0\r\n"))+3]
			_, _, err = readBody(t, v, req, body, BodyOptions{})
			wantFailure(t, err, FailMalformedTrailer, "MalformedTrailerError")
		})
	}
}

// TestPlainBodyChecks covers the single-chunk payload: x-amz-content-sha256, Content-MD5
// and x-amz-checksum-* headers, and the header errors S3 answers before reading.
func TestPlainBodyChecks(t *testing.T) {
	now := docTime
	v := newTestVerifier(t, &now, 0)
	data := []byte("Welcome to Amazon S3.")
	shaHex := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	md5b64 := func(b []byte) string { s := md5.Sum(b); return base64.StdEncoding.EncodeToString(s[:]) }
	crc := func(b []byte) string {
		h := checksum.CRC32.New()
		h.Write(b)
		return checksum.Sum(checksum.CRC32, h).Base64()
	}
	tests := []struct {
		name    string
		payload string
		headers map[string]string
		body    []byte
		fail    Failure
		code    string
	}{
		{"sha256 ok", shaHex(data), nil, data, 0, ""},
		{"sha256 mismatch", shaHex(data), nil, []byte("Welcome to Amazon S4."), FailContentSHA256Mismatch, "XAmzContentSHA256Mismatch"},
		{"md5 ok", unsignedPayload, map[string]string{"Content-Md5": md5b64(data)}, data, 0, ""},
		{"md5 mismatch", unsignedPayload, map[string]string{"Content-Md5": md5b64([]byte("x"))}, data, FailContentMD5Mismatch, "BadDigest"},
		{"md5 malformed", unsignedPayload, map[string]string{"Content-Md5": "not-md5"}, data, FailInvalidContentMD5, "InvalidDigest"},
		{"crc32 header ok", unsignedPayload, map[string]string{"X-Amz-Checksum-Crc32": crc(data), "X-Amz-Sdk-Checksum-Algorithm": "CRC32"}, data, 0, ""},
		{"crc32 header mismatch", unsignedPayload, map[string]string{"X-Amz-Checksum-Crc32": crc([]byte("x"))}, data, FailChecksumMismatch, "BadDigest"},
		{"crc32 header malformed", unsignedPayload, map[string]string{"X-Amz-Checksum-Crc32": "i9aeUgg="}, data, FailInvalidChecksumHeader, "InvalidRequest"},
		{"two checksum headers", unsignedPayload, map[string]string{"X-Amz-Checksum-Crc32": crc(data), "X-Amz-Checksum-Sha1": "Kq5sNclPz7QV2+lfQIuc6R7oRu0="}, data, FailMultipleChecksums, "InvalidRequest"},
		{"sdk algorithm without checksum", unsignedPayload, map[string]string{"X-Amz-Sdk-Checksum-Algorithm": "SHA256"}, data, FailChecksumAlgorithm, "InvalidRequest"},
		{"sdk algorithm unknown", unsignedPayload, map[string]string{"X-Amz-Sdk-Checksum-Algorithm": "MD4"}, data, FailChecksumAlgorithm, "InvalidRequest"},
		{"trailer without chunked payload", unsignedPayload, map[string]string{"X-Amz-Trailer": "x-amz-checksum-crc32"}, data, FailUnsupportedTrailer, "InvalidRequest"},
		{"short body", shaHex(data), nil, data[:5], FailContentSHA256Mismatch, "XAmzContentSHA256Mismatch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := sdkRequest(t, "PUT", "obj", "")
			for k, val := range tc.headers {
				r.Header.Set(k, val)
			}
			signHeader(t, r, tc.payload, now)
			got, b, err := readBody(t, v, fieldsFromHTTP(r), tc.body, BodyOptions{})
			if tc.fail == 0 {
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("read: %v", err)
				}
				if _, ok := tc.headers["X-Amz-Checksum-Crc32"]; ok {
					if sum, ok := b.Checksum(); !ok || sum.Base64() != crc(data) {
						t.Fatalf("checksum %v", sum)
					}
				}
				return
			}
			wantFailure(t, err, tc.fail, tc.code)
		})
	}

	// An unexpected EOF from the transport is an incomplete body, not a pass.
	r := sdkRequest(t, "PUT", "obj", "")
	signHeader(t, r, unsignedPayload, now)
	f := fieldsFromHTTP(r)
	a, err := v.Verify(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := v.Body(f, &a, io.MultiReader(bytes.NewReader(data), errReader{io.ErrUnexpectedEOF}), BodyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(b)
	wantFailure(t, err, FailIncompleteBody, "IncompleteBody")
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// TestHTTPAdapter checks the net/http adapter against a request parsed by net/http itself,
// including the headers net/http moves out of Header.
func TestHTTPAdapter(t *testing.T) {
	raw := "PUT http://h.test/b/a%20b%2Fc?x=1&y HTTP/1.1\r\nHost: h.test\r\nTransfer-Encoding: chunked\r\nX-Amz-Meta-A: 1\r\nx-amz-meta-a: 2\r\n\r\n0\r\n\r\n"
	req, err := http.ReadRequest(bufioReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	h := HTTPRequest{R: req}
	if string(h.Method()) != "PUT" || string(h.RawPath()) != "/b/a%20b%2Fc" || string(h.RawQuery()) != "x=1&y" {
		t.Fatalf("target %s %s %s", h.Method(), h.RawPath(), h.RawQuery())
	}
	vals := h.AppendHeaderValues(nil, "x-amz-meta-a")
	if len(vals) != 2 || string(vals[0]) != "1" || string(vals[1]) != "2" {
		t.Fatalf("values %q", vals)
	}
	if v := h.AppendHeaderValues(nil, "host"); len(v) != 1 || string(v[0]) != "h.test" {
		t.Fatalf("host %q", v)
	}
	if v := h.AppendHeaderValues(nil, "transfer-encoding"); len(v) != 1 || string(v[0]) != "chunked" {
		t.Fatalf("transfer-encoding %q", v)
	}
}
