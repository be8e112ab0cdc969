package s3frontend_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// tagString renders a tag set as "k=v,k=v" in its order.
func tagString(tags []types.Tag) string {
	var parts []string
	for _, t := range tags {
		parts = append(parts, aws.ToString(t.Key)+"="+aws.ToString(t.Value))
	}
	return strings.Join(parts, ",")
}

func objectTags(t *testing.T, c *s3.Client, bucket, key string) string {
	t.Helper()
	out, err := c.GetObjectTagging(context.Background(), &s3.GetObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	mustOK(t, "GetObjectTagging "+key, err)
	return tagString(out.TagSet)
}

func tagCount(t *testing.T, c *s3.Client, bucket, key string) int32 {
	t.Helper()
	out, err := c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	mustOK(t, "HeadObject "+key, err)
	get, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	mustOK(t, "GetObject "+key, err)
	get.Body.Close()
	if aws.ToInt32(get.TagCount) != aws.ToInt32(out.TagCount) {
		t.Fatalf("%s: GET says %d tags, HEAD %d", key, aws.ToInt32(get.TagCount), aws.ToInt32(out.TagCount))
	}
	return aws.ToInt32(out.TagCount)
}

// TestSDKObjectTagging: tags given at PUT, multipart creation and copy (both directives),
// replaced and deleted by the tagging operations without changing the object's ETag or
// modification time, and counted in x-amz-tagging-count.
func TestSDKObjectTagging(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		c := e.sdk()
		mkbucket(t, c, "tags")
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("tags"), Key: aws.String("k"),
			Body: stringsReader("data"), Tagging: aws.String("b=two%20words&a=1&empty=")})
		mustOK(t, "PutObject with tags", err)
		if got := objectTags(t, c, "tags", "k"); got != "b=two words,a=1,empty=" {
			t.Fatalf("tags after PUT: %q", got)
		}
		if n := tagCount(t, c, "tags", "k"); n != 3 {
			t.Fatalf("tag count %d", n)
		}
		before, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("tags"), Key: aws.String("k")})
		mustOK(t, "HeadObject", err)

		set := []types.Tag{{Key: aws.String("é/ü:=+-.@_"), Value: aws.String(strings.Repeat("ß", 256))}, {Key: aws.String(strings.Repeat("k", 128)), Value: aws.String("")}}
		_, err = c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("k"), Tagging: &types.Tagging{TagSet: set}})
		mustOK(t, "PutObjectTagging", err)
		if got := objectTags(t, c, "tags", "k"); got != tagString(set) {
			t.Fatalf("tags after PutObjectTagging: %q", got)
		}
		after, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("tags"), Key: aws.String("k")})
		mustOK(t, "HeadObject", err)
		if aws.ToString(after.ETag) != aws.ToString(before.ETag) || !after.LastModified.Equal(*before.LastModified) || aws.ToInt32(after.TagCount) != 2 {
			t.Fatalf("tagging changed the object: %v %v -> %v %v (%d tags)", aws.ToString(before.ETag), before.LastModified, aws.ToString(after.ETag), after.LastModified, aws.ToInt32(after.TagCount))
		}
		out, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("k"), VersionId: aws.String("null")})
		mustOK(t, "GetObjectTagging versionId=null", err)
		if len(out.TagSet) != 2 {
			t.Fatalf("GetObjectTagging versionId=null: %v", tagString(out.TagSet))
		}
		_, err = c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("k"), VersionId: aws.String(otherVersion)})
		wantCode(t, "GetObjectTagging of another version", err, "NoSuchVersion")

		_, err = c.DeleteObjectTagging(ctx, &s3.DeleteObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("k")})
		mustOK(t, "DeleteObjectTagging", err)
		if got := objectTags(t, c, "tags", "k"); got != "" {
			t.Fatalf("tags after DeleteObjectTagging: %q", got)
		}
		if n := tagCount(t, c, "tags", "k"); n != 0 {
			t.Fatalf("tag count after delete: %d", n)
		}

		// Copies: tags follow by default, are replaced with REPLACE, and are independent of
		// the metadata directive.
		_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("tags"), Key: aws.String("src"), Body: stringsReader("s"),
			Tagging: aws.String("t=1"), Metadata: map[string]string{"m": "old"}})
		mustOK(t, "PutObject src", err)
		copyTo := func(dst string, mod func(*s3.CopyObjectInput)) {
			t.Helper()
			in := &s3.CopyObjectInput{Bucket: aws.String("tags"), Key: aws.String(dst), CopySource: aws.String("tags/src")}
			mod(in)
			_, err := c.CopyObject(ctx, in)
			mustOK(t, "CopyObject to "+dst, err)
		}
		meta := func(key string) string {
			h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("tags"), Key: aws.String(key)})
			mustOK(t, "HeadObject "+key, err)
			return fmt.Sprint(h.Metadata)
		}
		copyTo("c1", func(*s3.CopyObjectInput) {})
		copyTo("c2", func(in *s3.CopyObjectInput) {
			in.TaggingDirective, in.Tagging = types.TaggingDirectiveReplace, aws.String("r=2")
		})
		copyTo("c3", func(in *s3.CopyObjectInput) {
			in.MetadataDirective, in.Metadata = types.MetadataDirectiveReplace, map[string]string{"m": "new"}
		})
		copyTo("c4", func(in *s3.CopyObjectInput) { in.TaggingDirective = types.TaggingDirectiveReplace })
		for key, want := range map[string][2]string{
			"c1": {"t=1", "map[m:old]"}, "c2": {"r=2", "map[m:old]"}, "c3": {"t=1", "map[m:new]"}, "c4": {"", "map[m:old]"},
		} {
			if got, md := objectTags(t, c, "tags", key), meta(key); got != want[0] || md != want[1] {
				t.Errorf("%s: tags %q metadata %s, want %q %s", key, got, md, want[0], want[1])
			}
		}
		_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("tags"), Key: aws.String("src"), CopySource: aws.String("tags/src"),
			TaggingDirective: types.TaggingDirectiveReplace, Tagging: aws.String("self=1")})
		mustOK(t, "CopyObject onto itself with new tags", err)
		if got, md := objectTags(t, c, "tags", "src"), meta("src"); got != "self=1" || md != "map[m:old]" {
			t.Fatalf("self-copy with new tags: %q %s", got, md)
		}
		r := e.do(func() *http.Request {
			req := newRequest(t, "PUT", e.url+"/tags/c5", nil)
			req.Header.Set("x-amz-copy-source", "tags/src")
			req.Header.Set("x-amz-tagging-directive", "MERGE")
			return req
		}(), true)
		if r.status != 400 || r.err.Code != "InvalidArgument" {
			t.Fatalf("tagging directive MERGE: %d %s", r.status, r.err.Code)
		}

		up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("tags"), Key: aws.String("mp"), Tagging: aws.String("mp=yes")})
		mustOK(t, "CreateMultipartUpload with tags", err)
		part, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("tags"), Key: aws.String("mp"), UploadId: up.UploadId,
			PartNumber: aws.Int32(1), Body: stringsReader("part")})
		mustOK(t, "UploadPart", err)
		_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("tags"), Key: aws.String("mp"), UploadId: up.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: part.ETag}}}})
		mustOK(t, "CompleteMultipartUpload", err)
		if got := objectTags(t, c, "tags", "mp"); got != "mp=yes" {
			t.Fatalf("multipart object's tags: %q", got)
		}
	})
}

