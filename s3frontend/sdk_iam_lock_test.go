package s3frontend_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestIAMVersionsAndLock: reading or deleting a named version needs its own actions
// (s3:GetObjectVersion, s3:DeleteObjectVersion), and the governance bypass header counts
// only for a caller allowed s3:BypassGovernanceRetention; without it the retention
// refuses as if the header were absent.
func TestIAMVersionsAndLock(t *testing.T) {
	e := startIAM(t, "epoll")
	ctx := context.Background()
	root := e.sdk()
	const b = "vault"
	_, err := root.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b), ObjectLockEnabledForBucket: aws.Bool(true)})
	mustOK(t, "CreateBucket with object lock", err)
	first := aws.ToString(putString(t, root, b, "k", "one").VersionId)
	putString(t, root, b, "k", "two")
	_, err = root.PutObjectRetention(ctx, &s3.PutObjectRetentionInput{Bucket: aws.String(b), Key: aws.String("k"), VersionId: aws.String(first),
		Retention: &types.ObjectLockRetention{Mode: types.ObjectLockRetentionModeGovernance, RetainUntilDate: aws.Time(time.Now().AddDate(0, 0, 1))}})
	mustOK(t, "PutObjectRetention", err)

	plain := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject","s3:DeleteObject","s3:DeleteObjectVersion"],"Resource":"arn:aws:s3:::vault/*"}]}`
	key, secret := e.newUser(t, "plain", plain)
	u := e.s3As(key, secret, "", nil)
	if body, err := get(u, b, "k"); err != nil || body != "two" {
		t.Fatalf("latest version as plain: %q, %v", body, err)
	}
	_, err = u.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("k"), VersionId: aws.String(first)})
	wantCode(t, "GET of a version without s3:GetObjectVersion", err, "AccessDenied")
	_, err = u.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b), Key: aws.String("k"), VersionId: aws.String(first), BypassGovernanceRetention: aws.Bool(true)})
	wantCode(t, "bypass without s3:BypassGovernanceRetention", err, "AccessDenied")
	out, err := u.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(b), BypassGovernanceRetention: aws.Bool(true),
		Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: aws.String("k"), VersionId: aws.String(first)}}}})
	mustOK(t, "DeleteObjects", err)
	if len(out.Errors) != 1 || aws.ToString(out.Errors[0].Code) != "AccessDenied" {
		t.Fatalf("DeleteObjects of a governed version without the right to bypass: %+v deleted %+v", out.Errors, out.Deleted)
	}

	admin := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:GetObjectVersion","s3:DeleteObjectVersion","s3:BypassGovernanceRetention"],"Resource":"arn:aws:s3:::vault/*"}]}`
	key, secret = e.newUser(t, "keeper", admin)
	k := e.s3As(key, secret, "", nil)
	got, err := k.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("k"), VersionId: aws.String(first)})
	mustOK(t, "GET of a version with s3:GetObjectVersion", err)
	got.Body.Close()
	_, err = k.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b), Key: aws.String("k"), VersionId: aws.String(first)})
	wantCode(t, "DELETE of a governed version without the header", err, "AccessDenied")
	_, err = k.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b), Key: aws.String("k"), VersionId: aws.String(first), BypassGovernanceRetention: aws.Bool(true)})
	mustOK(t, "DELETE with the header and s3:BypassGovernanceRetention", err)
	_, err = root.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("k"), VersionId: aws.String(first)})
	wantCode(t, "HEAD of the deleted version", err, "NotFound")
}
