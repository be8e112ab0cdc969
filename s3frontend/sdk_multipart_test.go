package s3frontend_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// partData returns n deterministic bytes for part i.
func partData(i, n int) []byte {
	b := make([]byte, n)
	for j := range b {
		b[j] = byte(i*31 + j*7)
	}
	return b
}

// multipartETag is S3's ETag of an object assembled from parts.
func multipartETag(parts ...[]byte) string {
	h := md5.New()
	for _, p := range parts {
		s := md5.Sum(p)
		h.Write(s[:])
	}
	return fmt.Sprintf(`"%s-%d"`, hex.EncodeToString(h.Sum(nil)), len(parts))
}

func TestSDKMultipart(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		c := e.sdk()
		mkbucket(t, c, "mpu")
		create, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("big/obj"),
			ContentType: aws.String("application/x-test"), Metadata: map[string]string{"who": "mpu"}, ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
		mustOK(t, "CreateMultipartUpload", err)
		id := create.UploadId
		if create.ChecksumAlgorithm != types.ChecksumAlgorithmCrc32 {
			t.Errorf("Create checksum algorithm %q", create.ChecksumAlgorithm)
		}
		p1, p2, p3 := partData(1, 5<<20), partData(2, 5<<20), partData(3, 1234)
		var done []types.CompletedPart
		for i, data := range [][]byte{p1, p2, p3} {
			out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("mpu"), Key: aws.String("big/obj"), UploadId: id,
				PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(data), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
			mustOK(t, fmt.Sprintf("UploadPart %d", i+1), err)
			done = append(done, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag, ChecksumCRC32: out.ChecksumCRC32})
			if out.ChecksumCRC32 == nil {
				t.Errorf("UploadPart %d returned no CRC32", i+1)
			}
		}
		// Part 2 again with Content-MD5: its ETag is that digest (the layer takes it instead
		// of hashing the part again); a body that differs from it in its first byte is
		// refused, and part 2 stays as sent before.
		sum2 := md5.Sum(p2)
		again, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("mpu"), Key: aws.String("big/obj"), UploadId: id,
			PartNumber: aws.Int32(2), Body: bytes.NewReader(p2), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
			ContentMD5: aws.String(base64.StdEncoding.EncodeToString(sum2[:]))})
		mustOK(t, "UploadPart 2 with Content-MD5", err)
		if want := `"` + hex.EncodeToString(sum2[:]) + `"`; aws.ToString(again.ETag) != want {
			t.Errorf("UploadPart with Content-MD5: ETag %s, want %s", aws.ToString(again.ETag), want)
		}
		bad := bytes.Clone(p2)
		bad[0] ^= 1
		_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("mpu"), Key: aws.String("big/obj"), UploadId: id,
			PartNumber: aws.Int32(2), Body: bytes.NewReader(bad), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
			ContentMD5: aws.String(base64.StdEncoding.EncodeToString(sum2[:]))})
		wantCode(t, "UploadPart of a body that differs from its Content-MD5", err, "BadDigest")

		// A part with another checksum algorithm than the upload's is refused.
		_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("mpu"), Key: aws.String("big/obj"), UploadId: id,
			PartNumber: aws.Int32(9), Body: bytes.NewReader(p3), ChecksumAlgorithm: types.ChecksumAlgorithmSha1})
		wantCode(t, "UploadPart with another algorithm", err, "InvalidRequest")

		parts, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("mpu"), Key: aws.String("big/obj"), UploadId: id})
		mustOK(t, "ListParts", err)
		if len(parts.Parts) != 3 || aws.ToInt64(parts.Parts[2].Size) != 1234 || aws.ToString(parts.Parts[0].ChecksumCRC32) == "" {
			t.Fatalf("ListParts: %+v", parts.Parts)
		}
		page, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("mpu"), Key: aws.String("big/obj"), UploadId: id, MaxParts: aws.Int32(2)})
		mustOK(t, "ListParts page", err)
		if len(page.Parts) != 2 || !aws.ToBool(page.IsTruncated) || aws.ToString(page.NextPartNumberMarker) != "2" {
			t.Fatalf("ListParts page: %d parts, truncated %v, next %v", len(page.Parts), aws.ToBool(page.IsTruncated), aws.ToString(page.NextPartNumberMarker))
		}
		ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("mpu")})
		mustOK(t, "ListMultipartUploads", err)
		if len(ups.Uploads) != 1 || aws.ToString(ups.Uploads[0].UploadId) != aws.ToString(id) || aws.ToString(ups.Uploads[0].Key) != "big/obj" {
			t.Fatalf("ListMultipartUploads: %+v", ups.Uploads)
		}

		// Wrong completions: the S3 error, and the upload survives them.
		complete := func(ps []types.CompletedPart) error {
			_, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("big/obj"),
				UploadId: id, MultipartUpload: &types.CompletedMultipartUpload{Parts: ps}})
			return err
		}
		wantCode(t, "parts out of order", complete([]types.CompletedPart{done[1], done[0], done[2]}), "InvalidPartOrder")
		wrongETag := done[0]
		wrongETag.ETag = aws.String(`"00000000000000000000000000000000"`)
		wrongETag.ChecksumCRC32 = nil
		wantCode(t, "wrong ETag", complete([]types.CompletedPart{wrongETag, done[1], done[2]}), "InvalidPart")
		missing := types.CompletedPart{PartNumber: aws.Int32(7), ETag: done[2].ETag}
		wantCode(t, "missing part", complete([]types.CompletedPart{done[0], missing}), "InvalidPart")
		wantCode(t, "small middle part", complete([]types.CompletedPart{done[0], done[2], {PartNumber: aws.Int32(4), ETag: done[1].ETag}}), "EntityTooSmall")
		wrongSum := done[0]
		wrongSum.ChecksumCRC32 = aws.String("AAAAAA==")
		wantCode(t, "wrong part checksum", complete([]types.CompletedPart{wrongSum, done[1], done[2]}), "InvalidPart")

		out, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("big/obj"),
			UploadId: id, MultipartUpload: &types.CompletedMultipartUpload{Parts: done}})
		mustOK(t, "CompleteMultipartUpload", err)
		want := multipartETag(p1, p2, p3)
		if aws.ToString(out.ETag) != want {
			t.Errorf("Complete ETag %s, want %s", aws.ToString(out.ETag), want)
		}
		if !strings.HasSuffix(aws.ToString(out.ChecksumCRC32), "-3") || out.ChecksumType != types.ChecksumTypeComposite {
			t.Errorf("Complete checksum %q type %q, want a COMPOSITE -3", aws.ToString(out.ChecksumCRC32), out.ChecksumType)
		}
		b, get := getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("mpu"), Key: aws.String("big/obj"), ChecksumMode: types.ChecksumModeEnabled})
		if !bytes.Equal(b, append(append(append([]byte(nil), p1...), p2...), p3...)) {
			t.Fatal("assembled object differs")
		}
		if aws.ToString(get.ContentType) != "application/x-test" || get.Metadata["who"] != "mpu" || aws.ToString(get.ETag) != want {
			t.Errorf("assembled object: type %q meta %v etag %s", aws.ToString(get.ContentType), get.Metadata, aws.ToString(get.ETag))
		}
		if aws.ToString(get.ChecksumCRC32) != aws.ToString(out.ChecksumCRC32) {
			t.Errorf("GET checksum %q, Complete said %q", aws.ToString(get.ChecksumCRC32), aws.ToString(out.ChecksumCRC32))
		}
		// GET by part number.
		b, get = getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("mpu"), Key: aws.String("big/obj"), PartNumber: aws.Int32(3)})
		if !bytes.Equal(b, p3) || aws.ToInt32(get.PartsCount) != 3 {
			t.Errorf("part 3: %d bytes, parts count %d", len(b), aws.ToInt32(get.PartsCount))
		}
		_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("mpu"), Key: aws.String("big/obj"), PartNumber: aws.Int32(4)})
		wantCode(t, "GET part 4 of 3", err, "InvalidRange")

		// The upload is gone.
		_, err = c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("mpu"), Key: aws.String("big/obj"), UploadId: id})
		wantCode(t, "ListParts after completion", err, "NoSuchUpload")
		_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("mpu"), Key: aws.String("big/obj"), UploadId: id,
			PartNumber: aws.Int32(1), Body: bytes.NewReader(p3)})
		wantCode(t, "UploadPart after completion", err, "NoSuchUpload")

		// Abort.
		ab, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("aborted")})
		mustOK(t, "CreateMultipartUpload", err)
		_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("mpu"), Key: aws.String("aborted"), UploadId: ab.UploadId,
			PartNumber: aws.Int32(1), Body: bytes.NewReader(p3)})
		mustOK(t, "UploadPart", err)
		_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("mpu"), Key: aws.String("aborted"), UploadId: ab.UploadId,
			PartNumber: aws.Int32(10001), Body: bytes.NewReader(p3)})
		wantCode(t, "UploadPart 10001", err, "InvalidArgument")
		_, err = c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("aborted"), UploadId: ab.UploadId})
		mustOK(t, "AbortMultipartUpload", err)
		_, err = c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("aborted"), UploadId: ab.UploadId})
		wantCode(t, "AbortMultipartUpload twice", err, "NoSuchUpload")
		_, err = c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("aborted"), UploadId: aws.String("../../etc")})
		wantCode(t, "AbortMultipartUpload of a made-up id", err, "NoSuchUpload")
		_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("mpu"), Key: aws.String("aborted")})
		wantCode(t, "aborted upload left an object", err, "NotFound")
	})
}

