package s3frontend_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/s3frontend"
)

// TestLifecycleRespectsLock: an expiration in a bucket with object lock puts a delete
// marker on a retained version, which stays, readable by its id and not deletable; a
// locked null version (legal hold, suspended bucket) is skipped, and the pass goes on.
func TestLifecycleRespectsLock(t *testing.T) {
	e := start(t, "epoll")
	ctx := context.Background()
	c := e.sdk()
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("lockscan"), ObjectLockEnabledForBucket: aws.Bool(true)})
	mustOK(t, "CreateBucket", err)
	out, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("lockscan"), Key: aws.String("x"), Body: strings.NewReader("kept"),
		ObjectLockMode: types.ObjectLockModeCompliance, ObjectLockRetainUntilDate: aws.Time(time.Now().Add(time.Hour))})
	mustOK(t, "PutObject", err)
	mkbucket(t, c, "holdscan")
	_, err = c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("holdscan"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusSuspended}})
	mustOK(t, "PutBucketVersioning", err)
	if _, err := e.layer.PutObject(ctx, "holdscan", "held", strings.NewReader("h"), 1, objstore.PutOptions{Lock: objstore.ObjectLock{LegalHold: true}}); err != nil {
		t.Fatal(err)
	}
	putString(t, c, "holdscan", "plain", "p")
	for _, b := range []string{"lockscan", "holdscan"} {
		_, err = c.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: aws.String(b),
			LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{
				{ID: aws.String("all"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("")},
					Expiration: &types.LifecycleExpiration{Days: aws.Int32(1)}}}}})
		mustOK(t, "PutBucketLifecycleConfiguration", err)
	}
	now := time.Now().Add(72 * time.Hour)
	sc, err := s3frontend.NewLifecycleScanner(s3frontend.LifecycleConfig{Layer: e.layer, Day: time.Hour, Now: func() time.Time { return now }, Pause: -1})
	if err != nil {
		t.Fatal(err)
	}
	expired, _, err := sc.Scan(ctx)
	if err != nil || expired != 2 { // x's delete marker and "plain"; not "held"
		t.Fatalf("pass: expired %d, %v; want 2", expired, err)
	}
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("lockscan"), Key: aws.String("x")})
	wantStatus(t, err, 404)
	body, _ := getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("lockscan"), Key: aws.String("x"), VersionId: out.VersionId})
	if string(body) != "kept" {
		t.Fatalf("the retained version: %q", body)
	}
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("lockscan"), Key: aws.String("x"), VersionId: out.VersionId})
	wantCode(t, "DELETE of the retained version", err, "AccessDenied")
	body, _ = getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("holdscan"), Key: aws.String("held")})
	if string(body) != "h" {
		t.Fatalf("the held version: %q", body)
	}
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("holdscan"), Key: aws.String("plain")})
	wantStatus(t, err, 404)
}

// TestLifecycleNoncurrent applies NoncurrentVersionExpiration (keeping the newest
// noncurrent version) and ExpiredObjectDeleteMarker with a clock the test sets.
func TestLifecycleNoncurrent(t *testing.T) {
	e := start(t, "epoll")
	ctx := context.Background()
	c := e.sdk()
	mkbucket(t, c, "ncbkt")
	enableVersioning(t, c, "ncbkt")
	for i := range 4 {
		putString(t, c, "ncbkt", "a", fmt.Sprint(i))
	}
	putString(t, c, "ncbkt", "b", "b")
	_, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("ncbkt"), Key: aws.String("b")})
	mustOK(t, "DeleteObject b", err)
	m := putString(t, c, "ncbkt", "m", "m")
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("ncbkt"), Key: aws.String("m")})
	mustOK(t, "DeleteObject m", err)
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("ncbkt"), Key: aws.String("m"), VersionId: m.VersionId})
	mustOK(t, "DeleteObject m's version", err) // m: a lone delete marker
	_, err = c.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: aws.String("ncbkt"),
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{
			{ID: aws.String("ncbkt"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("")},
				Expiration:                  &types.LifecycleExpiration{ExpiredObjectDeleteMarker: aws.Bool(true)},
				NoncurrentVersionExpiration: &types.NoncurrentVersionExpiration{NoncurrentDays: aws.Int32(1), NewerNoncurrentVersions: aws.Int32(1)}}}}})
	mustOK(t, "PutBucketLifecycleConfiguration", err)
	count := func() map[string]int {
		out, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("ncbkt")})
		mustOK(t, "ListObjectVersions", err)
		n := map[string]int{}
		for _, v := range out.Versions {
			n[aws.ToString(v.Key)]++
		}
		for _, d := range out.DeleteMarkers {
			n[aws.ToString(d.Key)]++
		}
		return n
	}
	now := time.Now()
	sc, err := s3frontend.NewLifecycleScanner(s3frontend.LifecycleConfig{Layer: e.layer, Day: time.Hour, Now: func() time.Time { return now }, Pause: -1})
	if err != nil {
		t.Fatal(err)
	}
	// Before a lifecycle day, only the lone marker goes.
	if expired, _, err := sc.Scan(ctx); err != nil || expired != 1 {
		t.Fatalf("first pass: expired %d, %v; want 1", expired, err)
	}
	if got := fmt.Sprint(count()); got != "map[a:4 b:2]" {
		t.Fatalf("after the first pass: %s", got)
	}
	now = now.Add(2 * time.Hour)
	if expired, _, err := sc.Scan(ctx); err != nil || expired != 2 {
		t.Fatalf("second pass: expired %d, %v; want 2", expired, err)
	}
	if got := fmt.Sprint(count()); got != "map[a:2 b:2]" {
		t.Fatalf("after the second pass: %s", got)
	}
	body, _ := getBytes(t, c, &s3.GetObjectInput{Bucket: aws.String("ncbkt"), Key: aws.String("a")})
	if string(body) != "3" {
		t.Fatalf("latest of a: %q", body)
	}
}
