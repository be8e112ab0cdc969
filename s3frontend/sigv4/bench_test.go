package sigv4

import (
	"bytes"
	"crypto/sha256"
	"io"
	"net/http"
	"testing"
	"time"
)

// docGET is the AWS documentation's signed GET, the shape of most S3 reads.
func docGET() *Fields {
	return fields("GET", "/test.txt",
		"Host: examplebucket.s3.amazonaws.com",
		"Range: bytes=0-9",
		"x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"x-amz-date: 20130524T000000Z",
		"User-Agent: aws-sdk-go-v2/1.48.0",
		"Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
}

// BenchmarkVerifySignedGET verifies a header-signed GET over the arena-style Fields request
// and over the net/http adapter, with the signing-key cache and without it (four extra
// HMACs per request).
func BenchmarkVerifySignedGET(b *testing.B) {
	now := docTime
	httpReq, err := http.NewRequest("GET", "http://examplebucket.s3.amazonaws.com/test.txt", nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, h := range docGET().Headers {
		if string(h.Name) != "Host" {
			httpReq.Header.Add(string(h.Name), string(h.Value))
		}
	}
	httpReq.RequestURI = "/test.txt"
	cases := []struct {
		name  string
		cache int
		req   Request
	}{
		{"fields/cache", 0, docGET()},
		{"fields/nocache", -1, docGET()},
		{"nethttp/cache", 0, HTTPRequest{R: httpReq}},
		{"nethttp/nocache", -1, HTTPRequest{R: httpReq}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			v := newTestVerifier(b, &now, tc.cache)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(tc.req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkStreamingDecode decodes and verifies an 8 MiB aws-chunked body signed in 64 KiB
// chunks, against the limit: plain SHA-256 over the same payload bytes, which the chunk
// signatures cannot avoid. The "vs-sha256" metric is decode throughput / SHA-256
// throughput (best of five passes), both measured in this run.
func BenchmarkStreamingDecode(b *testing.B) {
	now := docTime
	v := newTestVerifier(b, &now, 0)
	data := testPayload(8 << 20)
	sizes := make([]int, 0, 128)
	for range len(data)/(64<<10) - 1 {
		sizes = append(sizes, 64<<10)
	}
	req, body := signedChunkedRequest(b, now, data, sizes)
	a, err := v.Verify(req)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 32<<10)
	// The limit, timed here so that the ratio compares numbers from the same run:
	// the best of a few SHA-256 passes over the payload.
	var limit time.Duration
	for range 5 {
		h := sha256.New()
		start := time.Now()
		h.Write(data)
		h.Sum(nil)
		if d := time.Since(start); limit == 0 || d < limit {
			limit = d
		}
	}
	b.Run("sha256-limit", func(b *testing.B) {
		h := sha256.New()
		var sum [sha256.Size]byte
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			h.Reset()
			h.Write(data)
			h.Sum(sum[:0])
		}
	})
	b.Run("signed-chunks", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		start := time.Now()
		for b.Loop() {
			body, err := v.Body(req, &a, bytes.NewReader(body), BodyOptions{})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.CopyBuffer(io.Discard, body, buf); err != nil {
				b.Fatal(err)
			}
		}
		perOp := time.Since(start) / time.Duration(b.N)
		b.ReportMetric(float64(limit.Nanoseconds())/float64(perOp.Nanoseconds()), "vs-sha256")
	})
}
