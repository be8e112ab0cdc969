package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestWritersDoNotBlockOtherFace writes a key through one face and, while that write is
// halfway, reads it through the other: a file streaming into the core from the mount does
// not hold up an S3 GET or HEAD of its key, and an S3 upload whose body is halfway does not
// hold up a stat or read of the file on the mount. Each reader sees the old content whole,
// then the new content once the write ends.
func TestWritersDoNotBlockOtherFace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root here")
	}
	mnt := t.TempDir()
	endpoint := startServer(t, "--mount", mnt)
	client := s3Client(endpoint)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("live")}); err != nil {
		t.Fatal(err)
	}
	old := bytes.Repeat([]byte("the old content "), 1<<16) // 1 MiB
	for _, k := range []string{"from-mount", "from-s3"} {
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("live"), Key: aws.String(k), Body: bytes.NewReader(old)}); err != nil {
			t.Fatal(err)
		}
	}
	fresh := make([]byte, 8<<20)
	for i := range fresh {
		fresh[i] = byte(i*31 + i>>12)
	}

	t.Run("mount writes, S3 reads", func(t *testing.T) {
		f, err := os.OpenFile(filepath.Join(mnt, "live", "from-mount"), os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		// Past the first MiB the mount streams the file into the core as it is written.
		if _, err := f.Write(fresh[:len(fresh)/2]); err != nil {
			t.Fatal(err)
		}
		c, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		if got := getObjectCtx(t, c, client, "live", "from-mount"); !bytes.Equal(got, old) {
			t.Fatalf("S3 GET while the mount writes: %d bytes, not the old %d", len(got), len(old))
		}
		head, err := client.HeadObject(c, &s3.HeadObjectInput{Bucket: aws.String("live"), Key: aws.String("from-mount")})
		if err != nil || aws.ToInt64(head.ContentLength) != int64(len(old)) {
			t.Fatalf("S3 HEAD while the mount writes: %v, length %d", err, aws.ToInt64(head.ContentLength))
		}
		if _, err := f.Write(fresh[len(fresh)/2:]); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if got := getObjectCtx(t, c, client, "live", "from-mount"); !bytes.Equal(got, fresh) {
			t.Fatalf("S3 GET after the mount's close: %d bytes, not the new %d", len(got), len(fresh))
		}
	})

	t.Run("S3 writes, mount reads", func(t *testing.T) {
		pr, pw := io.Pipe()
		defer pw.Close()
		req := signedPipePut(t, endpoint+"/live/from-s3", pr, int64(len(fresh)))
		answer := make(chan error, 1)
		go func() {
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("PUT answered %s", resp.Status)
				}
			}
			answer <- err
		}()
		// 4 MiB is more than the sockets hold: when the write returns, the server is
		// reading the body.
		if _, err := pw.Write(fresh[:len(fresh)/2]); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(mnt, "live", "from-s3")
		within(t, 15*time.Second, "stat and read on the mount while S3 uploads", func() error {
			st, err := os.Stat(p)
			if err != nil {
				return err
			}
			if st.Size() != int64(len(old)) {
				return fmt.Errorf("stat: size %d, want the old %d", st.Size(), len(old))
			}
			got, err := os.ReadFile(p)
			if err == nil && !bytes.Equal(got, old) {
				err = fmt.Errorf("read %d bytes, not the old %d", len(got), len(old))
			}
			return err
		})
		if _, err := pw.Write(fresh[len(fresh)/2:]); err != nil {
			t.Fatal(err)
		}
		pw.Close()
		if err := <-answer; err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, fresh) {
			t.Fatalf("read on the mount after the upload: %d bytes (%v), want the new %d", len(got), err, len(fresh))
		}
	})
}

// signedPipePut returns a PUT of size bytes read from body, signed for the test server's
// root user with an unsigned payload, so that the test sends the body when it likes.
func signedPipePut(t *testing.T, url string, body io.Reader, size int64) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = size
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	creds := aws.Credentials{AccessKeyID: "testadmin", SecretAccessKey: "test-secret-123"}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, "UNSIGNED-PAYLOAD", "s3", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	return req
}

// within runs op in its own goroutine and fails the test if it has not returned after d
// (a syscall on a FUSE mount cannot be abandoned; the goroutine ends when the server
// answers it).
func within(t *testing.T, d time.Duration, what string, op func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- op() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(d):
		t.Fatalf("%s: no answer after %v", what, d)
	}
}
