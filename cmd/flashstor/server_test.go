package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// startServer runs "flashstor server" in-process on a loopback port and returns its
// endpoint; the server is stopped (as by SIGTERM) when the test ends.
func startServer(t *testing.T, extra ...string) string {
	t.Helper()
	return startServerOn(t, t.TempDir(), extra...)
}

// startServerOn is startServer on the drives dir/d1 to dir/d4.
func startServerOn(t *testing.T, dir string, extra ...string) string {
	t.Helper()
	return startServerLogged(t, dir, extra...).endpoint
}

// runningServer is a "flashstor server" started by startServerLogged.
type runningServer struct {
	endpoint string
	// stdout and stderr are everything the server printed and logged so far.
	stdout, stderr *lockedBuffer
	// stop ends the server (as SIGTERM does) and waits for it; later calls do nothing.
	stop func()
}

// startServerLogged is startServerOn that also keeps the server's output and lets the test
// stop it before the test ends (its stop runs at the end of the test anyway).
func startServerLogged(t *testing.T, dir string, extra ...string) *runningServer {
	t.Helper()
	return startServerAs(t, "testadmin", "test-secret-123", dir, extra...)
}

// startServerAs is startServerLogged with the root credentials user and secret in the
// environment (both empty: the demo pair).
func startServerAs(t testing.TB, user, secret, dir string, extra ...string) *runningServer {
	t.Helper()
	srv := &runningServer{stdout: &lockedBuffer{}, stderr: &lockedBuffer{}}
	t.Setenv("FLASHSTORE_ROOT_USER", user)
	t.Setenv("FLASHSTORE_ROOT_PASSWORD", secret)
	ctx, cancel := context.WithCancel(context.Background())
	args := append([]string{"server", "--address", "127.0.0.1:0"}, extra...)
	args = append(args, filepath.Join(dir, "d{1...4}"))
	done := make(chan struct{})
	var runErr error // set before done is closed
	go func() {
		defer close(done)
		runErr = run(ctx, args, srv.stdout, srv.stderr)
	}()
	var once sync.Once
	srv.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
				if runErr != nil {
					t.Errorf("server: %v", runErr)
				}
			case <-time.After(time.Minute):
				t.Error("server did not stop within a minute of its context ending")
			}
		})
	}
	t.Cleanup(srv.stop)
	endpoint := regexp.MustCompile(`S3 endpoint:\s+(https?://\S+)`)
	for range 3000 { // 60 s
		if m := endpoint.FindStringSubmatch(srv.stdout.String()); m != nil {
			srv.endpoint = m[1]
			return srv
		}
		select {
		case <-done:
			t.Fatalf("the server stopped before printing its endpoint: %v\n%s", runErr, srv.stderr)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("the server printed no endpoint in 60 s\n%s", srv.stderr)
	return nil
}

func TestServerServesS3(t *testing.T) {
	endpoint := startServer(t)
	client := s3.New(s3.Options{
		BaseEndpoint: aws.String(endpoint),
		Region:       "us-east-1",
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider("testadmin", "test-secret-123", ""),
	})
	ctx := context.Background()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("hello")}); err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("flashstor "), 100_000)
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("hello"), Key: aws.String("a/b.txt"), Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("hello"), Key: aws.String("a/b.txt")})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(out.Body)
	out.Body.Close()
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("GET returned %d bytes, %v", len(got), err)
	}
	bad := s3.New(s3.Options{BaseEndpoint: aws.String(endpoint), Region: "us-east-1", UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("testadmin", "wrong-secret", "")})
	_, err = bad.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err == nil || !strings.Contains(err.Error(), "SignatureDoesNotMatch") {
		t.Fatalf("wrong secret: %v", err)
	}
}

func TestServerRefusesHalfCredentials(t *testing.T) {
	t.Setenv("FLASHSTORE_ROOT_USER", "someone")
	t.Setenv("FLASHSTORE_ROOT_PASSWORD", "")
	err := run(context.Background(), []string{"server", "--address", "127.0.0.1:0", filepath.Join(t.TempDir(), "d1")}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "FLASHSTORE_ROOT_PASSWORD") {
		t.Fatalf("server with only a user: %v", err)
	}
}

// TestServerWithMount serves S3 and mounts the buckets at once: an object put through S3
// is a file in the mount, a file written in the mount is an object; at shutdown the mount
// goes away.
func TestServerWithMount(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root here")
	}
	mnt := t.TempDir()
	// Cleanups run last-registered first: this one, registered before the server's, runs
	// after the server has stopped, and checks that the mount went with it.
	t.Cleanup(func() {
		if mounted(t, mnt) {
			t.Errorf("%s is still mounted after the server stopped", mnt)
			syscall.Unmount(mnt, syscall.MNT_DETACH)
		}
	})
	endpoint := startServer(t, "--mount", mnt)
	client := s3.New(s3.Options{BaseEndpoint: aws.String(endpoint), Region: "us-east-1", UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("testadmin", "test-secret-123", "")})
	ctx := context.Background()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("both")}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("both"), Key: aws.String("dir/from-s3.txt"), Body: strings.NewReader("hello from S3")}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(mnt, "both", "dir", "from-s3.txt"))
	if err != nil || string(got) != "hello from S3" {
		t.Fatalf("reading the S3 object through the mount: %q, %v", got, err)
	}
	if err := os.WriteFile(filepath.Join(mnt, "both", "from-mount.txt"), []byte("hello from the mount"), 0o640); err != nil {
		t.Fatal(err)
	}
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("both"), Key: aws.String("from-mount.txt")})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if string(b) != "hello from the mount" {
		t.Fatalf("GET of the file written in the mount: %q", b)
	}
}

// mounted reports whether dir is a mount point, from /proc/self/mounts.
func mounted(t *testing.T, dir string) bool {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[1] == dir {
			return true
		}
	}
	return false
}
