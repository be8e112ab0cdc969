package s3frontend_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/flashstor/flashstor/s3frontend"
)

// TestLifecycleScanner applies a configuration set through the S3 API with a scanner whose
// clock the test moves: expiration by days (prefix, tag and size filters), by date, a
// disabled rule, the abort of old uploads, and the bound on actions per pass.
func TestLifecycleScanner(t *testing.T) {
	e := start(t, "epoll")
	ctx := context.Background()
	c := e.sdk()
	mkbucket(t, c, "scan")
	put := func(key, tags string, size int) {
		t.Helper()
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("scan"), Key: aws.String(key), Body: stringsReader(string(make([]byte, size))), Tagging: aws.String(tags)})
		mustOK(t, "PutObject "+key, err)
	}
	put("logs/a", "", 1)
	put("logs/b", "", 1)
	put("tmp/tagged", "class=scratch", 1)
	put("tmp/untagged", "", 1)
	put("tmp/big", "class=scratch", 5000)
	put("keep/c", "", 1)
	put("dated/d", "", 1)
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("scan"), Key: aws.String("up/x")})
	mustOK(t, "CreateMultipartUpload", err)
	past := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	_, err = c.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: aws.String("scan"),
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{
			{ID: aws.String("logs"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("logs/")},
				Expiration: &types.LifecycleExpiration{Days: aws.Int32(1)}},
			{ID: aws.String("scratch"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{And: &types.LifecycleRuleAndOperator{
				Prefix: aws.String("tmp/"), Tags: []types.Tag{{Key: aws.String("class"), Value: aws.String("scratch")}}, ObjectSizeLessThan: aws.Int64(1000)}},
				Expiration: &types.LifecycleExpiration{Days: aws.Int32(2)}},
			{ID: aws.String("off"), Status: types.ExpirationStatusDisabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("keep/")},
				Expiration: &types.LifecycleExpiration{Days: aws.Int32(1)}},
			{ID: aws.String("dated"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("dated/")},
				Expiration: &types.LifecycleExpiration{Date: &past}},
			{ID: aws.String("uploads"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("up/")},
				AbortIncompleteMultipartUpload: &types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(1)}},
		}}})
	mustOK(t, "PutBucketLifecycleConfiguration", err)

	start := time.Now()
	now := start
	sc, err := s3frontend.NewLifecycleScanner(s3frontend.LifecycleConfig{Layer: e.layer, Day: time.Hour, Now: func() time.Time { return now }, Pause: -1})
	if err != nil {
		t.Fatal(err)
	}
	exists := func(key string) bool {
		_, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("scan"), Key: aws.String(key)})
		if err == nil {
			return true
		}
		wantStatus(t, err, http.StatusNotFound)
		return false
	}
	scan := func(at time.Duration, wantExpired, wantAborted int, gone, kept []string) {
		t.Helper()
		now = start.Add(at)
		expired, aborted, err := sc.Scan(ctx)
		if err != nil || expired != wantExpired || aborted != wantAborted {
			t.Fatalf("pass at +%v: expired %d, aborted %d, %v; want %d, %d", at, expired, aborted, err, wantExpired, wantAborted)
		}
		for _, k := range gone {
			if exists(k) {
				t.Fatalf("pass at +%v: %s still there", at, k)
			}
		}
		for _, k := range kept {
			if !exists(k) {
				t.Fatalf("pass at +%v: %s expired", at, k)
			}
		}
	}
	all := []string{"logs/a", "logs/b", "tmp/tagged", "tmp/untagged", "tmp/big", "keep/c"}
	scan(0, 1, 0, []string{"dated/d"}, all)
	scan(time.Hour+time.Second, 2, 1, []string{"logs/a", "logs/b"}, all[2:])
	_, err = c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("scan"), Key: aws.String("up/x"), UploadId: up.UploadId})
	wantCode(t, "ListParts of an aborted upload", err, "NoSuchUpload")
	scan(2*time.Hour+time.Second, 1, 0, []string{"tmp/tagged"}, all[3:])
	scan(100*time.Hour, 0, 0, nil, all[3:])

	// The bound: three objects due, one action a pass.
	for _, k := range []string{"logs/1", "logs/2", "logs/3"} {
		put(k, "", 1)
	}
	bounded, err := s3frontend.NewLifecycleScanner(s3frontend.LifecycleConfig{Layer: e.layer, Day: time.Hour, MaxActions: 1, Pause: -1,
		Now: func() time.Time { return time.Now().Add(2 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		if expired, _, err := bounded.Scan(ctx); err != nil || expired != 1 {
			t.Fatalf("bounded pass %d: expired %d, %v", i, expired, err)
		}
	}
	if expired, _, err := bounded.Scan(ctx); err != nil || expired != 0 {
		t.Fatalf("bounded pass after all: expired %d, %v", expired, err)
	}
}
