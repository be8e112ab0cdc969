package sigv4

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// TestDocumentationVectors verifies the worked examples of the S3 API reference
// ("Signature Calculations for the Authorization Header", "Authenticating Requests: Using
// Query Parameters"), whose signatures were computed by AWS.
func TestDocumentationVectors(t *testing.T) {
	now := docTime
	v := newTestVerifier(t, &now, 0)
	tests := []struct {
		name string
		req  *Fields
	}{
		{"GET object", fields("GET", "/test.txt",
			"Host: examplebucket.s3.amazonaws.com",
			"Range: bytes=0-9",
			"x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
			"x-amz-date: 20130524T000000Z",
			"Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")},
		{"PUT object", fields("PUT", "/test%24file.text",
			"Host: examplebucket.s3.amazonaws.com",
			"Date: Fri, 24 May 2013 00:00:00 GMT",
			"x-amz-date: 20130524T000000Z",
			"x-amz-storage-class: REDUCED_REDUNDANCY",
			"x-amz-content-sha256: 44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
			"Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")},
		{"GET lifecycle", fields("GET", "/?lifecycle",
			"Host: examplebucket.s3.amazonaws.com",
			"x-amz-date: 20130524T000000Z",
			"x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
			"Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")},
		{"list objects", fields("GET", "/?max-keys=2&prefix=J",
			"Host: examplebucket.s3.amazonaws.com",
			"x-amz-date: 20130524T000000Z",
			"x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
			"Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")},
		{"presigned GET", fields("GET", "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
			"Host: examplebucket.s3.amazonaws.com")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := v.Verify(tc.req)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if string(a.AccessKey) != docAccessKey || !a.Time.Equal(docTime) {
				t.Fatalf("auth = %+v", a)
			}
		})
	}
}

// TestDocumentationChunkedUpload decodes the aws-chunked example of "Signature Calculations
// for the Authorization Header: Transferring Payload in Multiple Chunks": 65 KiB of 'a' in a
// 64 KiB and a 1 KiB chunk, each signature chained from the seed.
func TestDocumentationChunkedUpload(t *testing.T) {
	now := docTime
	v := newTestVerifier(t, &now, 0)
	req := fields("PUT", "/examplebucket/chunkObject.txt",
		"Host: s3.amazonaws.com",
		"x-amz-date: 20130524T000000Z",
		"x-amz-storage-class: REDUCED_REDUNDANCY",
		"Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
		"x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
		"Content-Encoding: aws-chunked",
		"x-amz-decoded-content-length: 66560",
		"Content-Length: 66824")
	body := "10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n" + strings.Repeat("a", 65536) + "\r\n" +
		"400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n" + strings.Repeat("a", 1024) + "\r\n" +
		"0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n"
	if len(body) != 66824 {
		t.Fatalf("example body is %d bytes, the example says 66824", len(body))
	}
	a, err := v.Verify(req)
	if err != nil {
		t.Fatal(err)
	}
	if a.Payload != PayloadStreaming {
		t.Fatalf("payload = %v", a.Payload)
	}
	b, err := v.Body(req, &a, strings.NewReader(body), BodyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, bytes.Repeat([]byte("a"), 66560)) {
		t.Fatalf("decoded %d bytes, not the example's payload", len(got))
	}

	// Flip one data byte of the second chunk: its signature, not the first's, must fail.
	bad := []byte(body)
	bad[len(bad)-200] = 'b'
	b, err = v.Body(req, &a, bytes.NewReader(bad), BodyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(b)
	wantFailure(t, err, FailChunkSignatureMismatch, "SignatureDoesNotMatch")
}
