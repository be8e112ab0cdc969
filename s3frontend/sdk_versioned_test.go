package s3frontend_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"
)

// enableVersioning turns versioning on for bucket.
func enableVersioning(t *testing.T, c *s3.Client, bucket string) {
	t.Helper()
	_, err := c.PutBucketVersioning(context.Background(), &s3.PutBucketVersioningInput{Bucket: aws.String(bucket),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}})
	mustOK(t, "PutBucketVersioning Enabled", err)
}

// TestSDKVersionedBucket: a versioned bucket keeps every overwrite, each read back by its
// id; a delete makes a marker (404 with x-amz-delete-marker for the latest, 405 for the
// marker by id); an old version is restored by copying it over the key; the bucket is
// emptied by deleting every version, in pages of ListObjectVersions.
func TestSDKVersionedBucket(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		c := e.sdk()
		mkbucket(t, c, "vbkt")
		putString(t, c, "vbkt", "k", "unversioned")
		enableVersioning(t, c, "vbkt")
		var ids []string
		for i := range 3 {
			out := putString(t, c, "vbkt", "k", fmt.Sprint("body ", i))
			if id := aws.ToString(out.VersionId); len(id) != 32 {
				t.Fatalf("PutObject %d: version id %q", i, id)
			} else {
				ids = append(ids, id)
			}
		}
		for i, id := range ids {
			body, out := getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("vbkt"), Key: aws.String("k"), VersionId: aws.String(id)})
			if string(body) != fmt.Sprint("body ", i) || aws.ToString(out.VersionId) != id {
				t.Fatalf("version %d: %q, id %q", i, body, aws.ToString(out.VersionId))
			}
		}
		body, out := getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("vbkt"), Key: aws.String("k"), VersionId: aws.String("null")})
		if string(body) != "unversioned" || aws.ToString(out.VersionId) != "null" {
			t.Fatalf("null version: %q, id %q", body, aws.ToString(out.VersionId))
		}
		head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("vbkt"), Key: aws.String("k")})
		mustOK(t, "HeadObject", err)
		if aws.ToString(head.VersionId) != ids[2] {
			t.Fatalf("HEAD latest: version %q, want %q", aws.ToString(head.VersionId), ids[2])
		}

		del, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("vbkt"), Key: aws.String("k")})
		mustOK(t, "DeleteObject", err)
		marker := aws.ToString(del.VersionId)
		if !aws.ToBool(del.DeleteMarker) || len(marker) != 32 {
			t.Fatalf("DeleteObject: marker %v, id %q", aws.ToBool(del.DeleteMarker), marker)
		}
		r := e.do(newRequest(t, "GET", e.url+"/vbkt/k", nil), true)
		if r.status != http.StatusNotFound || r.err.Code != "NoSuchKey" || r.header.Get("x-amz-delete-marker") != "true" || r.header.Get("x-amz-version-id") != marker {
			t.Fatalf("GET under a delete marker: %d %s, headers %v", r.status, r.err.Code, r.header)
		}
		r = e.do(newRequest(t, "GET", e.url+"/vbkt/k?versionId="+marker, nil), true)
		if r.status != http.StatusMethodNotAllowed || r.err.Code != "MethodNotAllowed" || r.header.Get("x-amz-delete-marker") != "true" {
			t.Fatalf("GET of the marker by id: %d %s, headers %v", r.status, r.err.Code, r.header)
		}
		_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("vbkt"), Key: aws.String("k"), VersionId: aws.String(marker)})
		wantStatus(t, err, http.StatusMethodNotAllowed)
		list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("vbkt")})
		mustOK(t, "ListObjectsV2", err)
		if len(list.Contents) != 0 {
			t.Fatalf("ListObjectsV2 lists a deleted key: %+v", list.Contents)
		}

		// Restore the first version by copying it over the key.
		cp, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("vbkt"), Key: aws.String("k"),
			CopySource: aws.String("vbkt/k?versionId=" + ids[0])})
		mustOK(t, "CopyObject of an old version", err)
		if aws.ToString(cp.CopySourceVersionId) != ids[0] || len(aws.ToString(cp.VersionId)) != 32 {
			t.Fatalf("CopyObject: source version %q, new version %q", aws.ToString(cp.CopySourceVersionId), aws.ToString(cp.VersionId))
		}
		body, _ = getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("vbkt"), Key: aws.String("k")})
		if string(body) != "body 0" {
			t.Fatalf("after restore: %q", body)
		}
		_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("vbkt"), Key: aws.String("k2"),
			CopySource: aws.String("vbkt/k?versionId=" + marker)})
		wantCode(t, "CopyObject of a delete marker", err, "InvalidRequest")

		// minio-go sees the versions too.
		mc := e.minio()
		n := 0
		for obj := range mc.ListObjects(ctx, "vbkt", minio.ListObjectsOptions{WithVersions: true, Recursive: true}) {
			if obj.Err != nil {
				t.Fatal(obj.Err)
			}
			n++
		}
		if n != 6 { // null, three puts, the marker, the restored copy
			t.Fatalf("minio-go lists %d versions, want 6", n)
		}

		// Empty the bucket: list every version in pages of 2, delete them in one DeleteObjects.
		var objs []types.ObjectIdentifier
		in := &s3.ListObjectVersionsInput{Bucket: aws.String("vbkt"), MaxKeys: aws.Int32(2)}
		for page := 0; ; page++ {
			if page > 10 {
				t.Fatal("paging does not end")
			}
			lv, err := c.ListObjectVersions(ctx, in)
			mustOK(t, "ListObjectVersions", err)
			for _, v := range lv.Versions {
				objs = append(objs, types.ObjectIdentifier{Key: v.Key, VersionId: v.VersionId})
			}
			for _, m := range lv.DeleteMarkers {
				objs = append(objs, types.ObjectIdentifier{Key: m.Key, VersionId: m.VersionId})
			}
			if !aws.ToBool(lv.IsTruncated) {
				break
			}
			in.KeyMarker, in.VersionIdMarker = lv.NextKeyMarker, lv.NextVersionIdMarker
		}
		if len(objs) != 6 {
			t.Fatalf("listed %d versions, want 6", len(objs))
		}
		_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("vbkt")})
		wantCode(t, "DeleteBucket with versions", err, "BucketNotEmpty")
		dout, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("vbkt"), Delete: &types.Delete{Objects: objs}})
		mustOK(t, "DeleteObjects", err)
		if len(dout.Errors) != 0 || len(dout.Deleted) != 6 {
			t.Fatalf("DeleteObjects: %d deleted, errors %+v", len(dout.Deleted), dout.Errors)
		}
		_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("vbkt")})
		mustOK(t, "DeleteBucket once empty", err)
	})
}