// TestObjectTaggingErrors: S3's limits on object tags, in a body and in x-amz-tagging, and
// the missing object and bucket.
func TestObjectTaggingErrors(t *testing.T) {
	e := start(t, "epoll")
	ctx := context.Background()
	c := e.sdk()
	mkbucket(t, c, "tagerr")
	putString(t, c, "tagerr", "k", "x")
	tags := func(n int) []types.Tag {
		var out []types.Tag
		for i := range n {
			out = append(out, types.Tag{Key: aws.String(fmt.Sprint("k", i)), Value: aws.String("v")})
		}
		return out
	}
	for _, tc := range []struct {
		name string
		set  []types.Tag
		code string
	}{
		{"11 tags", tags(11), "BadRequest"},
		{"key of 129 characters", []types.Tag{{Key: aws.String(strings.Repeat("é", 129)), Value: aws.String("")}}, "InvalidTag"},
		{"value of 257 characters", []types.Tag{{Key: aws.String("k"), Value: aws.String(strings.Repeat("v", 257))}}, "InvalidTag"},
		{"empty key", []types.Tag{{Key: aws.String(""), Value: aws.String("v")}}, "InvalidTag"},
		{"repeated key", []types.Tag{{Key: aws.String("a"), Value: aws.String("1")}, {Key: aws.String("a"), Value: aws.String("2")}}, "InvalidTag"},
		{"character outside the set", []types.Tag{{Key: aws.String("a#b"), Value: aws.String("1")}}, "InvalidTag"},
		{"value character outside the set", []types.Tag{{Key: aws.String("a"), Value: aws.String("<>")}}, "InvalidTag"},
		{"aws: prefix", []types.Tag{{Key: aws.String("aws:x"), Value: aws.String("1")}}, "InvalidTag"},
	} {
		_, err := c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("tagerr"), Key: aws.String("k"), Tagging: &types.Tagging{TagSet: tc.set}})
		wantCode(t, tc.name, err, tc.code)
	}
	if got := objectTags(t, c, "tagerr", "k"); got != "" {
		t.Fatalf("a refused set was stored: %q", got)
	}
	_, err := c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("tagerr"), Key: aws.String("none"), Tagging: &types.Tagging{TagSet: tags(1)}})
	wantCode(t, "PutObjectTagging of a missing key", err, "NoSuchKey")
	_, err = c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("tagerr"), Key: aws.String("none")})
	wantCode(t, "GetObjectTagging of a missing key", err, "NoSuchKey")
	_, err = c.DeleteObjectTagging(ctx, &s3.DeleteObjectTaggingInput{Bucket: aws.String("nobucket"), Key: aws.String("k")})
	wantCode(t, "DeleteObjectTagging in a missing bucket", err, "NoSuchBucket")

	for _, tc := range []struct{ header, code string }{
		{"a=%zz", "InvalidArgument"},
		{"a=1&a=2", "InvalidArgument"},
		{strings.Repeat("k=v&", 10) + "k10=v", "InvalidArgument"},
		{"k0=0&k1=1&k2=2&k3=3&k4=4&k5=5&k6=6&k7=7&k8=8&k9=9&k10=10", "BadRequest"},
		{"a%23b=1", "InvalidTag"},
	} {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("tagerr"), Key: aws.String("h"), Body: stringsReader("x"), Tagging: aws.String(tc.header)})
		wantCode(t, "PutObject x-amz-tagging: "+tc.header, err, tc.code)
	}
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("tagerr"), Key: aws.String("h")})
	wantStatus(t, err, http.StatusNotFound)
	r := e.do(newRequest(t, "PUT", e.url+"/tagerr/k?tagging", []byte("<Tagging><TagSet><Tag><Key>a</Key></Tag></TagSet></Tagging>")), true)
	if r.status != 400 || r.err.Code != "MalformedXML" {
		t.Fatalf("tag without a Value: %d %s", r.status, r.err.Code)
	}
}

