package s3frontend_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"hash/crc32"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/flashstor/flashstor/s3frontend/httpserver"
)

// TestSDKOverTLS runs the handler behind net/http with TLS, where aws-sdk-go-v2 sends its
// default integrity checksums as trailers of aws-chunked bodies
// (STREAMING-UNSIGNED-PAYLOAD-TRAILER).
func TestSDKOverTLS(t *testing.T) {
	e := start(t, "nethttp")
	ts := httptest.NewUnstartedServer(httpserver.NetHTTP(e.handler))
	ts.StartTLS()
	t.Cleanup(ts.Close)
	c := e.sdk(func(o *s3.Options) {
		o.BaseEndpoint = aws.String(ts.URL)
		o.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	})
	ctx := context.Background()
	mkbucket(t, c, "tls")
	data := bytes.Repeat([]byte("trailing checksum "), 20000)
	crc := crc32.ChecksumIEEE(data)
	want := base64.StdEncoding.EncodeToString([]byte{byte(crc >> 24), byte(crc >> 16), byte(crc >> 8), byte(crc)})
	put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("tls"), Key: aws.String("k"), Body: bytes.NewReader(data)})
	mustOK(t, "PutObject", err)
	if aws.ToString(put.ChecksumCRC32) != want {
		t.Errorf("PutObject CRC32 %q, want %q (the SDK's trailer)", aws.ToString(put.ChecksumCRC32), want)
	}
	b, out := getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("tls"), Key: aws.String("k"), ChecksumMode: types.ChecksumModeEnabled})
	if !bytes.Equal(b, data) || aws.ToString(out.ChecksumCRC32) != want {
		t.Errorf("GetObject: %d bytes, CRC32 %q", len(b), aws.ToString(out.ChecksumCRC32))
	}

	// A multipart upload whose parts carry trailer checksums, passed back at completion
	// as the SDK's upload manager does.
	create, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("tls"), Key: aws.String("mp")})
	mustOK(t, "CreateMultipartUpload", err)
	var done []types.CompletedPart
	for i, d := range [][]byte{partData(1, 5<<20), partData(2, 10)} {
		up, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("tls"), Key: aws.String("mp"), UploadId: create.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(d)})
		mustOK(t, "UploadPart", err)
		done = append(done, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: up.ETag, ChecksumCRC32: up.ChecksumCRC32})
	}
	// Trailer checksums arrive after the body, yet are stored with the parts.
	lp, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("tls"), Key: aws.String("mp"), UploadId: create.UploadId})
	mustOK(t, "ListParts", err)
	for i, p := range lp.Parts {
		if aws.ToString(p.ChecksumCRC32) == "" || aws.ToString(p.ChecksumCRC32) != aws.ToString(done[i].ChecksumCRC32) {
			t.Errorf("part %d: stored CRC32 %q, the SDK's trailer was %q", i+1, aws.ToString(p.ChecksumCRC32), aws.ToString(done[i].ChecksumCRC32))
		}
	}
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("tls"), Key: aws.String("mp"),
		UploadId: create.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: done}})
	mustOK(t, "CompleteMultipartUpload", err)
}

// TestMinioTrailingChecksum uploads with minio-go's signed aws-chunked bodies carrying a
// signed trailer (STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER).
func TestMinioTrailingChecksum(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		mc, err := minio.New(e.addr, &minio.Options{Creds: miniocreds.NewStaticV4(testAccessKey, testSecretKey, ""), Region: testRegion, TrailingHeaders: true})
		mustOK(t, "minio.New", err)
		mustOK(t, "MakeBucket", mc.MakeBucket(ctx, "trl", minio.MakeBucketOptions{}))
		data := bytes.Repeat([]byte("signed trailer "), 20000)
		_, err = mc.PutObject(ctx, "trl", "k", bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{Checksum: minio.ChecksumCRC32C})
		mustOK(t, "PutObject with a CRC32C trailer", err)
		h := crc32.New(crc32.MakeTable(crc32.Castagnoli))
		h.Write(data)
		want := base64.StdEncoding.EncodeToString(h.Sum(nil))
		out, err := e.sdk().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("trl"), Key: aws.String("k"), ChecksumMode: types.ChecksumModeEnabled})
		mustOK(t, "HeadObject", err)
		if aws.ToString(out.ChecksumCRC32C) != want {
			t.Errorf("stored CRC32C %q, want %q", aws.ToString(out.ChecksumCRC32C), want)
		}
	})
}
