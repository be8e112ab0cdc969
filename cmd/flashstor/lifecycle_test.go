package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// TestServerAppliesLifecycle: with a lifecycle day of one second
// (FLASHSTORE_LIFECYCLE_DAY), the server's scanner expires the objects a rule of one day
// covers and keeps the others.
func TestServerAppliesLifecycle(t *testing.T) {
	t.Setenv("FLASHSTORE_LIFECYCLE_DAY", "1s")
	srv := startServerLogged(t, t.TempDir(), "--lifecycle-interval", "200ms")
	client := s3.New(s3.Options{BaseEndpoint: aws.String(srv.endpoint), Region: "us-east-1", UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("testadmin", "test-secret-123", "")})
	ctx := context.Background()
	bucket := aws.String("ephemeral")
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"tmp/a", "tmp/b", "keep/c"} {
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String(k), Body: strings.NewReader(k)}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := client.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: bucket,
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{{ID: aws.String("tmp"),
			Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("tmp/")},
			Expiration: &types.LifecycleExpiration{Days: aws.Int32(1)}}}}})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		out, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: bucket})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Contents) == 1 {
			if k := aws.ToString(out.Contents[0].Key); k != "keep/c" {
				t.Fatalf("left %s, want keep/c", k)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a minute of one-second days: %d objects left", len(out.Contents))
		}
		time.Sleep(100 * time.Millisecond)
	}
	_, err = client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bucket, Key: aws.String("tmp/a")})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "NotFound" {
		t.Fatalf("HEAD of an expired object: %v", err)
	}
	if !strings.Contains(srv.stderr.String(), "lifecycle pass") {
		t.Errorf("no log line about the lifecycle pass in:\n%s", srv.stderr.String())
	}
}
