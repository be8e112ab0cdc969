package sigv4

import (
	"bytes"
	"io"
	"testing"

	"github.com/flashstor/flashstor/s3frontend/checksum"
)

// FuzzAuthorizationHeader feeds arbitrary Authorization headers (and x-amz-date values) to
// the verifier: it must never panic, and anything but the one valid signature must fail
// with an *Error.
func FuzzAuthorizationHeader(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41", "20130524T000000Z")
	f.Add("AWS4-HMAC-SHA256 Credential=/,SignedHeaders=;,Signature=", "2013")
	f.Add("AWS4-HMAC-SHA256 Credential=a/b/c/d/e/f, , ,", "20130230T000000Z")
	f.Add("AWS AK:sig", "")
	now := docTime
	v := newTestVerifier(f, &now, 4)
	f.Fuzz(func(t *testing.T, authz, date string) {
		req := fields("GET", "/test.txt",
			"Host: examplebucket.s3.amazonaws.com",
			"Range: bytes=0-9",
			"x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
			"x-amz-date: "+date,
			"Authorization: "+authz)
		if _, err := v.Verify(req); err != nil && FailureOf(err) == 0 {
			t.Fatalf("non-S3 error %v", err)
		}
	})
}

// FuzzPresignedQuery feeds arbitrary queries to the presigned-URL path.
func FuzzPresignedQuery(f *testing.F) {
	f.Add("/test.txt", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
	f.Add("/%zz", "X-Amz-Algorithm=%&&&=")
	f.Add("//a/../b", "X-Amz-Credential=a%2Fb&X-Amz-Expires=-0&X-Amz-Signature=+")
	now := docTime
	v := newTestVerifier(f, &now, 4)
	f.Fuzz(func(t *testing.T, path, query string) {
		req := &Fields{MethodBytes: []byte("GET"), Path: []byte(path), Query: []byte(query),
			Headers: []Field{{Name: []byte("Host"), Value: []byte("examplebucket.s3.amazonaws.com")}}}
		if _, err := v.Verify(req); err != nil && FailureOf(err) == 0 {
			t.Fatalf("non-S3 error %v", err)
		}
	})
}

// FuzzChunkedBody decodes arbitrary aws-chunked bodies (chunk headers, data, trailers) in
// both the signed and the unsigned-trailer modes: no panic, no hang, only S3 errors, and a
// body that decodes must have exactly the declared length.
func FuzzChunkedBody(f *testing.F) {
	f.Add([]byte("10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\naaaa\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n"), false)
	f.Add([]byte("5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n"), true)
	f.Add([]byte("5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\n\r\n\r\n"), true)
	f.Add([]byte("ffffffffffffffff\r\n"), true)
	f.Add([]byte("0\r\nx-amz-trailer-signature:00\r\n"), true)
	now := docTime
	v := newTestVerifier(f, &now, 4)
	signedReq := fields("PUT", "/examplebucket/chunkObject.txt",
		"Host: s3.amazonaws.com",
		"x-amz-date: 20130524T000000Z",
		"x-amz-storage-class: REDUCED_REDUNDANCY",
		"Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
		"x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
		"Content-Encoding: aws-chunked",
		"x-amz-decoded-content-length: 66560",
		"Content-Length: 66824")
	signedAuth, err := v.Verify(signedReq)
	if err != nil {
		f.Fatal(err)
	}
	unsignedReq := fields("PUT", "/b/k", "Host: h", "x-amz-trailer: x-amz-checksum-crc32", "x-amz-decoded-content-length: 5")
	unsignedAuth := Auth{Payload: PayloadStreamingUnsignedTrailer}
	f.Fuzz(func(t *testing.T, body []byte, unsigned bool) {
		req, a := signedReq, signedAuth
		if unsigned {
			req, a = unsignedReq, unsignedAuth
		}
		b, err := v.Body(req, &a, bytes.NewReader(body), BodyOptions{Compute: checksum.CRC64NVME})
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.Copy(io.Discard, io.LimitReader(b, 1<<20))
		if err != nil {
			if FailureOf(err) == 0 {
				t.Fatalf("non-S3 error %v", err)
			}
			return
		}
		if got != b.Size() || (unsigned && got != 5) || (!unsigned && got != 66560) {
			t.Fatalf("decoded %d bytes (Size %d) without error", got, b.Size())
		}
	})
}
