package s3frontend_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestSDKCopyObject(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		c := e.sdk()
		mkbucket(t, c, "src")
		mkbucket(t, c, "dst")
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("src"), Key: aws.String("a b/orig"),
			Body: stringsReader("original"), ContentType: aws.String("text/x-orig"), Metadata: map[string]string{"m": "1"},
			ChecksumAlgorithm: types.ChecksumAlgorithmSha256})
		mustOK(t, "PutObject", err)
		head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("src"), Key: aws.String("a b/orig"), ChecksumMode: types.ChecksumModeEnabled})
		mustOK(t, "HeadObject", err)

		// COPY keeps the metadata and the checksum.
		cp, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy"), CopySource: aws.String("src/a%20b/orig")})
		mustOK(t, "CopyObject", err)
		if aws.ToString(cp.CopyObjectResult.ETag) != aws.ToString(head.ETag) {
			t.Errorf("copy ETag %s, want %s", aws.ToString(cp.CopyObjectResult.ETag), aws.ToString(head.ETag))
		}
		if aws.ToString(cp.CopyObjectResult.ChecksumSHA256) != aws.ToString(head.ChecksumSHA256) {
			t.Errorf("copy result SHA256 %q, want %q", aws.ToString(cp.CopyObjectResult.ChecksumSHA256), aws.ToString(head.ChecksumSHA256))
		}
		b, out := getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy"), ChecksumMode: types.ChecksumModeEnabled})
		if string(b) != "original" || aws.ToString(out.ContentType) != "text/x-orig" || out.Metadata["m"] != "1" {
			t.Errorf("COPY: %q type %q meta %v", b, aws.ToString(out.ContentType), out.Metadata)
		}

		// REPLACE takes the request's metadata; the checksum survives.
		_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("replaced"), CopySource: aws.String("/src/a%20b/orig"),
			MetadataDirective: types.MetadataDirectiveReplace, ContentType: aws.String("text/x-new"), Metadata: map[string]string{"n": "2"}})
		mustOK(t, "CopyObject REPLACE", err)
		_, out = getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("dst"), Key: aws.String("replaced"), ChecksumMode: types.ChecksumModeEnabled})
		if aws.ToString(out.ContentType) != "text/x-new" || out.Metadata["n"] != "2" || out.Metadata["m"] != "" {
			t.Errorf("REPLACE: type %q meta %v", aws.ToString(out.ContentType), out.Metadata)
		}
		if aws.ToString(out.ChecksumSHA256) != aws.ToString(head.ChecksumSHA256) {
			t.Errorf("REPLACE lost the checksum: %q", aws.ToString(out.ChecksumSHA256))
		}

		// Copying an object onto itself needs REPLACE.
		_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("src"), Key: aws.String("a b/orig"), CopySource: aws.String("src/a%20b/orig")})
		wantCode(t, "self-copy without REPLACE", err, "InvalidRequest")
		_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("src"), Key: aws.String("a b/orig"), CopySource: aws.String("src/a%20b/orig"),
			MetadataDirective: types.MetadataDirectiveReplace, Metadata: map[string]string{"self": "yes"}})
		mustOK(t, "self-copy with REPLACE", err)

		// Copy-source conditions.
		past, future := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
		conds := []struct {
			name string
			in   s3.CopyObjectInput
			ok   bool
		}{
			{"if-match ok", s3.CopyObjectInput{CopySourceIfMatch: head.ETag}, true},
			{"if-match wrong", s3.CopyObjectInput{CopySourceIfMatch: aws.String(`"00"`)}, false},
			{"if-none-match same", s3.CopyObjectInput{CopySourceIfNoneMatch: head.ETag}, false},
			{"if-modified-since future", s3.CopyObjectInput{CopySourceIfModifiedSince: aws.Time(future)}, false},
			{"if-unmodified-since past", s3.CopyObjectInput{CopySourceIfUnmodifiedSince: aws.Time(past)}, false},
			{"if-unmodified-since future", s3.CopyObjectInput{CopySourceIfUnmodifiedSince: aws.Time(future)}, true},
		}
		for _, tc := range conds {
			in := tc.in
			in.Bucket, in.Key, in.CopySource = aws.String("dst"), aws.String("cond"), aws.String("src/a%20b/orig")
			_, err := c.CopyObject(ctx, &in)
			if tc.ok {
				mustOK(t, tc.name, err)
			} else {
				wantCode(t, tc.name, err, "PreconditionFailed")
			}
		}

		// Errors.
		_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("x"), CopySource: aws.String("src/nope")})
		wantCode(t, "copy of a missing key", err, "NoSuchKey")
		_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("x"), CopySource: aws.String("nobucket/k")})
		wantCode(t, "copy from a missing bucket", err, "NoSuchBucket")
		_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("x"), CopySource: aws.String("justbucket")})
		wantCode(t, "copy source without key", err, "InvalidArgument")
		_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("x"), CopySource: aws.String("src/a%20b/orig"),
			MetadataDirective: "MOVE"})
		wantCode(t, "bad metadata directive", err, "InvalidArgument")
	})
}

func TestSDKDelete(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		c := e.sdk()
		mkbucket(t, c, "del")
		for _, k := range []string{"a", "b", "c", "d"} {
			putString(t, c, "del", k, k)
		}
		_, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("del"), Key: aws.String("a")})
		mustOK(t, "DeleteObject", err)
		_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("del"), Key: aws.String("a")})
		mustOK(t, "DeleteObject of a missing key (S3 answers 204)", err)
		_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("nobucket"), Key: aws.String("a")})
		wantCode(t, "DeleteObject in a missing bucket", err, "NoSuchBucket")

		out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("del"), Delete: &types.Delete{
			Objects: []types.ObjectIdentifier{{Key: aws.String("b")}, {Key: aws.String("missing")}, {Key: aws.String("c"), VersionId: aws.String("v123")}},
		}})
		mustOK(t, "DeleteObjects", err)
		if len(out.Deleted) != 2 || len(out.Errors) != 1 || aws.ToString(out.Errors[0].Key) != "c" || aws.ToString(out.Errors[0].Code) != "InvalidArgument" {
			t.Fatalf("DeleteObjects: deleted %d, errors %+v", len(out.Deleted), out.Errors)
		}
		quiet, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("del"), Delete: &types.Delete{
			Objects: []types.ObjectIdentifier{{Key: aws.String("c")}, {Key: aws.String("d")}}, Quiet: aws.Bool(true),
		}})
		mustOK(t, "DeleteObjects quiet", err)
		if len(quiet.Deleted) != 0 || len(quiet.Errors) != 0 {
			t.Fatalf("quiet DeleteObjects reported %d deleted, %d errors", len(quiet.Deleted), len(quiet.Errors))
		}
		list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("del")})
		mustOK(t, "ListObjectsV2", err)
		if len(list.Contents) != 0 {
			t.Fatalf("%d objects left", len(list.Contents))
		}
		many := make([]types.ObjectIdentifier, 1001)
		for i := range many {
			many[i] = types.ObjectIdentifier{Key: aws.String("k")}
		}
		_, err = c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("del"), Delete: &types.Delete{Objects: many}})
		wantCode(t, "DeleteObjects of 1001 keys", err, "MalformedXML")
	})
}