func TestSDKMultipartFullObjectAndCopy(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		c := e.sdk()
		mkbucket(t, c, "mpu")
		src := partData(9, 6<<20)
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("mpu"), Key: aws.String("source"), Body: bytes.NewReader(src)})
		mustOK(t, "PutObject source", err)

		create, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("full"),
			ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c, ChecksumType: types.ChecksumTypeFullObject})
		mustOK(t, "CreateMultipartUpload FULL_OBJECT", err)
		p1, p2 := partData(1, 5<<20), partData(2, 100)
		var done []types.CompletedPart
		for i, d := range [][]byte{p1, p2} {
			out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("mpu"), Key: aws.String("full"), UploadId: create.UploadId,
				PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(d), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c})
			mustOK(t, "UploadPart", err)
			done = append(done, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag, ChecksumCRC32C: out.ChecksumCRC32C})
		}
		out, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("full"),
			UploadId: create.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: done}})
		mustOK(t, "Complete", err)
		if out.ChecksumType != types.ChecksumTypeFullObject || strings.Contains(aws.ToString(out.ChecksumCRC32C), "-") {
			t.Errorf("FULL_OBJECT complete: %q %q", aws.ToString(out.ChecksumCRC32C), out.ChecksumType)
		}
		// The SDK validates a FULL_OBJECT CRC32C against the bytes it receives.
		b, get := getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("mpu"), Key: aws.String("full"), ChecksumMode: types.ChecksumModeEnabled})
		if len(b) != len(p1)+len(p2) || aws.ToString(get.ChecksumCRC32C) != aws.ToString(out.ChecksumCRC32C) {
			t.Errorf("GET full: %d bytes, CRC32C %q", len(b), aws.ToString(get.ChecksumCRC32C))
		}

		_, err = c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("x"),
			ChecksumAlgorithm: types.ChecksumAlgorithmSha256, ChecksumType: types.ChecksumTypeFullObject})
		wantCode(t, "FULL_OBJECT SHA256", err, "InvalidRequest")

		// UploadPartCopy, with a range.
		cp, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("copied")})
		mustOK(t, "CreateMultipartUpload", err)
		c1, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("mpu"), Key: aws.String("copied"), UploadId: cp.UploadId,
			PartNumber: aws.Int32(1), CopySource: aws.String("mpu/source"), CopySourceRange: aws.String("bytes=0-5242879")})
		mustOK(t, "UploadPartCopy 1", err)
		c2, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("mpu"), Key: aws.String("copied"), UploadId: cp.UploadId,
			PartNumber: aws.Int32(2), CopySource: aws.String("mpu/source"), CopySourceRange: aws.String("bytes=5242880-6291455")})
		mustOK(t, "UploadPartCopy 2", err)
		_, err = c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("mpu"), Key: aws.String("copied"), UploadId: cp.UploadId,
			PartNumber: aws.Int32(3), CopySource: aws.String("mpu/source"), CopySourceRange: aws.String("bytes=0-99999999")})
		wantCode(t, "UploadPartCopy past the end", err, "InvalidArgument")
		_, err = c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("mpu"), Key: aws.String("copied"), UploadId: cp.UploadId,
			PartNumber: aws.Int32(3), CopySource: aws.String("mpu/source"), CopySourceIfMatch: aws.String(`"nope"`)})
		wantCode(t, "UploadPartCopy if-match", err, "PreconditionFailed")
		_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("copied"),
			UploadId: cp.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{
				{PartNumber: aws.Int32(1), ETag: c1.CopyPartResult.ETag}, {PartNumber: aws.Int32(2), ETag: c2.CopyPartResult.ETag}}}})
		mustOK(t, "Complete copied", err)
		b, _ = getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("mpu"), Key: aws.String("copied")})
		if !bytes.Equal(b, src) {
			t.Fatal("object assembled from copied parts differs from the source")
		}
	})
}
