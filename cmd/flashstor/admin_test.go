package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// admin runs "flashstor admin ARGS" against endpoint as the test server's root and
// returns what it printed.
func adminRun(t *testing.T, endpoint string, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := run(context.Background(), append([]string{"admin", "--endpoint", endpoint}, args...), &out, &errOut); err != nil {
		t.Fatalf("admin %v: %v\n%s", args, err, errOut.String())
	}
	return out.String()
}

// TestAdminCLI: users, keys, policies and groups made with "flashstor admin" work at once
// with an S3 client, survive a restart of the server (they live in the drives' system
// area, sealed), and a changed root password is refused until the old one is given.
func TestAdminCLI(t *testing.T) {
	dir := t.TempDir()
	srv := startServerLogged(t, dir)
	ctx := context.Background()
	pol := filepath.Join(t.TempDir(), "reports.json")
	if err := os.WriteFile(pol, []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::reports/*"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	adminRun(t, srv.endpoint, "user", "add", "backup")
	adminRun(t, srv.endpoint, "policy", "add", "reports-rw", pol)
	adminRun(t, srv.endpoint, "group", "add", "jobs")
	adminRun(t, srv.endpoint, "group", "attach", "jobs", "reports-rw")
	adminRun(t, srv.endpoint, "group", "add-user", "jobs", "backup")
	out := adminRun(t, srv.endpoint, "user", "key", "add", "backup")
	m := regexp.MustCompile(`(AKIA[A-Z2-7]{16})\s+(\S{40})`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("user key add printed no key:\n%s", out)
	}
	key, secret := m[1], m[2]
	list := adminRun(t, srv.endpoint, "user", "list")
	if !strings.Contains(list, "NAME") || !strings.Contains(list, "backup") || !strings.Contains(list, ":user/backup") {
		t.Fatalf("user list:\n%s", list)
	}
	if info := adminRun(t, srv.endpoint, "group", "info", "jobs"); !strings.Contains(info, "backup") || !strings.Contains(info, "reports-rw") {
		t.Fatalf("group info:\n%s", info)
	}
	if show := adminRun(t, srv.endpoint, "policy", "show", "reports-rw"); !strings.Contains(show, `"Resource":"arn:aws:s3:::reports/*"`) {
		t.Fatalf("policy show:\n%s", show)
	}
	root := s3.New(s3.Options{BaseEndpoint: aws.String(srv.endpoint), Region: "us-east-1", UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("testadmin", "test-secret-123", "")})
	if _, err := root.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("reports")}); err != nil {
		t.Fatal(err)
	}
	job := func(endpoint string) *s3.Client {
		return s3.New(s3.Options{BaseEndpoint: aws.String(endpoint), Region: "us-east-1", UsePathStyle: true, RetryMaxAttempts: 1,
			Credentials: credentials.NewStaticCredentialsProvider(key, secret, "")})
	}
	if _, err := job(srv.endpoint).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("reports"), Key: aws.String("day1"), Body: strings.NewReader("ok")}); err != nil {
		t.Fatalf("the backup user's write: %v", err)
	}
	if _, err := job(srv.endpoint).DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("reports"), Key: aws.String("day1")}); err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Fatalf("the backup user's delete: %v", err)
	}

	// Restart: the identities come back from the drives.
	srv.stop()
	srv = startServerLogged(t, dir)
	if _, err := job(srv.endpoint).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("reports"), Key: aws.String("day1")}); err != nil {
		t.Fatalf("the backup user's read after a restart: %v", err)
	}
	keys := adminRun(t, srv.endpoint, "user", "key", "list", "backup")
	if !strings.Contains(keys, key) || !strings.Contains(keys, "Active") || strings.Contains(keys, secret) {
		t.Fatalf("user key list:\n%s", keys)
	}
	for _, d := range []string{"d1", "d2", "d3", "d4"} {
		b, err := os.ReadFile(filepath.Join(dir, d, ".flashstor.sys", "system", "iam", "config"))
		if err != nil {
			t.Fatalf("the identities' record on %s: %v", d, err)
		}
		if bytes.Contains(b, []byte(secret)) {
			t.Fatalf("the secret is in the clear on %s", d)
		}
	}
	srv.stop()

	// Another root password: refused, until the old one reseals.
	var out2, errOut bytes.Buffer
	t.Setenv("FLASHSTORE_ROOT_USER", "testadmin")
	t.Setenv("FLASHSTORE_ROOT_PASSWORD", "another-secret-456")
	err := run(ctx, []string{"server", "--address", "127.0.0.1:0", filepath.Join(dir, "d{1...4}")}, &out2, &errOut)
	if err == nil || !strings.Contains(err.Error(), "FLASHSTORE_PREVIOUS_ROOT_PASSWORD") {
		t.Fatalf("server under another root password: %v", err)
	}
	t.Setenv("FLASHSTORE_PREVIOUS_ROOT_PASSWORD", "test-secret-123")
	srv = startServerAs(t, "testadmin", "another-secret-456", dir)
	if _, err := job(srv.endpoint).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("reports"), Key: aws.String("day1")}); err != nil {
		t.Fatalf("the backup user's read after the root password changed: %v", err)
	}
}
