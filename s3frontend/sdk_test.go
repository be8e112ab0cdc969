package s3frontend_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// wantCode checks that err is an S3 API error with the given code.
func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("%s: got %v, want S3 error %s", what, err, code)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("%s: got code %s (%v), want %s", what, ae.ErrorCode(), err, code)
	}
}

func mustOK(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func TestSDKSmoke(t *testing.T) {
	eachTransport(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		c := e.sdk()
		_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("smoke")})
		mustOK(t, "CreateBucket", err)
		data := bytes.Repeat([]byte("flashstor"), 1000)
		_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("smoke"), Key: aws.String("a/b.txt"), Body: bytes.NewReader(data)})
		mustOK(t, "PutObject", err)
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("smoke"), Key: aws.String("a/b.txt")})
		mustOK(t, "GetObject", err)
		got, err := io.ReadAll(out.Body)
		out.Body.Close()
		mustOK(t, "read body", err)
		if !bytes.Equal(got, data) {
			t.Fatalf("GetObject returned %d bytes, want %d", len(got), len(data))
		}
		_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("smoke"), Key: aws.String("missing")})
		wantCode(t, "GetObject missing", err, "NoSuchKey")
	})
}

// putString stores a small object.
func putString(t *testing.T, c *s3.Client, bucket, key, body string) *s3.PutObjectOutput {
	t.Helper()
	out, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader([]byte(body))})
	mustOK(t, "PutObject "+key, err)
	return out
}

// getBytes reads an object whole.
func getBytes(t *testing.T, c *s3.Client, in *s3.GetObjectInput) ([]byte, *s3.GetObjectOutput) {
	t.Helper()
	out, err := c.GetObject(context.Background(), in)
	mustOK(t, "GetObject "+aws.ToString(in.Key), err)
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	mustOK(t, "reading "+aws.ToString(in.Key), err)
	return b, out
}

// mkbucket creates a bucket.
func mkbucket(t *testing.T, c *s3.Client, name string) {
	t.Helper()
	_, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)})
	mustOK(t, "CreateBucket "+name, err)
}

func stringsReader(s string) io.Reader { return bytes.NewReader([]byte(s)) }

// md5b64 returns the Content-MD5 of s.
func md5b64(s string) string {
	sum := md5.Sum([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
}
