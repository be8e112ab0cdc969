package s3frontend_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestSDKBuckets(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		c := e.sdk()
		for _, b := range []string{"beta", "alpha", "gamma.dots"} {
			_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)})
			mustOK(t, "CreateBucket "+b, err)
		}
		_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("alpha")})
		wantCode(t, "CreateBucket twice", err, "BucketAlreadyOwnedByYou")
		_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{
			Bucket:                    aws.String("located"),
			CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraintEuWest1},
		})
		wantCode(t, "CreateBucket in another region", err, "IllegalLocationConstraintException")
		_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{
			Bucket:                    aws.String("located"),
			CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraint(testRegion)},
		})
		mustOK(t, "CreateBucket with our region", err)
		for _, bad := range []string{"UPPER", "ab", "a_b", "-lead", "1.2.3.4", "xn--punycode", "dots..twice"} {
			_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bad)})
			wantCode(t, "CreateBucket "+bad, err, "InvalidBucketName")
		}

		out, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
		mustOK(t, "ListBuckets", err)
		var names []string
		for _, b := range out.Buckets {
			names = append(names, aws.ToString(b.Name))
			if b.CreationDate == nil || b.CreationDate.IsZero() {
				t.Errorf("bucket %s has no creation date", aws.ToString(b.Name))
			}
		}
		if want := []string{"alpha", "beta", "gamma.dots", "located"}; !equalStrings(names, want) {
			t.Fatalf("ListBuckets = %v, want %v", names, want)
		}
		if out.Owner == nil || aws.ToString(out.Owner.ID) == "" {
			t.Errorf("ListBuckets has no owner")
		}
		// Pagination and prefix.
		page, err := c.ListBuckets(ctx, &s3.ListBucketsInput{MaxBuckets: aws.Int32(2)})
		mustOK(t, "ListBuckets page 1", err)
		if len(page.Buckets) != 2 || page.ContinuationToken == nil {
			t.Fatalf("page 1: %d buckets, token %v", len(page.Buckets), page.ContinuationToken)
		}
		page2, err := c.ListBuckets(ctx, &s3.ListBucketsInput{MaxBuckets: aws.Int32(2), ContinuationToken: page.ContinuationToken})
		mustOK(t, "ListBuckets page 2", err)
		if len(page2.Buckets) != 2 || aws.ToString(page2.Buckets[0].Name) != "gamma.dots" || page2.ContinuationToken != nil {
			t.Fatalf("page 2: %+v", page2.Buckets)
		}
		pre, err := c.ListBuckets(ctx, &s3.ListBucketsInput{Prefix: aws.String("g")})
		mustOK(t, "ListBuckets prefix", err)
		if len(pre.Buckets) != 1 {
			t.Fatalf("prefix g: %d buckets", len(pre.Buckets))
		}

		_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("alpha")})
		mustOK(t, "HeadBucket", err)
		_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("nosuch")})
		wantCode(t, "HeadBucket missing", err, "NotFound")

		loc, err := c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("alpha")})
		mustOK(t, "GetBucketLocation", err)
		if loc.LocationConstraint != "" {
			t.Errorf("us-east-1 location = %q, want empty", loc.LocationConstraint)
		}
		_, err = c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("nosuch")})
		wantCode(t, "GetBucketLocation missing", err, "NoSuchBucket")

		putString(t, c, "beta", "k", "v")
		_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("beta")})
		wantCode(t, "DeleteBucket not empty", err, "BucketNotEmpty")
		_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("nosuch")})
		wantCode(t, "DeleteBucket missing", err, "NoSuchBucket")
		_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("alpha")})
		mustOK(t, "DeleteBucket", err)
		_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("alpha")})
		wantCode(t, "HeadBucket deleted", err, "NotFound")
		_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("alpha"), Key: aws.String("k")})
		wantCode(t, "PutObject into deleted bucket", err, "NoSuchBucket")
	})
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
