package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestServerMountHardLinks extracts a tar of a tree with hard links into the mount of
// "flashstor server --mount" and restores it through S3 with aws-sdk-go-v2: every name is
// an ordinary object with the file's content (GET, HEAD, listing, copy). An S3 PUT or
// DELETE of one name leaves the others as they were in the mount.
func TestServerMountHardLinks(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root here")
	}
	mnt := t.TempDir()
	client := s3Client(startServer(t, "--mount", mnt))
	ctx := context.Background()
	bucket := aws.String("links")
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket}); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "tree")
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	must("mkdir", os.MkdirAll(filepath.Join(src, "sub"), 0o755))
	must("write", os.WriteFile(filepath.Join(src, "a"), []byte("shared content"), 0o644))
	must("link", os.Link(filepath.Join(src, "a"), filepath.Join(src, "sub", "b")))
	archive := filepath.Join(t.TempDir(), "backup.tar")
	for _, args := range [][]string{{"-C", src, "-cf", archive, "."}, {"-C", filepath.Join(mnt, "links"), "-xpf", archive}} {
		if out, err := exec.Command("tar", args...).CombinedOutput(); err != nil {
			t.Fatalf("tar %v: %v\n%s", args, err, out)
		}
	}
	var sa, sb syscall.Stat_t
	must("stat", syscall.Stat(filepath.Join(mnt, "links", "a"), &sa))
	must("stat", syscall.Stat(filepath.Join(mnt, "links", "sub", "b"), &sb))
	if sa.Ino != sb.Ino || sb.Nlink != 2 {
		t.Fatalf("tar into the mount: ino %d/%d nlink %d", sa.Ino, sb.Ino, sb.Nlink)
	}

	get := func(key string) string {
		t.Helper()
		out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: aws.String(key)})
		must("GetObject "+key, err)
		defer out.Body.Close()
		b, err := io.ReadAll(out.Body)
		must("read "+key, err)
		return string(b)
	}
	// The restore: every listed name, fetched through S3, has the file's content.
	list, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: bucket})
	must("ListObjectsV2", err)
	var keys []string
	for _, o := range list.Contents {
		if k := aws.ToString(o.Key); !strings.HasSuffix(k, "/") {
			keys = append(keys, k)
			if aws.ToInt64(o.Size) != int64(len("shared content")) {
				t.Errorf("listing: %s has %d bytes", k, aws.ToInt64(o.Size))
			}
		}
	}
	if strings.Join(keys, " ") != "a sub/b" {
		t.Fatalf("listing: %v", keys)
	}
	for _, k := range keys {
		if got := get(k); got != "shared content" {
			t.Fatalf("GET %s: %q", k, got)
		}
		head, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bucket, Key: aws.String(k)})
		must("HeadObject "+k, err)
		if aws.ToInt64(head.ContentLength) != int64(len("shared content")) {
			t.Fatalf("HEAD %s: %d bytes", k, aws.ToInt64(head.ContentLength))
		}
	}
	_, err = client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: bucket, Key: aws.String("copy"), CopySource: aws.String("links/sub/b")})
	must("CopyObject", err)
	if got := get("copy"); got != "shared content" {
		t.Fatalf("GET of the copy: %q", got)
	}

	// An S3 PUT to one name replaces that name only; a DELETE removes it only.
	_, err = client.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String("sub/b"), Body: strings.NewReader("replaced")})
	must("PutObject", err)
	if got, err := os.ReadFile(filepath.Join(mnt, "links", "a")); err != nil || string(got) != "shared content" {
		t.Fatalf("a after the S3 PUT of sub/b: %q %v", got, err)
	}
	if got, err := os.ReadFile(filepath.Join(mnt, "links", "sub", "b")); err != nil || string(got) != "replaced" {
		t.Fatalf("sub/b after its S3 PUT: %q %v", got, err)
	}
	must("link", os.Link(filepath.Join(mnt, "links", "a"), filepath.Join(mnt, "links", "c")))
	_, err = client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: bucket, Key: aws.String("c")})
	must("DeleteObject", err)
	must("stat", syscall.Stat(filepath.Join(mnt, "links", "a"), &sa))
	if sa.Nlink != 1 {
		t.Fatalf("a after the S3 DELETE of its other name: nlink %d", sa.Nlink)
	}
	if got, err := os.ReadFile(filepath.Join(mnt, "links", "a")); err != nil || string(got) != "shared content" {
		t.Fatalf("a after the S3 DELETE of c: %q %v", got, err)
	}
}
