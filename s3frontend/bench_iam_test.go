package s3frontend_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httputil"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// BenchmarkGet4KiBIAM is BenchmarkGet4KiB signed by IAM users instead of root, on one
// keep-alive connection: "bucket" has a policy that covers the whole bucket (the cache
// keeps the decision itself), "prefix" one on home/${aws:username}/* (the cache keeps the
// statements, decided per key), "root" is the same request as root in the same run (the
// limit: no policy at all). It reports the decision cache's hit rate over the 100
// warm-up and the timed requests (the first request is the one miss).
func BenchmarkGet4KiBIAM(b *testing.B) {
	for _, run := range []struct{ name, doc string }{
		{"root", ""},
		{"bucket", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bench/*"}]}`},
		{"prefix", homePolicy},
	} {
		b.Run(run.name, func(b *testing.B) {
			e := startIAM(b, "epoll")
			ctx := context.Background()
			c := e.sdk()
			if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bench")}); err != nil {
				b.Fatal(err)
			}
			if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("team")}); err != nil {
				b.Fatal(err)
			}
			bucket, key := "bench", "4k"
			if run.name == "prefix" {
				bucket, key = "team", "home/alice/4k"
			}
			if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(make([]byte, 4096))}); err != nil {
				b.Fatal(err)
			}
			creds := aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey}
			if run.doc != "" {
				k, s := e.newUser(b, "alice", run.doc)
				creds = aws.Credentials{AccessKeyID: k, SecretAccessKey: s}
			}
			req, err := http.NewRequest("GET", e.url+"/"+bucket+"/"+key, nil)
			if err != nil {
				b.Fatal(err)
			}
			const empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
			req.Header.Set("X-Amz-Content-Sha256", empty)
			if err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).SignHTTP(ctx, creds, req, empty, "s3", testRegion, time.Now()); err != nil {
				b.Fatal(err)
			}
			raw, err := httputil.DumpRequestOut(req, false)
			if err != nil {
				b.Fatal(err)
			}
			h0, m0 := e.handler.Authorizer().Stats()
			runRaw(b, newRawClient(b, e.addr, raw))
			h1, m1 := e.handler.Authorizer().Stats()
			if run.doc != "" {
				b.ReportMetric(100*float64(h1-h0)/float64(h1-h0+m1-m0), "hit%")
			}
		})
	}
}