// TestSDKVersionedMultipart: CompleteMultipartUpload in a versioned bucket adds a version
// and tells its id; UploadPartCopy reads a named version.
func TestSDKVersionedMultipart(t *testing.T) {
	e := start(t, "epoll")
	ctx := context.Background()
	c := e.sdk()
	mkbucket(t, c, "vmpu")
	enableVersioning(t, c, "vmpu")
	first := aws.ToString(putString(t, c, "vmpu", "src", strings.Repeat("a", 5<<20)).VersionId)
	putString(t, c, "vmpu", "src", "newer")
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("vmpu"), Key: aws.String("dst")})
	mustOK(t, "CreateMultipartUpload", err)
	pc, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("vmpu"), Key: aws.String("dst"), UploadId: up.UploadId,
		PartNumber: aws.Int32(1), CopySource: aws.String("vmpu/src?versionId=" + first)})
	mustOK(t, "UploadPartCopy of a version", err)
	if aws.ToString(pc.CopySourceVersionId) != first {
		t.Fatalf("UploadPartCopy: source version %q", aws.ToString(pc.CopySourceVersionId))
	}
	done, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("vmpu"), Key: aws.String("dst"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: pc.CopyPartResult.ETag}}}})
	mustOK(t, "CompleteMultipartUpload", err)
	if len(aws.ToString(done.VersionId)) != 32 {
		t.Fatalf("CompleteMultipartUpload: version %q", aws.ToString(done.VersionId))
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("vmpu"), Key: aws.String("dst"), VersionId: done.VersionId})
	mustOK(t, "GetObject", err)
	b, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if !bytes.Equal(b, bytes.Repeat([]byte("a"), 5<<20)) {
		t.Fatalf("assembled object of %d bytes", len(b))
	}
}

