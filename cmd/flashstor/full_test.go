package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"golang.org/x/sys/unix"

	"github.com/flashstor/flashstor/objstore/storage"
)

// TestServerFullStore fills the file system of every drive while the server runs: a PUT
// answers 507 InsufficientStorage, a write in the mount fails with ENOSPC, nothing of
// either is left behind (no object, no staged file), what was stored reads back, and once
// space returns writes go through again.
func TestServerFullStore(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting (tmpfs, FUSE) needs root")
	}
	fsdir := t.TempDir()
	if err := unix.Mount("tmpfs", fsdir, "tmpfs", 0, "size=32m"); err != nil {
		t.Fatalf("mounting a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(fsdir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmounting the tmpfs: %v", err)
		}
	})
	mnt := t.TempDir()
	t.Cleanup(func() {
		if mounted(t, mnt) {
			t.Errorf("%s is still mounted after the server stopped", mnt)
			syscall.Unmount(mnt, syscall.MNT_DETACH)
		}
	})
	client := s3Client(startServerOn(t, fsdir, "--mount", mnt))
	ctx := context.Background()
	bucket := aws.String("full")
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket}); err != nil {
		t.Fatal(err)
	}
	before := bytes.Repeat([]byte("stored before the drives filled up "), 10000)
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String("before"), Body: bytes.NewReader(before)}); err != nil {
		t.Fatal(err)
	}
	free, err := fillUp(fsdir)
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("written while they are full "), 80000)
	_, err = client.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String("s3"), Body: bytes.NewReader(big)})
	var api smithy.APIError
	var resp *awshttp.ResponseError
	if !errors.As(err, &api) || api.ErrorCode() != "InsufficientStorage" || !errors.As(err, &resp) || resp.HTTPStatusCode() != 507 {
		t.Fatalf("PUT on full drives: %v, want 507 InsufficientStorage", err)
	}
	inMount := filepath.Join(mnt, "full", "mount")
	if err := os.WriteFile(inMount, big, 0o644); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("writing in the mount on full drives: %v, want ENOSPC", err)
	}
	// Nothing half-written: no object from the failed PUT, no file from the failed write
	// (it never existed: its create is committed with its first close), and no staged
	// file on any drive.
	if _, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bucket, Key: aws.String("s3")}); err == nil {
		t.Fatal("the failed PUT left an object")
	}
	if fi, err := os.Stat(inMount); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the failed write of a new file left it in the mount: %v, %v", fi, err)
	}
	for i := 1; i <= 4; i++ {
		tmp := filepath.Join(fsdir, "d"+string(rune('0'+i)), storage.SysVolume, "tmp")
		if staged := filesUnder(tmp, func(string) bool { return true }); len(staged) > 0 {
			t.Fatalf("staged files left on drive %d after the failed writes: %v", i, staged)
		}
	}
	if got := getObject(t, client, "full", "before"); !bytes.Equal(got, before) {
		t.Fatal("the object stored before the drives filled up reads back wrong")
	}
	if err := free(); err != nil {
		t.Fatal(err)
	}
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String("s3"), Body: bytes.NewReader(big)}); err != nil {
		t.Fatalf("PUT once space returned: %v", err)
	}
	if err := os.WriteFile(inMount, big, 0o644); err != nil {
		t.Fatalf("writing in the mount once space returned: %v", err)
	}
	for _, key := range []string{"s3", "mount"} {
		if got := getObject(t, client, "full", key); !bytes.Equal(got, big) {
			t.Fatalf("GET %s after space returned: %d bytes that differ", key, len(got))
		}
		if got, err := os.ReadFile(filepath.Join(mnt, "full", key)); err != nil || !bytes.Equal(got, big) {
			t.Fatalf("reading %s in the mount after space returned: %v", key, err)
		}
	}
	list, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: bucket})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range list.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	if strings.Join(keys, ",") != "before,mount,s3" {
		t.Fatalf("listing after space returned: %v", keys)
	}
}

// fillUp fills the file system of dir with a file in dir, a MiB at a time until ENOSPC
// (bounded by the free space statfs reports, and 64 MiB more for what is freed meanwhile), and returns how to remove it.
func fillUp(dir string) (undo func() error, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return nil, err
	}
	filler := filepath.Join(dir, ".chaos-filler")
	f, err := os.Create(filler)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	undo = func() error { return os.Remove(filler) }
	const chunk = 1 << 20
	var off int64
	for i := uint64(0); i <= st.Bavail*uint64(st.Bsize)/chunk+64; i++ {
		if err = unix.Fallocate(int(f.Fd()), 0, off, chunk); err != nil {
			break
		}
		off += chunk
	}
	if !errors.Is(err, unix.ENOSPC) {
		undo()
		return nil, fmt.Errorf("filling %s: %v after %d bytes", dir, err, off)
	}
	// What is left is less than a MiB: take it too, a page at a time.
	for i := 0; i < chunk/4096 && unix.Fallocate(int(f.Fd()), 0, off, 4096) == nil; i++ {
		off += 4096
	}
	return undo, nil
}

// filesUnder lists the regular files under dir that match (a bounded walk: at most 10,000).
func filesUnder(dir string, match func(string) bool) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if len(out) >= 10000 {
			return filepath.SkipAll
		}
		if e.Type().IsRegular() && match(p) {
			out = append(out, p)
		}
		return nil
	})
	return out
}
