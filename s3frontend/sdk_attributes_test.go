package s3frontend_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestSDKGetObjectAttributes: ETag, Checksum, ObjectSize and StorageClass of a single PUT,
// and the parts of a multipart object paged by max-parts and part-number-marker.
func TestSDKGetObjectAttributes(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		c := e.sdk()
		mkbucket(t, c, "attrs")
		put := putString(t, c, "attrs", "single", "hello")
		all := []types.ObjectAttributes{types.ObjectAttributesEtag, types.ObjectAttributesChecksum, types.ObjectAttributesObjectParts,
			types.ObjectAttributesStorageClass, types.ObjectAttributesObjectSize}
		out, err := c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: aws.String("attrs"), Key: aws.String("single"), ObjectAttributes: all})
		mustOK(t, "GetObjectAttributes", err)
		if aws.ToString(out.ETag) != strings.Trim(aws.ToString(put.ETag), `"`) || aws.ToInt64(out.ObjectSize) != 5 || out.StorageClass != types.StorageClassStandard ||
			out.ObjectParts != nil || out.LastModified == nil {
			t.Fatalf("attributes of a single PUT: %+v", out)
		}
		if out.Checksum == nil || out.Checksum.ChecksumType != types.ChecksumTypeFullObject ||
			aws.ToString(out.Checksum.ChecksumCRC32)+aws.ToString(out.Checksum.ChecksumCRC32C)+aws.ToString(out.Checksum.ChecksumCRC64NVME) == "" {
			t.Fatalf("checksum of a single PUT: %+v", out.Checksum)
		}
		only, err := c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: aws.String("attrs"), Key: aws.String("single"),
			ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesObjectSize}, VersionId: aws.String("null")})
		mustOK(t, "GetObjectAttributes ObjectSize", err)
		if only.ETag != nil || only.Checksum != nil || aws.ToInt64(only.ObjectSize) != 5 {
			t.Fatalf("only ObjectSize asked: %+v", only)
		}

		up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("attrs"), Key: aws.String("multi")})
		mustOK(t, "CreateMultipartUpload", err)
		sizes := []int{5 << 20, 5 << 20, 100}
		var parts []types.CompletedPart
		for i, n := range sizes {
			p, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("attrs"), Key: aws.String("multi"), UploadId: up.UploadId,
				PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(make([]byte, n))})
			mustOK(t, "UploadPart", err)
			parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: p.ETag})
		}
		_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("attrs"), Key: aws.String("multi"), UploadId: up.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
		mustOK(t, "CompleteMultipartUpload", err)
		page, err := c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: aws.String("attrs"), Key: aws.String("multi"),
			ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesObjectParts, types.ObjectAttributesObjectSize}, MaxParts: aws.Int32(2)})
		mustOK(t, "GetObjectAttributes ObjectParts", err)
		op := page.ObjectParts
		if op == nil || aws.ToInt32(op.TotalPartsCount) != 3 || !aws.ToBool(op.IsTruncated) || aws.ToString(op.NextPartNumberMarker) != "2" || len(op.Parts) != 2 ||
			aws.ToInt64(op.Parts[1].Size) != 5<<20 || aws.ToInt64(page.ObjectSize) != 10<<20+100 {
			t.Fatalf("first page of parts: %+v", op)
		}
		page, err = c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: aws.String("attrs"), Key: aws.String("multi"),
			ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesObjectParts}, MaxParts: aws.Int32(2), PartNumberMarker: op.NextPartNumberMarker})
		mustOK(t, "GetObjectAttributes ObjectParts page 2", err)
		if op := page.ObjectParts; op == nil || aws.ToBool(op.IsTruncated) || len(op.Parts) != 1 || aws.ToInt32(op.Parts[0].PartNumber) != 3 || aws.ToInt64(op.Parts[0].Size) != 100 {
			t.Fatalf("second page of parts: %+v", page.ObjectParts)
		}

		_, err = c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: aws.String("attrs"), Key: aws.String("none"), ObjectAttributes: all})
		wantCode(t, "GetObjectAttributes of a missing key", err, "NoSuchKey")
		_, err = c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: aws.String("attrs"), Key: aws.String("single"), ObjectAttributes: all, VersionId: aws.String(otherVersion)})
		wantCode(t, "GetObjectAttributes of another version", err, "NoSuchVersion")
		_, err = c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: aws.String("attrs"), Key: aws.String("single"), ObjectAttributes: []types.ObjectAttributes{"Owner"}})
		wantCode(t, "GetObjectAttributes of an unknown attribute", err, "InvalidArgument")
		r := e.do(newRequest(t, "GET", e.url+"/attrs/single?attributes", nil), true)
		if r.status != 400 || r.err.Code != "InvalidArgument" {
			t.Fatalf("GetObjectAttributes without x-amz-object-attributes: %d %s", r.status, r.err.Code)
		}
	})
}

// TestCLIGetObjectAttributes runs get-object-attributes with the aws CLI.
func TestCLIGetObjectAttributes(t *testing.T) {
	e := start(t, "epoll")
	run, _ := awsCLI(t, e)
	run("s3api", "create-bucket", "--bucket", "cli-attrs")
	run("s3api", "put-object", "--bucket", "cli-attrs", "--key", "k", "--body", "/etc/hostname")
	out := run("s3api", "get-object-attributes", "--bucket", "cli-attrs", "--key", "k", "--object-attributes", "ETag", "ObjectSize", "StorageClass")
	if !strings.Contains(out, `"ObjectSize"`) || !strings.Contains(out, `"StorageClass": "STANDARD"`) || !strings.Contains(out, `"ETag"`) {
		t.Fatalf("get-object-attributes: %s", out)
	}
}
