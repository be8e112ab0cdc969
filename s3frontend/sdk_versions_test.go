package s3frontend_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/flashstor/flashstor/objstore"
)

// A well-formed version id that names no version (S3's own ids are 32 characters).
const otherVersion = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"

// TestSDKBucketVersioning: an unversioned bucket reports no status, Enabled and Suspended
// are stored, a document without a status changes nothing (never back to unversioned),
// and a deleted bucket's state goes with it.
func TestSDKBucketVersioning(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		c := e.sdk()
		mkbucket(t, c, "ver")
		status := func(want types.BucketVersioningStatus) {
			t.Helper()
			out, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String("ver")})
			mustOK(t, "GetBucketVersioning", err)
			if out.Status != want || out.MFADelete != "" {
				t.Fatalf("versioning %q (MFA delete %q), want %q", out.Status, out.MFADelete, want)
			}
		}
		status("")
		put := func(st types.BucketVersioningStatus) error {
			_, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("ver"),
				VersioningConfiguration: &types.VersioningConfiguration{Status: st}})
			return err
		}
		mustOK(t, "PutBucketVersioning Enabled", put(types.BucketVersioningStatusEnabled))
		status(types.BucketVersioningStatusEnabled)
		mustOK(t, "PutBucketVersioning without a status", put(""))
		status(types.BucketVersioningStatusEnabled)
		mustOK(t, "PutBucketVersioning Suspended", put(types.BucketVersioningStatusSuspended))
		status(types.BucketVersioningStatusSuspended)
		putString(t, c, "ver", "k", "v")
		out, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("ver"), Key: aws.String("k"), VersionId: aws.String("null")})
		mustOK(t, "HeadObject versionId=null in a suspended bucket", err)
		if aws.ToInt64(out.ContentLength) != 1 {
			t.Fatalf("HeadObject: %d bytes", aws.ToInt64(out.ContentLength))
		}

		_, err = c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String("none")})
		wantCode(t, "GetBucketVersioning of a missing bucket", err, "NoSuchBucket")
		_, err = c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("none"),
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusSuspended}})
		wantCode(t, "PutBucketVersioning of a missing bucket", err, "NoSuchBucket")
		for _, doc := range []string{"<VersioningConfiguration><Status>On</Status></VersioningConfiguration>", "<Versioning/>", "<VersioningConfiguration>"} {
			r := e.do(newRequest(t, "PUT", e.url+"/ver?versioning", []byte(doc)), true)
			if r.status != http.StatusBadRequest || r.err.Code != "MalformedXML" {
				t.Fatalf("PutBucketVersioning %s: %d %s", doc, r.status, r.err.Code)
			}
		}
		status(types.BucketVersioningStatusSuspended)
		r := e.do(newRequest(t, "PUT", e.url+"/ver?versioning", []byte("<VersioningConfiguration><Status>Suspended</Status><MfaDelete>Enabled</MfaDelete></VersioningConfiguration>")), true)
		if r.status != http.StatusNotImplemented || r.err.Code != "NotImplemented" {
			t.Fatalf("MFA delete: %d %s", r.status, r.err.Code)
		}

		_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("ver"), Key: aws.String("k"), VersionId: aws.String("null")})
		mustOK(t, "DeleteObject", err)
		_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("ver")})
		mustOK(t, "DeleteBucket", err)
		mkbucket(t, c, "ver")
		status("")
	})
}