// TestSDKBucketTagging: none (NoSuchTagSet), 50 tags stored and read back, 51 refused,
// deleted, and gone with the bucket.
func TestSDKBucketTagging(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		c := e.sdk()
		mkbucket(t, c, "btags")
		get := func() (string, error) {
			out, err := c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String("btags")})
			if err != nil {
				return "", err
			}
			return tagString(out.TagSet), nil
		}
		_, err := get()
		wantCode(t, "GetBucketTagging of a bucket without tags", err, "NoSuchTagSet")
		var set []types.Tag
		for i := range 51 {
			set = append(set, types.Tag{Key: aws.String(fmt.Sprintf("key %02d", i)), Value: aws.String(fmt.Sprint("value ", i))})
		}
		put := func(set []types.Tag) error {
			_, err := c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String("btags"), Tagging: &types.Tagging{TagSet: set}})
			return err
		}
		wantCode(t, "PutBucketTagging of 51 tags", put(set), "InvalidTag")
		mustOK(t, "PutBucketTagging of 50 tags", put(set[:50]))
		if got, err := get(); err != nil || got != tagString(set[:50]) {
			t.Fatalf("GetBucketTagging: %q, %v", got, err)
		}
		wantCode(t, "PutBucketTagging with a repeated key", put([]types.Tag{set[0], set[0]}), "InvalidTag")
		mustOK(t, "PutBucketTagging of 1 tag", put(set[:1]))
		if got, err := get(); err != nil || got != tagString(set[:1]) {
			t.Fatalf("GetBucketTagging after replacing: %q, %v", got, err)
		}
		_, err = c.DeleteBucketTagging(ctx, &s3.DeleteBucketTaggingInput{Bucket: aws.String("btags")})
		mustOK(t, "DeleteBucketTagging", err)
		_, err = get()
		wantCode(t, "GetBucketTagging after DeleteBucketTagging", err, "NoSuchTagSet")
		_, err = c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String("nobucket")})
		wantCode(t, "GetBucketTagging of a missing bucket", err, "NoSuchBucket")

		mustOK(t, "PutBucketTagging", put(set[:3]))
		_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("btags")})
		mustOK(t, "DeleteBucket", err)
		mkbucket(t, c, "btags")
		_, err = get()
		wantCode(t, "GetBucketTagging of a new bucket of an old name", err, "NoSuchTagSet")
	})
}

