package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestFsyncModeWritebackCacheFlag: in fsync mode the kernel's writeback cache is on unless
// --mount-writeback-cache=false. With it, a descriptor opened before an S3 PUT that
// changes the file's size is stale (ESTALE: the kernel keeps its own size of the inode);
// without it, the descriptor reads the new object. A new open sees the new object either
// way, with its size.
func TestFsyncModeWritebackCacheFlag(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra []string
		stale bool
	}{
		{"default", nil, true},
		{"off", []string{"--mount-writeback-cache=false"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const bucket = "wbc"
			srv, root, _ := fsyncModeMount(t, bucket, tc.extra...)
			p := filepath.Join(root, "f")
			if err := os.WriteFile(p, bytes.Repeat([]byte("mount "), 5000), 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			buf := make([]byte, 64<<10)
			if n, err := f.ReadAt(buf, 0); n != 30000 {
				t.Fatalf("read before the PUT: %d bytes, %v", n, err)
			}
			body := "from S3, shorter"
			if _, err := srv.s3().PutObject(context.Background(), &s3.PutObjectInput{
				Bucket: aws.String(bucket), Key: aws.String("f"), Body: strings.NewReader(body)}); err != nil {
				t.Fatal(err)
			}
			n, err := f.ReadAt(buf, 0)
			switch {
			case tc.stale && !errors.Is(err, syscall.ESTALE):
				t.Fatalf("read through the old descriptor: %d bytes %.20q, %v; want ESTALE", n, buf[:n], err)
			case !tc.stale && string(buf[:n]) != body:
				t.Fatalf("read through the old descriptor: %d bytes %.20q, %v; want %q", n, buf[:n], err, body)
			}
			got, err := os.ReadFile(p)
			if err != nil || string(got) != body {
				t.Fatalf("read after the PUT: %d bytes %.20q, %v", len(got), got, err)
			}
			if fi, err := os.Stat(p); err != nil || fi.Size() != int64(len(body)) {
				t.Fatalf("stat after the PUT: %v, %v", fi, err)
			}
		})
	}
}
