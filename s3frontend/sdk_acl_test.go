package s3frontend_test

import (
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

const allUsers = "http://acs.amazonaws.com/groups/global/AllUsers"

// grants renders an ACL's grants as "grantee:PERMISSION" in order, the owner as "owner".
func grants(t *testing.T, owner *types.Owner, list []types.Grant) string {
	t.Helper()
	var out []string
	for _, g := range list {
		who := aws.ToString(g.Grantee.URI)
		if g.Grantee.Type == types.TypeCanonicalUser {
			if aws.ToString(g.Grantee.ID) != aws.ToString(owner.ID) {
				t.Fatalf("grant to %s, not the owner %s", aws.ToString(g.Grantee.ID), aws.ToString(owner.ID))
			}
			who = "owner"
		}
		out = append(out, who+":"+string(g.Permission))
	}
	return strings.Join(out, ",")
}

// TestSDKACL: canned ACLs on buckets and objects, given at creation, by PutBucketAcl and
// PutObjectAcl (header, body, owner-only grant), read back as S3's AccessControlPolicy, with
// a stable 64-hex owner id; grants to others are NotImplemented.
func TestSDKACL(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		c := e.sdk()
		_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("acl"), ACL: types.BucketCannedACLPublicRead})
		mustOK(t, "CreateBucket public-read", err)
		bucketACL := func() string {
			t.Helper()
			out, err := c.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: aws.String("acl")})
			mustOK(t, "GetBucketAcl", err)
			id := aws.ToString(out.Owner.ID)
			if b, err := hex.DecodeString(id); err != nil || len(b) != 32 || aws.ToString(out.Owner.DisplayName) != testAccessKey {
				t.Fatalf("owner %q %q", id, aws.ToString(out.Owner.DisplayName))
			}
			return grants(t, out.Owner, out.Grants)
		}
		if got := bucketACL(); got != "owner:FULL_CONTROL,"+allUsers+":READ" {
			t.Fatalf("bucket created public-read: %s", got)
		}
		list, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
		mustOK(t, "ListBuckets", err)
		acl, _ := c.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: aws.String("acl")})
		if aws.ToString(list.Owner.ID) != aws.ToString(acl.Owner.ID) {
			t.Fatalf("ListBuckets owner %s, ACL owner %s", aws.ToString(list.Owner.ID), aws.ToString(acl.Owner.ID))
		}
		owner := aws.ToString(acl.Owner.ID)

		putBucket := func(in *s3.PutBucketAclInput) error {
			in.Bucket = aws.String("acl")
			_, err := c.PutBucketAcl(ctx, in)
			return err
		}
		mustOK(t, "PutBucketAcl private", putBucket(&s3.PutBucketAclInput{ACL: types.BucketCannedACLPrivate}))
		if got := bucketACL(); got != "owner:FULL_CONTROL" {
			t.Fatalf("bucket private: %s", got)
		}
		ownerGrant := types.Grant{Grantee: &types.Grantee{Type: types.TypeCanonicalUser, ID: aws.String(owner)}, Permission: types.PermissionFullControl}
		groupGrant := func(uri string, p types.Permission) types.Grant {
			return types.Grant{Grantee: &types.Grantee{Type: types.TypeGroup, URI: aws.String(uri)}, Permission: p}
		}
		mustOK(t, "PutBucketAcl body public-read-write", putBucket(&s3.PutBucketAclInput{AccessControlPolicy: &types.AccessControlPolicy{
			Owner: &types.Owner{ID: aws.String(owner)}, Grants: []types.Grant{groupGrant(allUsers, types.PermissionWrite), ownerGrant, groupGrant(allUsers, types.PermissionRead)}}}))
		if got := bucketACL(); got != "owner:FULL_CONTROL,"+allUsers+":READ,"+allUsers+":WRITE" {
			t.Fatalf("bucket public-read-write by body: %s", got)
		}
		mustOK(t, "PutBucketAcl owner-only grant header", putBucket(&s3.PutBucketAclInput{GrantFullControl: aws.String(`id="` + owner + `"`)}))
		if got := bucketACL(); got != "owner:FULL_CONTROL" {
			t.Fatalf("bucket after owner-only grant: %s", got)
		}
		wantCode(t, "grant READ to someone", putBucket(&s3.PutBucketAclInput{GrantRead: aws.String(`id="` + strings.Repeat("0", 64) + `"`)}), "NotImplemented")
		wantCode(t, "body grant to someone", putBucket(&s3.PutBucketAclInput{AccessControlPolicy: &types.AccessControlPolicy{
			Owner: &types.Owner{ID: aws.String(owner)}, Grants: []types.Grant{ownerGrant,
				{Grantee: &types.Grantee{Type: types.TypeCanonicalUser, ID: aws.String(strings.Repeat("1", 64))}, Permission: types.PermissionRead}}}}), "NotImplemented")
		wantCode(t, "body without the owner's grant", putBucket(&s3.PutBucketAclInput{AccessControlPolicy: &types.AccessControlPolicy{
			Owner: &types.Owner{ID: aws.String(owner)}, Grants: []types.Grant{groupGrant(allUsers, types.PermissionRead)}}}), "NotImplemented")
		wantCode(t, "unknown canned ACL", putBucket(&s3.PutBucketAclInput{ACL: "public"}), "InvalidArgument")
		if got := bucketACL(); got != "owner:FULL_CONTROL" {
			t.Fatalf("a refused ACL changed the bucket's: %s", got)
		}
		_, err = c.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: aws.String("nobucket")})
		wantCode(t, "GetBucketAcl of a missing bucket", err, "NoSuchBucket")

		objectACL := func(key string) string {
			t.Helper()
			out, err := c.GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: aws.String("acl"), Key: aws.String(key)})
			mustOK(t, "GetObjectAcl "+key, err)
			return grants(t, out.Owner, out.Grants)
		}
		_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("acl"), Key: aws.String("o"), Body: stringsReader("x"), ACL: types.ObjectCannedACLPublicRead})
		mustOK(t, "PutObject public-read", err)
		if got := objectACL("o"); got != "owner:FULL_CONTROL,"+allUsers+":READ" {
			t.Fatalf("object public-read: %s", got)
		}
		_, err = c.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: aws.String("acl"), Key: aws.String("o"), ACL: types.ObjectCannedACLAuthenticatedRead})
		mustOK(t, "PutObjectAcl authenticated-read", err)
		if got := objectACL("o"); got != "owner:FULL_CONTROL,http://acs.amazonaws.com/groups/global/AuthenticatedUsers:READ" {
			t.Fatalf("object authenticated-read: %s", got)
		}
		_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("acl"), Key: aws.String("copy"), CopySource: aws.String("acl/o")})
		mustOK(t, "CopyObject", err)
		if got := objectACL("copy"); got != "owner:FULL_CONTROL" {
			t.Fatalf("a copy takes the request's ACL, not the source's: %s", got)
		}
		_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("acl"), Key: aws.String("copy2"), CopySource: aws.String("acl/o"), ACL: types.ObjectCannedACLPublicRead})
		mustOK(t, "CopyObject public-read", err)
		if got := objectACL("copy2"); got != "owner:FULL_CONTROL,"+allUsers+":READ" {
			t.Fatalf("copy with public-read: %s", got)
		}
		up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("acl"), Key: aws.String("mp"), ACL: types.ObjectCannedACLPublicRead})
		mustOK(t, "CreateMultipartUpload public-read", err)
		part, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("acl"), Key: aws.String("mp"), UploadId: up.UploadId, PartNumber: aws.Int32(1), Body: stringsReader("p")})
		mustOK(t, "UploadPart", err)
		_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("acl"), Key: aws.String("mp"), UploadId: up.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: part.ETag}}}})
		mustOK(t, "CompleteMultipartUpload", err)
		if got := objectACL("mp"); got != "owner:FULL_CONTROL,"+allUsers+":READ" {
			t.Fatalf("multipart public-read: %s", got)
		}
		_, err = c.GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: aws.String("acl"), Key: aws.String("none")})
		wantCode(t, "GetObjectAcl of a missing key", err, "NoSuchKey")
		_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("acl"), Key: aws.String("x"), Body: stringsReader("x"), ACL: "log-delivery-write"})
		wantCode(t, "PutObject log-delivery-write", err, "NotImplemented")
		r := e.do(func() *http.Request {
			req := newRequest(t, "PUT", e.url+"/acl/o?acl", []byte("<AccessControlPolicy/>"))
			req.Header.Set("x-amz-acl", "private")
			return req
		}(), true)
		if r.status != 400 {
			t.Fatalf("PutObjectAcl with a header and a body: %d %s", r.status, r.err.Code)
		}
	})
}

