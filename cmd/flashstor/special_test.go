package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/sys/unix"
)

// TestServerMountSpecialFiles makes a fifo and a device node in the mount of "flashstor
// server --mount" and reads them back through S3 with aws-sdk-go-v2: small (empty)
// objects whose x-amz-meta-mode and x-amz-meta-rdev are what s3fs stores for them. An
// object put through S3 with s3fs's headers for a fifo is a fifo in the mount. With
// --mount-devices, the device node can be opened.
func TestServerMountSpecialFiles(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root here")
	}
	mnt := t.TempDir()
	endpoint := startServer(t, "--mount", mnt, "--mount-devices")
	client := s3Client(endpoint)
	ctx := context.Background()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("special")}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(mnt, "special")
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o640); err != nil {
		t.Fatalf("mkfifo in the mount: %v", err)
	}
	if err := syscall.Mknod(filepath.Join(dir, "null"), syscall.S_IFCHR|0o600, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatalf("mknod in the mount: %v", err)
	}
	// --mount-devices: the node reaches the device (/dev/null).
	if err := os.WriteFile(filepath.Join(dir, "null"), []byte("gone"), 0); err != nil {
		t.Fatalf("write to the device node in the mount: %v", err)
	}
	itoa := func(v uint64) string { return strconv.FormatUint(v, 10) }
	want := map[string]map[string]string{
		"fifo": {"mode": itoa(syscall.S_IFIFO | 0o640), "uid": "0", "gid": "0"},
		"null": {"mode": itoa(syscall.S_IFCHR | 0o600), "rdev": itoa(unix.Mkdev(1, 3)), "uid": "0", "gid": "0"},
	}
	for key, md := range want {
		head, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("special"), Key: aws.String(key)})
		if err != nil {
			t.Fatalf("HeadObject %s: %v", key, err)
		}
		if aws.ToInt64(head.ContentLength) != 0 {
			t.Errorf("%s: %d bytes, want an empty object", key, aws.ToInt64(head.ContentLength))
		}
		for k, v := range md {
			if head.Metadata[k] != v {
				t.Errorf("%s: x-amz-meta-%s %q, want %q (all: %v)", key, k, head.Metadata[k], v, head.Metadata)
			}
		}
	}
	list, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("special")})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Contents) != 2 {
		t.Fatalf("ListObjectsV2: %d objects, want 2", len(list.Contents))
	}
	for _, o := range list.Contents {
		if aws.ToInt64(o.Size) != 0 {
			t.Errorf("ListObjectsV2: %s has %d bytes", aws.ToString(o.Key), aws.ToInt64(o.Size))
		}
	}

	// The other way: s3fs's headers for a fifo, put through S3.
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("special"), Key: aws.String("from-s3"),
		Body: strings.NewReader(""), Metadata: map[string]string{"mode": itoa(syscall.S_IFIFO | 0o604), "uid": "5"}}); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(filepath.Join(dir, "from-s3"), &st); err != nil || st.Mode != syscall.S_IFIFO|0o604 || st.Uid != 5 {
		t.Fatalf("the S3 object with a fifo's mode, in the mount: mode %o uid %d, %v", st.Mode, st.Uid, err)
	}
}
