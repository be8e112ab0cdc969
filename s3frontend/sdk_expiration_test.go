package s3frontend_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"
)

// TestSDKExpirationHeader: GET and HEAD send x-amz-expiration from the bucket's enabled
// Expiration rules whose filter (prefix, tags, size) matches the object, the earliest one
// when several do, days counted from the modification time and rounded up to the next
// midnight UTC; a disabled rule, a noncurrent version and a bucket without rules get none,
// and a changed or deleted configuration shows at the next read.
func TestSDKExpirationHeader(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		c := e.sdk()
		mkbucket(t, c, "exp")
		date := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
		setRules := func(rules ...types.LifecycleRule) {
			t.Helper()
			_, err := c.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: aws.String("exp"),
				LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: rules}})
			mustOK(t, "PutBucketLifecycleConfiguration", err)
		}
		logs30 := types.LifecycleRule{ID: aws.String("logs30"), Status: types.ExpirationStatusEnabled,
			Filter: &types.LifecycleRuleFilter{Prefix: aws.String("logs/")}, Expiration: &types.LifecycleExpiration{Days: aws.Int32(30)}}
		logs2 := types.LifecycleRule{ID: aws.String("logs2"), Status: types.ExpirationStatusEnabled,
			Filter: &types.LifecycleRuleFilter{Prefix: aws.String("logs/")}, Expiration: &types.LifecycleExpiration{Days: aws.Int32(2)}}
		off := types.LifecycleRule{ID: aws.String("off"), Status: types.ExpirationStatusDisabled,
			Filter: &types.LifecycleRuleFilter{}, Expiration: &types.LifecycleExpiration{Days: aws.Int32(1)}}
		big := types.LifecycleRule{ID: aws.String("big-scratch"), Status: types.ExpirationStatusEnabled,
			Filter: &types.LifecycleRuleFilter{And: &types.LifecycleRuleAndOperator{Prefix: aws.String("tmp/"),
				Tags: []types.Tag{{Key: aws.String("class"), Value: aws.String("scratch")}}, ObjectSizeGreaterThan: aws.Int64(1024)}},
			Expiration: &types.LifecycleExpiration{Date: &date}}
		abort := types.LifecycleRule{ID: aws.String("uploads"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{},
			AbortIncompleteMultipartUpload: &types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(1)}}

		putObj := func(key string, size int, tagging string) {
			t.Helper()
			in := &s3.PutObjectInput{Bucket: aws.String("exp"), Key: aws.String(key), Body: strings.NewReader(strings.Repeat("x", size))}
			if tagging != "" {
				in.Tagging = aws.String(tagging)
			}
			_, err := c.PutObject(ctx, in)
			mustOK(t, "PutObject "+key, err)
		}
		putObj("logs/a", 10, "")
		putObj("tmp/big", 2000, "class=scratch&other=1")
		putObj("tmp/small", 100, "class=scratch")
		putObj("tmp/untagged", 2000, "")
		putObj("other", 10, "")

		// want returns the header S3 sends for an object modified at mod that a rule of
		// days days expires ("" rule: none).
		want := func(key, rule string, days int, at time.Time) string {
			t.Helper()
			if rule == "" {
				return ""
			}
			if days > 0 {
				head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("exp"), Key: aws.String(key)})
				mustOK(t, "HeadObject "+key, err)
				at = head.LastModified.UTC().AddDate(0, 0, days).Truncate(24 * time.Hour).Add(24 * time.Hour)
			}
			return fmt.Sprintf(`expiry-date="%s", rule-id="%s"`, at.Format(http.TimeFormat), rule)
		}
		check := func(stage, key, wantHdr string) {
			t.Helper()
			head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("exp"), Key: aws.String(key)})
			mustOK(t, "HeadObject "+key, err)
			if got := aws.ToString(head.Expiration); got != wantHdr {
				t.Errorf("%s: HEAD %s: Expiration %q, want %q", stage, key, got, wantHdr)
			}
			out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("exp"), Key: aws.String(key)})
			mustOK(t, "GetObject "+key, err)
			out.Body.Close()
			if got := aws.ToString(out.Expiration); got != wantHdr {
				t.Errorf("%s: GET %s: Expiration %q, want %q", stage, key, got, wantHdr)
			}
		}

		check("no configuration", "logs/a", "")
		setRules(logs30, off, big, abort)
		check("rules", "logs/a", want("logs/a", "logs30", 30, time.Time{}))
		check("rules", "tmp/big", want("", "big-scratch", 0, date))
		check("rules", "tmp/small", "")    // size filter
		check("rules", "tmp/untagged", "") // tag filter
		check("rules", "other", "")        // only the disabled rule and the abort rule match
		// minio-go parses the header into its own fields.
		st, err := e.minio().StatObject(ctx, "exp", "tmp/big", minio.StatObjectOptions{})
		mustOK(t, "minio StatObject", err)
		if !st.Expiration.Equal(date) || st.ExpirationRuleID != "big-scratch" {
			t.Errorf("minio-go: Expiration %v rule %q, want %v big-scratch", st.Expiration, st.ExpirationRuleID, date)
		}

		setRules(logs30, logs2)
		check("two rules", "logs/a", want("logs/a", "logs2", 2, time.Time{}))

		// A noncurrent version has no x-amz-expiration (Expiration acts on current ones).
		_, err = c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("exp"),
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}})
		mustOK(t, "PutBucketVersioning", err)
		first, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("exp"), Key: aws.String("logs/v"), Body: strings.NewReader("1")})
		mustOK(t, "PutObject logs/v", err)
		putObj("logs/v", 2, "")
		old, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("exp"), Key: aws.String("logs/v"), VersionId: first.VersionId})
		mustOK(t, "HeadObject of the noncurrent version", err)
		if old.Expiration != nil {
			t.Errorf("noncurrent version: Expiration %q, want none", *old.Expiration)
		}
		check("versioned", "logs/v", want("logs/v", "logs2", 2, time.Time{}))

		_, err = c.DeleteBucketLifecycle(ctx, &s3.DeleteBucketLifecycleInput{Bucket: aws.String("exp")})
		mustOK(t, "DeleteBucketLifecycle", err)
		check("deleted configuration", "logs/a", "")
	})
}