// anonymous sends an unsigned request and returns its status and body.
func anonymous(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestAnonymousAccess: unsigned requests read what a public-read ACL opens, and nothing
// else: objects by their own ACL, listings by the bucket's; a missing key is 404 only to
// who may list the bucket; writes are refused whatever the ACL.
func TestAnonymousAccess(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		c := e.sdk()
		mkbucket(t, c, "pub")
		putString(t, c, "pub", "o", "public data")
		putString(t, c, "pub", "p", "private data")
		check := func(what, method, path string, want int, wantBody string) {
			t.Helper()
			status, body := anonymous(t, method, e.url+path)
			if status != want || !strings.Contains(body, wantBody) {
				t.Fatalf("%s: anonymous %s %s: %d %.200s, want %d with %q", what, method, path, status, body, want, wantBody)
			}
		}
		check("private object", "GET", "/pub/o", 403, "AccessDenied")
		check("private object", "HEAD", "/pub/o", 403, "")
		check("private bucket", "GET", "/pub", 403, "AccessDenied")
		check("missing key in a private bucket", "GET", "/pub/none", 403, "AccessDenied")
		check("missing bucket", "GET", "/nobucket/o", 403, "AccessDenied")

		_, err := c.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: aws.String("pub"), Key: aws.String("o"), ACL: types.ObjectCannedACLPublicRead})
		mustOK(t, "PutObjectAcl public-read", err)
		check("public-read object", "GET", "/pub/o", 200, "public data")
		check("public-read object", "HEAD", "/pub/o", 200, "")
		check("public-read object, versionId=null", "GET", "/pub/o?versionId=null", 200, "public data")
		check("public-read object, response-content-type", "GET", "/pub/o?response-content-type=text/html", 400, "InvalidRequest")
		check("public-read object, another version", "GET", "/pub/o?versionId="+otherVersion, 403, "AccessDenied")
		check("other object", "GET", "/pub/p", 403, "AccessDenied")
		check("ACL of a public-read object", "GET", "/pub/o?acl", 403, "AccessDenied")
		check("tags of a public-read object", "GET", "/pub/o?tagging", 403, "AccessDenied")
		check("delete of a public-read object", "DELETE", "/pub/o", 403, "AccessDenied")
		check("listing of a private bucket", "GET", "/pub?list-type=2", 403, "AccessDenied")

		_, err = c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String("pub"), ACL: types.BucketCannedACLPublicReadWrite})
		mustOK(t, "PutBucketAcl public-read-write", err)
		check("public-read bucket listing", "GET", "/pub", 200, "<Key>p</Key>")
		check("public-read bucket listing v2", "GET", "/pub?list-type=2", 200, "<Key>o</Key>")
		check("public-read bucket versions", "GET", "/pub?versions", 200, "<VersionId>null</VersionId>")
		check("public-read bucket", "HEAD", "/pub", 200, "")
		check("missing key in a listable bucket", "GET", "/pub/none", 404, "NoSuchKey")
		check("private object in a public bucket", "GET", "/pub/p", 403, "AccessDenied")
		check("bucket ACL", "GET", "/pub?acl", 403, "AccessDenied")
		check("write to a public-read-write bucket", "PUT", "/pub/new", 403, "AccessDenied")
		check("delete in a public-read-write bucket", "DELETE", "/pub/o", 403, "AccessDenied")
		check("bucket delete", "DELETE", "/pub", 403, "AccessDenied")
		check("service listing", "GET", "/", 403, "AccessDenied")

		_, err = c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String("pub"), ACL: types.BucketCannedACLPrivate})
		mustOK(t, "PutBucketAcl private", err)
		check("listing after the bucket went private", "GET", "/pub", 403, "AccessDenied")
		check("public-read object in a private bucket", "GET", "/pub/o", 200, "public data")
	})
}