// TestCLITagging drives the tagging operations with the aws CLI.
func TestCLITagging(t *testing.T) {
	e := start(t, "epoll")
	run, try := awsCLI(t, e)
	run("s3api", "create-bucket", "--bucket", "cli-tags")
	run("s3api", "put-object", "--bucket", "cli-tags", "--key", "k", "--tagging", "a=1&b=2")
	if out := run("s3api", "get-object-tagging", "--bucket", "cli-tags", "--key", "k", "--output", "text"); !strings.Contains(out, "a\t1") || !strings.Contains(out, "b\t2") {
		t.Fatalf("get-object-tagging: %q", out)
	}
	run("s3api", "put-object-tagging", "--bucket", "cli-tags", "--key", "k", "--tagging", "TagSet=[{Key=c,Value=3}]")
	if out := run("s3api", "head-object", "--bucket", "cli-tags", "--key", "k"); !strings.Contains(out, `"TagCount": 1`) {
		t.Fatalf("head-object after put-object-tagging: %s", out)
	}
	if _, errOut, ok := try("s3api", "get-bucket-tagging", "--bucket", "cli-tags"); ok || !strings.Contains(errOut, "NoSuchTagSet") {
		t.Fatalf("get-bucket-tagging without tags: ok %v, %s", ok, errOut)
	}
	run("s3api", "put-bucket-tagging", "--bucket", "cli-tags", "--tagging", "TagSet=[{Key=team,Value=storage}]")
	if out := run("s3api", "get-bucket-tagging", "--bucket", "cli-tags", "--output", "text"); !strings.Contains(out, "team\tstorage") {
		t.Fatalf("get-bucket-tagging: %q", out)
	}
	if _, errOut, ok := try("s3api", "put-object-tagging", "--bucket", "cli-tags", "--key", "k", "--tagging", "TagSet=[{Key=aws:x,Value=3}]"); ok || !bytes.Contains([]byte(errOut), []byte("InvalidTag")) {
		t.Fatalf("put-object-tagging aws:x: ok %v, %s", ok, errOut)
	}
	run("s3api", "delete-bucket-tagging", "--bucket", "cli-tags")
	run("s3api", "delete-object-tagging", "--bucket", "cli-tags", "--key", "k")
}
