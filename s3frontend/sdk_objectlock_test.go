package s3frontend_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestSDKObjectLock: a bucket made with object lock is versioned; its default retention
// applies to new versions; a GOVERNANCE version is deleted only with the bypass header, a
// COMPLIANCE one neither shortened nor deleted before its date, whatever the headers, and
// deleted once the date is past; a legal hold blocks a delete until lifted; versioning
// cannot be suspended.
func TestSDKObjectLock(t *testing.T) {
	e := start(t, "epoll")
	ctx := context.Background()
	c := e.sdk()
	const b = "locked"
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b), ObjectLockEnabledForBucket: aws.Bool(true)})
	mustOK(t, "CreateBucket with object lock", err)
	ver, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(b)})
	mustOK(t, "GetBucketVersioning", err)
	if ver.Status != types.BucketVersioningStatusEnabled {
		t.Fatalf("versioning of a locked bucket: %q", ver.Status)
	}
	_, err = c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(b),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusSuspended}})
	wantCode(t, "suspending a locked bucket", err, "InvalidBucketState")

	_, err = c.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: aws.String(b),
		ObjectLockConfiguration: &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled,
			Rule: &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{Mode: types.ObjectLockRetentionModeGovernance, Days: aws.Int32(1)}}}})
	mustOK(t, "PutObjectLockConfiguration", err)
	cfg, err := c.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: aws.String(b)})
	mustOK(t, "GetObjectLockConfiguration", err)
	if r := cfg.ObjectLockConfiguration.Rule; r == nil || r.DefaultRetention.Mode != types.ObjectLockRetentionModeGovernance || aws.ToInt32(r.DefaultRetention.Days) != 1 {
		t.Fatalf("lock configuration: %+v", cfg.ObjectLockConfiguration)
	}

	// The default retention: GOVERNANCE for a day.
	gov := aws.ToString(putString(t, c, b, "gov", "g").VersionId)
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("gov")})
	mustOK(t, "HeadObject", err)
	if head.ObjectLockMode != types.ObjectLockModeGovernance || head.ObjectLockRetainUntilDate == nil || time.Until(*head.ObjectLockRetainUntilDate) < 23*time.Hour {
		t.Fatalf("lock of a new version: %q until %v", head.ObjectLockMode, head.ObjectLockRetainUntilDate)
	}
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b), Key: aws.String("gov"), VersionId: aws.String(gov)})
	wantCode(t, "DELETE of a GOVERNANCE version", err, "AccessDenied")
	_, err = c.PutObjectRetention(ctx, &s3.PutObjectRetentionInput{Bucket: aws.String(b), Key: aws.String("gov"), VersionId: aws.String(gov),
		Retention: &types.ObjectLockRetention{Mode: types.ObjectLockRetentionModeGovernance, RetainUntilDate: aws.Time(time.Now().Add(time.Hour))}})
	wantCode(t, "shortening GOVERNANCE without bypass", err, "AccessDenied")
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b), Key: aws.String("gov"), VersionId: aws.String(gov), BypassGovernanceRetention: aws.Bool(true)})
	mustOK(t, "DELETE of a GOVERNANCE version with bypass", err)

	// COMPLIANCE, given with the put's headers, until a date a few seconds away.
	until := time.Now().Add(3 * time.Second).UTC()
	out, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("comp"), Body: strings.NewReader("c"),
		ObjectLockMode: types.ObjectLockModeCompliance, ObjectLockRetainUntilDate: aws.Time(until)})
	mustOK(t, "PutObject with COMPLIANCE", err)
	comp := aws.ToString(out.VersionId)
	ret, err := c.GetObjectRetention(ctx, &s3.GetObjectRetentionInput{Bucket: aws.String(b), Key: aws.String("comp"), VersionId: aws.String(comp)})
	mustOK(t, "GetObjectRetention", err)
	if ret.Retention.Mode != types.ObjectLockRetentionModeCompliance || ret.Retention.RetainUntilDate.Sub(until).Abs() > time.Millisecond {
		t.Fatalf("retention: %q until %v, want until %v", ret.Retention.Mode, ret.Retention.RetainUntilDate, until)
	}
	_, err = c.PutObjectRetention(ctx, &s3.PutObjectRetentionInput{Bucket: aws.String(b), Key: aws.String("comp"), VersionId: aws.String(comp), BypassGovernanceRetention: aws.Bool(true),
		Retention: &types.ObjectLockRetention{Mode: types.ObjectLockRetentionModeGovernance, RetainUntilDate: aws.Time(until)}})
	wantCode(t, "COMPLIANCE to GOVERNANCE", err, "AccessDenied")
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b), Key: aws.String("comp"), VersionId: aws.String(comp), BypassGovernanceRetention: aws.Bool(true)})
	wantCode(t, "DELETE of a COMPLIANCE version with bypass", err, "AccessDenied")
	// A delete without a version id only puts a marker on top: allowed.
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b), Key: aws.String("comp")})
	mustOK(t, "DELETE (marker) over a COMPLIANCE version", err)
	for i := 0; ; i++ { // once the date is past, the version goes (bounded: 10 s)
		_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b), Key: aws.String("comp"), VersionId: aws.String(comp)})
		if err == nil {
			break
		}
		if time.Now().Before(until) {
			wantCode(t, "DELETE before the date", err, "AccessDenied")
		} else if i > 100 {
			t.Fatalf("DELETE after the date: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if time.Now().Before(until) {
		t.Fatal("a COMPLIANCE version was deleted before its date")
	}

	// Legal hold.
	held := aws.ToString(putString(t, c, b, "held", "h").VersionId)
	_, err = c.PutObjectLegalHold(ctx, &s3.PutObjectLegalHoldInput{Bucket: aws.String(b), Key: aws.String("held"), VersionId: aws.String(held),
		LegalHold: &types.ObjectLockLegalHold{Status: types.ObjectLockLegalHoldStatusOn}})
	mustOK(t, "PutObjectLegalHold ON", err)
	lh, err := c.GetObjectLegalHold(ctx, &s3.GetObjectLegalHoldInput{Bucket: aws.String(b), Key: aws.String("held"), VersionId: aws.String(held)})
	mustOK(t, "GetObjectLegalHold", err)
	if lh.LegalHold.Status != types.ObjectLockLegalHoldStatusOn {
		t.Fatalf("legal hold %q", lh.LegalHold.Status)
	}
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b), Key: aws.String("held"), VersionId: aws.String(held), BypassGovernanceRetention: aws.Bool(true)})
	wantCode(t, "DELETE under legal hold", err, "AccessDenied")
	_, err = c.PutObjectLegalHold(ctx, &s3.PutObjectLegalHoldInput{Bucket: aws.String(b), Key: aws.String("held"), VersionId: aws.String(held),
		LegalHold: &types.ObjectLockLegalHold{Status: types.ObjectLockLegalHoldStatusOff}})
	mustOK(t, "PutObjectLegalHold OFF", err)
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b), Key: aws.String("held"), VersionId: aws.String(held), BypassGovernanceRetention: aws.Bool(true)})
	mustOK(t, "DELETE once the hold is lifted (governance bypassed)", err)

	// Lock headers and lock requests on a bucket without object lock.
	mkbucket(t, c, "plain")
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("plain"), Key: aws.String("k"), Body: strings.NewReader("x"),
		ObjectLockLegalHoldStatus: types.ObjectLockLegalHoldStatusOn})
	wantCode(t, "lock header on a plain bucket", err, "InvalidRequest")
	_, err = c.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: aws.String("plain")})
	wantStatus(t, err, http.StatusNotFound)
}