// TestSDKVersionedTagging: tagging, ACLs and GetObjectAttributes take a version's id,
// the latest's or a noncurrent one's, and answer it; each version keeps its own tags and
// ACL; a delete marker's id is MethodNotAllowed, an unknown id NoSuchVersion, a key under
// a delete marker NoSuchKey.
func TestSDKVersionedTagging(t *testing.T) {
	e := start(t, "epoll")
	ctx := context.Background()
	c := e.sdk()
	mkbucket(t, c, "vtags")
	enableVersioning(t, c, "vtags")
	old := putString(t, c, "vtags", "k", "1").VersionId
	cur := putString(t, c, "vtags", "k", "2").VersionId
	tagging := &types.Tagging{TagSet: []types.Tag{{Key: aws.String("a"), Value: aws.String("b")}}}
	out, err := c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("vtags"), Key: aws.String("k"), VersionId: cur, Tagging: tagging})
	mustOK(t, "PutObjectTagging of the latest by id", err)
	if aws.ToString(out.VersionId) != aws.ToString(cur) {
		t.Fatalf("PutObjectTagging answered version %q, want %q", aws.ToString(out.VersionId), aws.ToString(cur))
	}
	got, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("vtags"), Key: aws.String("k")})
	mustOK(t, "GetObjectTagging", err)
	if len(got.TagSet) != 1 || aws.ToString(got.VersionId) != aws.ToString(cur) {
		t.Fatalf("GetObjectTagging: %+v, version %q", got.TagSet, aws.ToString(got.VersionId))
	}
	oldTags := &types.Tagging{TagSet: []types.Tag{{Key: aws.String("era"), Value: aws.String("old")}}}
	out, err = c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("vtags"), Key: aws.String("k"), VersionId: old, Tagging: oldTags})
	mustOK(t, "PutObjectTagging of a noncurrent version", err)
	if aws.ToString(out.VersionId) != aws.ToString(old) {
		t.Fatalf("PutObjectTagging of the old version answered %q", aws.ToString(out.VersionId))
	}
	tagsOf := func(v *string) []types.Tag {
		t.Helper()
		got, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("vtags"), Key: aws.String("k"), VersionId: v})
		mustOK(t, "GetObjectTagging", err)
		if v != nil && aws.ToString(got.VersionId) != aws.ToString(v) {
			t.Fatalf("GetObjectTagging answered version %q, want %q", aws.ToString(got.VersionId), aws.ToString(v))
		}
		return got.TagSet
	}
	if ts := tagsOf(old); len(ts) != 1 || aws.ToString(ts[0].Value) != "old" {
		t.Fatalf("old version's tags %+v", ts)
	}
	if ts := tagsOf(cur); len(ts) != 1 || aws.ToString(ts[0].Key) != "a" {
		t.Fatalf("latest version's tags %+v after tagging the old one", ts)
	}
	// The old version's data and ETag are untouched.
	b, gout := getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("vtags"), Key: aws.String("k"), VersionId: old})
	if string(b) != "1" || aws.ToInt32(gout.TagCount) != 1 {
		t.Fatalf("old version after tagging: %q, %d tags", b, aws.ToInt32(gout.TagCount))
	}
	_, err = c.DeleteObjectTagging(ctx, &s3.DeleteObjectTaggingInput{Bucket: aws.String("vtags"), Key: aws.String("k"), VersionId: old})
	mustOK(t, "DeleteObjectTagging of a noncurrent version", err)
	if ts := tagsOf(old); len(ts) != 0 {
		t.Fatalf("old version's tags %+v after delete", ts)
	}
	if ts := tagsOf(cur); len(ts) != 1 {
		t.Fatalf("latest version's tags %+v after deleting the old one's", ts)
	}

	_, err = c.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: aws.String("vtags"), Key: aws.String("k"), VersionId: old, ACL: types.ObjectCannedACLPublicRead})
	mustOK(t, "PutObjectAcl of a noncurrent version", err)
	aclOf := func(v *string) int {
		t.Helper()
		got, err := c.GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: aws.String("vtags"), Key: aws.String("k"), VersionId: v})
		mustOK(t, "GetObjectAcl", err)
		return len(got.Grants)
	}
	if n := aclOf(old); n != 2 {
		t.Fatalf("old version's ACL has %d grants, want 2 (owner, AllUsers READ)", n)
	}
	if n := aclOf(cur); n != 1 {
		t.Fatalf("latest version's ACL has %d grants, want 1 (private)", n)
	}
	attrs, err := c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: aws.String("vtags"), Key: aws.String("k"), VersionId: old,
		ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesObjectSize, types.ObjectAttributesEtag}})
	mustOK(t, "GetObjectAttributes of a noncurrent version", err)
	if aws.ToInt64(attrs.ObjectSize) != 1 || aws.ToString(attrs.VersionId) != aws.ToString(old) {
		t.Fatalf("attributes of the old version: size %d version %q", aws.ToInt64(attrs.ObjectSize), aws.ToString(attrs.VersionId))
	}
	missing := aws.String("0123456789abcdef0123456789abcdef")
	_, err = c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("vtags"), Key: aws.String("k"), VersionId: missing})
	wantCode(t, "GetObjectTagging of no version", err, "NoSuchVersion")
	_, err = c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("vtags"), Key: aws.String("k"), VersionId: missing, Tagging: tagging})
	wantCode(t, "PutObjectTagging of no version", err, "NoSuchVersion")

	dm, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("vtags"), Key: aws.String("k")})
	mustOK(t, "DeleteObject", err)
	_, err = c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("vtags"), Key: aws.String("k"), VersionId: dm.VersionId, Tagging: tagging})
	wantCode(t, "PutObjectTagging of a delete marker", err, "MethodNotAllowed")
	if ts := tagsOf(old); len(ts) != 0 {
		t.Fatalf("old version's tags %+v under the marker", ts)
	}
	_, err = c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("vtags"), Key: aws.String("k")})
	wantCode(t, "GetObjectTagging under a delete marker", err, "NoSuchKey")
}