// TestVersionIDOnUnversionedObjects: versionId=null reads, heads and deletes the object;
// another well-formed id is NoSuchVersion; a malformed one InvalidArgument.
func TestVersionIDOnUnversionedObjects(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		c := e.sdk()
		mkbucket(t, c, "vid")
		putString(t, c, "vid", "k", "hello")
		body, _ := getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("vid"), Key: aws.String("k"), VersionId: aws.String("null")})
		if string(body) != "hello" {
			t.Fatalf("GET versionId=null: %q", body)
		}
		_, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("vid"), Key: aws.String("k"), VersionId: aws.String("null")})
		mustOK(t, "HEAD versionId=null", err)

		_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("vid"), Key: aws.String("k"), VersionId: aws.String(otherVersion)})
		wantCode(t, "GET of another version", err, "NoSuchVersion")
		_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("vid"), Key: aws.String("k"), VersionId: aws.String(otherVersion)})
		wantStatus(t, err, http.StatusNotFound)
		_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("vid"), Key: aws.String("k"), VersionId: aws.String(otherVersion)})
		wantCode(t, "DELETE of another version", err, "NoSuchVersion")
		_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("none"), Key: aws.String("k"), VersionId: aws.String(otherVersion)})
		wantCode(t, "GET of a version in a missing bucket", err, "NoSuchBucket")
		for _, bad := range []string{"1", "abc", strings.Repeat("a", 31), otherVersion + "+"} {
			_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("vid"), Key: aws.String("k"), VersionId: aws.String(bad)})
			wantCode(t, "GET versionId="+bad, err, "InvalidArgument")
		}
		r := e.do(newRequest(t, "GET", e.url+"/vid/k?versionId="+otherVersion, nil), true)
		if r.status != http.StatusNotFound || r.err.Code != "NoSuchVersion" || r.err.Key != "k" || !bytes.Contains(r.body, []byte("<VersionId>"+otherVersion+"</VersionId>")) {
			t.Fatalf("GET of another version: %d %+v\n%s", r.status, r.err, r.body)
		}

		del, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("vid"), Delete: &types.Delete{Objects: []types.ObjectIdentifier{
			{Key: aws.String("k"), VersionId: aws.String(otherVersion)},
			{Key: aws.String("k"), VersionId: aws.String("bad")},
		}}})
		mustOK(t, "DeleteObjects of other versions", err)
		if len(del.Errors) != 2 || aws.ToString(del.Errors[0].Code) != "NoSuchVersion" || aws.ToString(del.Errors[1].Code) != "InvalidArgument" ||
			aws.ToString(del.Errors[0].VersionId) != otherVersion {
			t.Fatalf("DeleteObjects of other versions: %+v", del.Errors)
		}
		body, _ = getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("vid"), Key: aws.String("k")})
		if string(body) != "hello" {
			t.Fatal("the object went with a version that is not its own")
		}
		_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("vid"), Key: aws.String("k"), VersionId: aws.String("null")})
		mustOK(t, "DELETE versionId=null", err)
		_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("vid"), Key: aws.String("k")})
		wantStatus(t, err, http.StatusNotFound)
	})
}

// listVersions pages through ListObjectVersions of bucket "versions" as backup tools and test teardowns do, by
// NextKeyMarker and NextVersionIdMarker, with a bound on the pages.
func listVersions(t *testing.T, c *s3.Client, in s3.ListObjectVersionsInput) (versions []types.ObjectVersion, prefixes []string, pages int) {
	t.Helper()
	in.Bucket = aws.String("versions")
	for pages = 1; pages <= 100; pages++ {
		out, err := c.ListObjectVersions(context.Background(), &in)
		mustOK(t, "ListObjectVersions", err)
		versions = append(versions, out.Versions...)
		for _, p := range out.CommonPrefixes {
			prefixes = append(prefixes, aws.ToString(p.Prefix))
		}
		if len(out.DeleteMarkers) != 0 {
			t.Fatalf("%d delete markers in an unversioned bucket", len(out.DeleteMarkers))
		}
		if !aws.ToBool(out.IsTruncated) {
			return versions, prefixes, pages
		}
		in.KeyMarker, in.VersionIdMarker = out.NextKeyMarker, out.NextVersionIdMarker
	}
	t.Fatal("listing did not end in 100 pages")
	return nil, nil, 0
}