// TestCLIAnonymous: the aws CLI with --no-sign-request reads a public-read object and lists
// a public-read bucket, and is refused a private object.
func TestCLIAnonymous(t *testing.T) {
	e := start(t, "epoll")
	run, try := awsCLI(t, e)
	run("s3api", "create-bucket", "--bucket", "cli-pub", "--acl", "public-read")
	run("s3api", "put-object", "--bucket", "cli-pub", "--key", "open.txt", "--acl", "public-read", "--body", "/etc/hostname")
	run("s3api", "put-object", "--bucket", "cli-pub", "--key", "closed.txt", "--body", "/etc/hostname")
	if out := run("s3api", "get-bucket-acl", "--bucket", "cli-pub"); !strings.Contains(out, allUsers) {
		t.Fatalf("get-bucket-acl: %s", out)
	}
	if out := run("s3", "ls", "s3://cli-pub/", "--no-sign-request"); !strings.Contains(out, "open.txt") || !strings.Contains(out, "closed.txt") {
		t.Fatalf("anonymous ls: %q", out)
	}
	want, err := readFile("/etc/hostname")
	if err != nil {
		t.Fatal(err)
	}
	if out := run("s3", "cp", "s3://cli-pub/open.txt", "-", "--no-sign-request"); out != want {
		t.Fatalf("anonymous cp of a public-read object: %q, want %q", out, want)
	}
	if _, errOut, ok := try("s3", "cp", "s3://cli-pub/closed.txt", "-", "--no-sign-request"); ok || !strings.Contains(errOut, "403") {
		t.Fatalf("anonymous cp of a private object: ok %v, %s", ok, errOut)
	}
	if _, errOut, ok := try("s3", "cp", "/etc/hostname", "s3://cli-pub/new.txt", "--no-sign-request"); ok || !strings.Contains(errOut, "AccessDenied") {
		t.Fatalf("anonymous upload: ok %v, %s", ok, errOut)
	}
}
