package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/flashstor/flashstor/internal/metrics"
	"github.com/flashstor/flashstor/objstore/storage"
)

// TestServerExpiresIncompleteUploads leaves 200 multipart uploads with parts unfinished on a
// server with a short expiry: ListMultipartUploads goes empty, the part files leave the
// drives, the metric counts 200, the log says so, and a completion finds no upload.
func TestServerExpiresIncompleteUploads(t *testing.T) {
	const uploads = 200
	dir := t.TempDir()
	srv := startServerLogged(t, dir, "--multipart-expiry", "3s", "--multipart-expiry-interval", "200ms")
	endpoint, logs := srv.endpoint, srv.stderr
	client := s3.New(s3.Options{BaseEndpoint: aws.String(endpoint), Region: "us-east-1", UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("testadmin", "test-secret-123", "")})
	ctx := context.Background()
	bucket := aws.String("unfinished")
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket}); err != nil {
		t.Fatal(err)
	}

	ids := make([]startedUpload, uploads)
	errs := make([]error, uploads)
	var wg sync.WaitGroup
	work := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range work {
				ids[i], errs[i] = startUploadWithParts(ctx, client, bucket, fmt.Sprintf("dir/%03d", i))
			}
		})
	}
	for i := range uploads {
		work <- i
	}
	close(work)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}

	deadline := time.Now().Add(2 * time.Minute)
	for {
		out, err := client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: bucket})
		if err != nil {
			t.Fatal(err)
		}
		files := multipartFiles(t, dir)
		expired := scrapeCounter(t, endpoint, "flashstor_storage_multipart_uploads_expired_total")
		if len(out.Uploads) == 0 && files == 0 && expired == uploads {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after two minutes: %d uploads listed, %d files under multipart/, %d counted expired",
				len(out.Uploads), files, expired)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "expired incomplete multipart uploads") {
		t.Errorf("no log line about the expiry in:\n%s", logs.String())
	}
	_, err := client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: bucket, Key: aws.String(ids[0].key), UploadId: aws.String(ids[0].id),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: aws.String(`"x"`)}}},
	})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "NoSuchUpload" {
		t.Fatalf("completing an expired upload: %v, want NoSuchUpload", err)
	}
}

// TestMultipartExpiryFlags checks the flags' defaults, that 0 turns the expiry off, and
// that a negative age or a non-positive interval is refused.
func TestMultipartExpiryFlags(t *testing.T) {
	for _, tc := range []struct {
		args       []string
		age, every time.Duration
		wantErr    bool
	}{
		{nil, 24 * time.Hour, time.Hour, false},
		{[]string{"--multipart-expiry", "0"}, -1, time.Hour, false},
		{[]string{"--multipart-expiry", "2h", "--multipart-expiry-interval", "5m"}, 2 * time.Hour, 5 * time.Minute, false},
		{[]string{"--multipart-expiry", "-1s"}, 0, 0, true},
		{[]string{"--multipart-expiry-interval", "0"}, 0, 0, true},
	} {
		cfg, err := parseServerFlags(append(tc.args, "/d"), io.Discard)
		if tc.wantErr {
			if err == nil {
				t.Errorf("%v: accepted", tc.args)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		o := uploadExpiry(cfg, metrics.New())
		if o.Age != tc.age || o.Interval != tc.every {
			t.Errorf("%v: age %v, interval %v; want %v, %v", tc.args, o.Age, o.Interval, tc.age, tc.every)
		}
	}
}

// startedUpload names an upload a test started.
type startedUpload struct{ key, id string }

// startUploadWithParts starts an upload of key and uploads two small parts to it.
func startUploadWithParts(ctx context.Context, client *s3.Client, bucket *string, key string) (startedUpload, error) {
	up, err := client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: bucket, Key: aws.String(key)})
	if err != nil {
		return startedUpload{}, err
	}
	for part := int32(1); part <= 2; part++ {
		_, err := client.UploadPart(ctx, &s3.UploadPartInput{Bucket: bucket, Key: aws.String(key), UploadId: up.UploadId,
			PartNumber: aws.Int32(part), Body: bytes.NewReader(bytes.Repeat([]byte{byte(part)}, 16<<10))})
		if err != nil {
			return startedUpload{}, fmt.Errorf("part %d of %s: %w", part, key, err)
		}
	}
	return startedUpload{key, *up.UploadId}, nil
}

// multipartFiles counts the files under the multipart directory of the drives dir/d1 to
// dir/d4.
func multipartFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	for i := 1; i <= 4; i++ {
		root := filepath.Join(dir, fmt.Sprintf("d%d", i), storage.SysVolume, "multipart")
		err := filepath.WalkDir(root, func(_ string, e fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err == nil && !e.IsDir() {
				n++
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// scrapeCounter reads an unlabelled counter from the server's /metrics.
func scrapeCounter(t *testing.T, endpoint, name string) int {
	t.Helper()
	resp, err := http.Get(endpoint + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("/metrics has no %s", name)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return int(v)
}