// TestSDKListObjectVersions lists 1,050 objects and 3 common prefixes as versions, with
// and without a delimiter, in pages of S3's default 1,000 and of 400, then empties the
// bucket with DeleteObjects of what it listed, as a test suite's teardown does.
func TestSDKListObjectVersions(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		c := e.sdk()
		mkbucket(t, c, "versions")
		var top []string
		for i := range 1050 {
			top = append(top, fmt.Sprintf("k%04d", i))
		}
		nested := []string{"p0/a", "p0/b", "p1/c", "p2/d e"}
		seed(t, e, "versions", append(append([]string(nil), top...), nested...))
		all := append(append([]string(nil), top...), nested...)

		cases := []struct {
			name     string
			in       s3.ListObjectVersionsInput
			keys     []string
			prefixes []string
			pages    int
		}{
			{"all", s3.ListObjectVersionsInput{}, all, nil, 2},
			{"delimiter", s3.ListObjectVersionsInput{Delimiter: aws.String("/")}, top, []string{"p0/", "p1/", "p2/"}, 2},
			{"delimiter by 400", s3.ListObjectVersionsInput{Delimiter: aws.String("/"), MaxKeys: aws.Int32(400)}, top, []string{"p0/", "p1/", "p2/"}, 3},
			{"prefix+delimiter by 1", s3.ListObjectVersionsInput{Prefix: aws.String("p"), Delimiter: aws.String("/"), MaxKeys: aws.Int32(1)}, nil, []string{"p0/", "p1/", "p2/"}, 3},
			{"prefix", s3.ListObjectVersionsInput{Prefix: aws.String("p0/")}, []string{"p0/a", "p0/b"}, nil, 1},
			{"after a key", s3.ListObjectVersionsInput{KeyMarker: aws.String("k1048")}, append([]string{"k1049"}, nested...), nil, 1},
			{"after a key's null version", s3.ListObjectVersionsInput{KeyMarker: aws.String("k1048"), VersionIdMarker: aws.String("null"), MaxKeys: aws.Int32(2)}, append([]string{"k1049"}, nested...), nil, 3},
		}
		for _, tc := range cases {
			vs, prefixes, pages := listVersions(t, c, tc.in)
			var keys []string
			for _, v := range vs {
				keys = append(keys, aws.ToString(v.Key))
				if aws.ToString(v.VersionId) != "null" || !aws.ToBool(v.IsLatest) || v.Owner == nil || aws.ToString(v.ETag) == "" || v.LastModified == nil {
					t.Fatalf("%s: version %+v", tc.name, v)
				}
			}
			if !equalStrings(keys, tc.keys) || !equalStrings(prefixes, tc.prefixes) || pages != tc.pages {
				t.Fatalf("%s: %d keys (%v...), prefixes %v, %d pages; want %d keys, %v, %d pages", tc.name,
					len(keys), keys[:min(len(keys), 3)], prefixes, pages, len(tc.keys), tc.prefixes, tc.pages)
			}
		}

		// Teardown as test suites do it: every version listed, deleted by version id.
		vs, _, _ := listVersions(t, c, s3.ListObjectVersionsInput{})
		for len(vs) > 0 {
			n := min(len(vs), 1000)
			var ids []types.ObjectIdentifier
			for _, v := range vs[:n] {
				ids = append(ids, types.ObjectIdentifier{Key: v.Key, VersionId: v.VersionId})
			}
			out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("versions"), Delete: &types.Delete{Objects: ids}})
			mustOK(t, "DeleteObjects", err)
			if len(out.Errors) != 0 || len(out.Deleted) != n {
				t.Fatalf("DeleteObjects: %d deleted, errors %+v", len(out.Deleted), out.Errors)
			}
			vs = vs[n:]
		}
		_, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("versions")})
		mustOK(t, "DeleteBucket after deleting every version", err)
	})
}

// TestListObjectVersionsErrors: the arguments S3 refuses, and encoding-type=url.
func TestListObjectVersionsErrors(t *testing.T) {
	e := start(t, "epoll")
	c := e.sdk()
	mkbucket(t, c, "vers")
	putString(t, c, "vers", "a b", "x")
	for _, tc := range []struct{ query, code string }{
		{"versions&version-id-marker=null", "InvalidArgument"},
		{"versions&key-marker=a&version-id-marker=zz", "InvalidArgument"},
		{"versions&max-keys=-1", "InvalidArgument"},
		{"versions&encoding-type=xml", "InvalidArgument"},
		{"versions&marker=a", "NotImplemented"},
	} {
		r := e.do(newRequest(t, "GET", e.url+"/vers?"+tc.query, nil), true)
		if r.err.Code != tc.code {
			t.Errorf("?%s: %d %s, want %s", tc.query, r.status, r.err.Code, tc.code)
		}
	}
	r := e.do(newRequest(t, "GET", e.url+"/none?versions", nil), true)
	if r.err.Code != "NoSuchBucket" {
		t.Errorf("missing bucket: %d %s", r.status, r.err.Code)
	}
	r = e.do(newRequest(t, "GET", e.url+"/vers?versions&encoding-type=url", nil), true)
	if r.status != 200 || !bytes.Contains(r.body, []byte("<Key>a%20b</Key><VersionId>null</VersionId><IsLatest>true</IsLatest>")) ||
		!bytes.Contains(r.body, []byte("<EncodingType>url</EncodingType>")) {
		t.Fatalf("encoding-type=url: %d\n%s", r.status, r.body)
	}
}

// seed puts an empty object at each key through the object layer, 8 at a time.
func seed(t *testing.T, e *env, bucket string, keys []string) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(keys))
	sem := make(chan struct{}, 8)
	for _, k := range keys {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if _, err := e.layer.PutObject(context.Background(), bucket, k, bytes.NewReader(nil), 0, objstore.PutOptions{}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
