package sigv4

import (
	"bytes"
	"context"
	"io"
	"net/url"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/flashstor/flashstor/s3frontend/checksum"
)

// TestMinioClient drives minio-go v7, which over plain HTTP signs every chunk
// (STREAMING-AWS4-HMAC-SHA256-PAYLOAD) and, with trailing headers enabled, signs a trailer
// too (STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER): the paths the AWS SDK rarely takes.
func TestMinioClient(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, srv := newTestS3(t, false)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		trailers bool
		opts     minio.PutObjectOptions
		size     int
		payload  Payload
		sum      checksum.Algorithm
	}{
		{"signed chunks", false, minio.PutObjectOptions{}, 200_000, PayloadStreaming, checksum.CRC64NVME},
		{"signed chunks with Content-MD5", false, minio.PutObjectOptions{SendContentMd5: true}, 70_000, PayloadStreaming, checksum.CRC64NVME},
		{"one short chunk", false, minio.PutObjectOptions{}, 100, PayloadStreaming, checksum.CRC64NVME},
		{"empty object", false, minio.PutObjectOptions{}, 0, PayloadStreaming, checksum.CRC64NVME},
		{"signed trailer CRC32C", true, minio.PutObjectOptions{Checksum: minio.ChecksumCRC32C}, 150_000, PayloadStreamingTrailer, checksum.CRC32C},
		{"signed trailer SHA256", true, minio.PutObjectOptions{Checksum: minio.ChecksumSHA256}, 65536, PayloadStreamingTrailer, checksum.SHA256},
		{"signed trailer CRC64NVME", true, minio.PutObjectOptions{Checksum: minio.ChecksumCRC64NVME}, 1, PayloadStreamingTrailer, checksum.CRC64NVME},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client, err := minio.New(u.Host, &minio.Options{
				Creds:           miniocreds.NewStaticV4(docAccessKey, docSecret, ""),
				Region:          "us-east-1",
				TrailingHeaders: tc.trailers,
			})
			if err != nil {
				t.Fatal(err)
			}
			data := testPayload(tc.size)
			key := "minio/" + tc.name
			if _, err := client.PutObject(ctx, "bucket", key, bytes.NewReader(data), int64(len(data)), tc.opts); err != nil {
				t.Fatalf("PutObject: %v", err)
			}
			got, sum, ok := store.object("/bucket/" + key)
			if !ok || !bytes.Equal(got, data) {
				t.Fatalf("stored %d bytes, want %d", len(got), len(data))
			}
			if p := store.lastPayload(); p != tc.payload {
				t.Fatalf("payload %v, want %v", p, tc.payload)
			}
			h := tc.sum.New()
			h.Write(data)
			if want := checksum.Sum(tc.sum, h); !sum.Equal(want) {
				t.Fatalf("checksum %v, want %v", sum, want)
			}
			obj, err := client.GetObject(ctx, "bucket", key, minio.GetObjectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			back, err := io.ReadAll(obj)
			obj.Close()
			if err != nil || !bytes.Equal(back, data) {
				t.Fatalf("GetObject: %v, %d bytes", err, len(back))
			}
		})
	}

	bad, err := minio.New(u.Host, &minio.Options{Creds: miniocreds.NewStaticV4(docAccessKey, "wrong", ""), Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.PutObject(ctx, "bucket", "nope", bytes.NewReader(testPayload(10)), 10, minio.PutObjectOptions{})
	if resp := minio.ToErrorResponse(err); resp.Code != "SignatureDoesNotMatch" {
		t.Fatalf("wrong secret: %v", err)
	}
	wrongRegion, err := minio.New(u.Host, &minio.Options{Creds: miniocreds.NewStaticV4(docAccessKey, docSecret, ""), Region: "eu-west-1"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = wrongRegion.PutObject(ctx, "bucket", "nope", bytes.NewReader(testPayload(10)), 10, minio.PutObjectOptions{})
	if resp := minio.ToErrorResponse(err); resp.Code != "AuthorizationHeaderMalformed" {
		t.Fatalf("wrong region: %v", err)
	}
}
