package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestServerKeepsEnvironmentSecretsOut: a root secret given in FLASHSTORE_ROOT_PASSWORD (and
// the metrics token of FLASHSTORE_METRICS_AUTH) never reaches stdout, stderr, the audit log
// or /metrics, whatever the requests: successful ones, a wrong secret, an anonymous one, a
// malformed body. The demo pair, which the server makes up itself, is still printed.
func TestServerKeepsEnvironmentSecretsOut(t *testing.T) {
	const secret, token = "env-secret-5f3a9c", "scrape-token-77d1e0"
	t.Setenv("FLASHSTORE_METRICS_AUTH", token)
	dir := t.TempDir()
	auditPath := filepath.Join(dir, "audit.log")
	srv := startServerAs(t, "envadmin", secret, dir, "--audit-file", auditPath)
	ctx := context.Background()
	client := func(secret string) *s3.Client {
		return s3.New(s3.Options{BaseEndpoint: aws.String(srv.endpoint), Region: "us-east-1", UsePathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider("envadmin", secret, ""), RetryMaxAttempts: 1})
	}
	good := client(secret)
	if _, err := good.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("sec")}); err != nil {
		t.Fatal(err)
	}
	if _, err := good.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sec"), Key: aws.String("k"), Body: strings.NewReader("data")}); err != nil {
		t.Fatal(err)
	}
	if _, err := client("wrong-secret-123").ListBuckets(ctx, &s3.ListBucketsInput{}); err == nil {
		t.Fatal("a wrong secret was accepted")
	}
	if resp, err := http.Get(srv.endpoint + "/sec/k"); err == nil {
		resp.Body.Close()
	}
	metrics := scrapeText(t, srv.endpoint+"/metrics", token)
	srv.stop() // the audit records and every line of output are written by now

	audit, err := os.ReadFile(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{"stdout": srv.stdout.String(), "stderr": srv.stderr.String(), "audit log": string(audit), "/metrics": metrics}
	for name, text := range outputs {
		for _, s := range []string{secret, token} {
			if strings.Contains(text, s) {
				t.Errorf("%s contains the secret %q:\n%s", name, s, text)
			}
		}
	}
	// The outputs were really read: each shows what it should.
	if !strings.Contains(outputs["stdout"], "Access key:   envadmin") {
		t.Errorf("stdout has no access key line:\n%s", outputs["stdout"])
	}
	if strings.Count(outputs["audit log"], "\n") < 4 || !strings.Contains(outputs["audit log"], `"SignatureDoesNotMatch"`) {
		t.Errorf("audit log:\n%s", outputs["audit log"])
	}
	if !strings.Contains(metrics, "flashstor_s3_requests_total") {
		t.Errorf("/metrics:\n%s", metrics)
	}

	demo := startServerAs(t, "", "", t.TempDir())
	demo.stop()
	if out := demo.stdout.String(); !strings.Contains(out, "Secret key:   "+demoPassword) {
		t.Errorf("the demo secret is not shown:\n%s", out)
	}
}

// scrapeText returns the text of a /metrics scrape with a bearer token ("" for none).
func scrapeText(t *testing.T, url, token string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d, %v", resp.StatusCode, err)
	}
	return string(b)
}
