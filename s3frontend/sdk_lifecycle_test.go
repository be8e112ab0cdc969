package s3frontend_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestSDKLifecycle stores, reads back and deletes a lifecycle configuration with every
// filter and action kind, and refuses what S3 refuses with S3's codes.
func TestSDKLifecycle(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		c := e.sdk()
		mkbucket(t, c, "life")
		get := func() (*s3.GetBucketLifecycleConfigurationOutput, error) {
			return c.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: aws.String("life")})
		}
		_, err := get()
		wantCode(t, "GetBucketLifecycleConfiguration without one", err, "NoSuchLifecycleConfiguration")
		date := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
		rules := []types.LifecycleRule{
			{ID: aws.String("logs"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("logs/")},
				Expiration: &types.LifecycleExpiration{Days: aws.Int32(30)}},
			{ID: aws.String("tagged"), Status: types.ExpirationStatusEnabled,
				Filter: &types.LifecycleRuleFilter{And: &types.LifecycleRuleAndOperator{Prefix: aws.String("tmp/"),
					Tags: []types.Tag{{Key: aws.String("class"), Value: aws.String("scratch")}}, ObjectSizeGreaterThan: aws.Int64(1024)}},
				Expiration: &types.LifecycleExpiration{Date: &date}, NoncurrentVersionExpiration: &types.NoncurrentVersionExpiration{NoncurrentDays: aws.Int32(7)}},
			{ID: aws.String("uploads"), Status: types.ExpirationStatusDisabled, Filter: &types.LifecycleRuleFilter{},
				AbortIncompleteMultipartUpload: &types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(2)}},
		}
		_, err = c.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: aws.String("life"),
			LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: rules}})
		mustOK(t, "PutBucketLifecycleConfiguration", err)
		out, err := get()
		mustOK(t, "GetBucketLifecycleConfiguration", err)
		if len(out.Rules) != 3 || aws.ToString(out.Rules[0].Filter.Prefix) != "logs/" || aws.ToInt32(out.Rules[0].Expiration.Days) != 30 ||
			!out.Rules[1].Expiration.Date.Equal(date) || aws.ToString(out.Rules[1].Filter.And.Tags[0].Value) != "scratch" ||
			aws.ToInt32(out.Rules[2].AbortIncompleteMultipartUpload.DaysAfterInitiation) != 2 || out.Rules[2].Status != types.ExpirationStatusDisabled {
			t.Fatalf("rules read back: %+v", out.Rules)
		}

		const (
			open  = `<LifecycleConfiguration><Rule><ID>r</ID><Status>Enabled</Status>`
			close = `</Rule></LifecycleConfiguration>`
		)
		for _, tc := range []struct{ name, doc, code string }{
			{"no rule", `<LifecycleConfiguration/>`, "MalformedXML"},
			{"no action", open + `<Filter><Prefix>a</Prefix></Filter>` + close, "InvalidRequest"},
			{"zero days", open + `<Filter/><Expiration><Days>0</Days></Expiration>` + close, "InvalidArgument"},
			{"date not at midnight", open + `<Filter/><Expiration><Date>2027-01-01T12:00:00Z</Date></Expiration>` + close, "InvalidArgument"},
			{"bad status", `<LifecycleConfiguration><Rule><Status>enabled</Status><Filter/><Expiration><Days>1</Days></Expiration>` + close, "MalformedXML"},
			{"abort with a tag filter", open + `<Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter><AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload>` + close, "InvalidRequest"},
			{"transition", open + `<Filter/><Transition><Days>30</Days><StorageClass>GLACIER</StorageClass></Transition>` + close, "NotImplemented"},
			{"same id twice", open + `<Filter/><Expiration><Days>1</Days></Expiration></Rule><Rule><ID>r</ID><Status>Enabled</Status><Filter/><Expiration><Days>2</Days></Expiration>` + close, "InvalidArgument"},
			{"not XML", `<LifecycleConfiguration>`, "MalformedXML"},
		} {
			r := e.do(newRequest(t, "PUT", e.url+"/life?lifecycle", []byte(tc.doc)), true)
			if r.err.Code != tc.code {
				t.Errorf("%s: %d %s (%s), want %s", tc.name, r.status, r.err.Code, r.err.Message, tc.code)
			}
		}
		if out, err := get(); err != nil || len(out.Rules) != 3 {
			t.Fatalf("a refused configuration replaced the stored one: %v", err)
		}
		_, err = c.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: aws.String("nobucket")})
		wantCode(t, "GetBucketLifecycleConfiguration of a missing bucket", err, "NoSuchBucket")
		_, err = c.DeleteBucketLifecycle(ctx, &s3.DeleteBucketLifecycleInput{Bucket: aws.String("life")})
		mustOK(t, "DeleteBucketLifecycle", err)
		_, err = get()
		wantCode(t, "GetBucketLifecycleConfiguration after delete", err, "NoSuchLifecycleConfiguration")
	})
}

// TestCLILifecycle sets and reads a lifecycle configuration with the aws CLI.
func TestCLILifecycle(t *testing.T) {
	e := start(t, "epoll")
	run, try := awsCLI(t, e)
	run("s3api", "create-bucket", "--bucket", "cli-life")
	file := filepath.Join(t.TempDir(), "life.json")
	writeFile(t, file, `{"Rules":[{"ID":"tmp","Status":"Enabled","Filter":{"Prefix":"tmp/"},"Expiration":{"Days":1},`+
		`"AbortIncompleteMultipartUpload":{"DaysAfterInitiation":1}}]}`)
	run("s3api", "put-bucket-lifecycle-configuration", "--bucket", "cli-life", "--lifecycle-configuration", "file://"+file)
	if out := run("s3api", "get-bucket-lifecycle-configuration", "--bucket", "cli-life"); !strings.Contains(out, `"tmp/"`) || !strings.Contains(out, `"DaysAfterInitiation": 1`) {
		t.Fatalf("get-bucket-lifecycle-configuration: %s", out)
	}
	writeFile(t, file, `{"Rules":[{"ID":"tmp","Status":"Enabled","Filter":{"Prefix":"tmp/"},"Expiration":{"Days":0}}]}`)
	if _, errOut, ok := try("s3api", "put-bucket-lifecycle-configuration", "--bucket", "cli-life", "--lifecycle-configuration", "file://"+file); ok || !strings.Contains(errOut, "InvalidArgument") {
		t.Fatalf("Days 0: ok %v, %s", ok, errOut)
	}
	run("s3api", "delete-bucket-lifecycle", "--bucket", "cli-life")
}
