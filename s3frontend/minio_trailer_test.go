package s3frontend_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"hash/crc32"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"
)

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
