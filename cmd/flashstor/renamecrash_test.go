package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestDirRenameKill9 renames a large directory on the mount back and forth and kills the
// server with SIGKILL at a random point of each rename (the first rename, not killed,
// measures how long one takes). After every restart the whole tree must be under exactly
// one of the two names, every file byte for byte, and a hard link from inside the tree to
// a name outside it must still be one file of two names.
func TestDirRenameKill9(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the server child mounts (FUSE) and needs root")
	}
	files, rounds := 300, 6
	if testing.Short() {
		files, rounds = 150, 3
	}
	const bucket = "renames"
	srv, root, seed := killableMount(t, bucket)
	r := rand.New(rand.NewPCG(seed, 12))
	ctx := context.Background()
	want := map[string][]byte{} // key below the tree's name -> content
	for i := range files {
		key := fmt.Sprintf("d%d/f%03d", i%7, i)
		content := make([]byte, r.IntN(300_000))
		for j := range content {
			content[j] = byte(r.Uint32())
		}
		want[key] = content
		if _, err := srv.s3().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("a/" + key), Body: bytes.NewReader(content)}); err != nil {
			t.Fatal(err)
		}
	}
	// A file with two names: a/d0/linked in the tree, outside/linked out of it.
	if err := os.MkdirAll(filepath.Join(root, "outside"), 0o755); err != nil {
		t.Fatal(err)
	}
	want["d0/linked"] = []byte("one file, two names")
	if err := os.WriteFile(filepath.Join(root, "outside", "linked"), want["d0/linked"], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(root, "outside", "linked"), filepath.Join(root, "a", "d0", "linked")); err != nil {
		t.Fatal(err)
	}
	names := [2]string{"a", "b"}
	at := 0 // names[at] holds the tree
	start := time.Now()
	if err := os.Rename(filepath.Join(root, names[at]), filepath.Join(root, names[1-at])); err != nil {
		t.Fatal(err)
	}
	full := time.Since(start)
	t.Logf("a rename of %d files takes %v", len(want), full)
	if at = checkRenamedTree(t, srv, root, bucket, names, want); at != 1 {
		t.Fatalf("after a rename that returned, the tree is under %q", names[at])
	}
	interrupted := 0
	for round := range rounds {
		from, to := filepath.Join(root, names[at]), filepath.Join(root, names[1-at])
		err := killDuring(t, srv, time.Duration(r.Int64N(int64(full))), func() error { return os.Rename(from, to) })
		if err != nil {
			interrupted++
		}
		at = checkRenamedTree(t, srv, root, bucket, names, want)
		t.Logf("round %d: rename returned %v; the tree is under %q", round, err, names[at])
	}
	t.Logf("%d of %d renames were interrupted by the kill", interrupted, rounds)
}

// grepLines returns the lines of s that hold one of words.
func grepLines(s string, words ...string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		for _, w := range words {
			if strings.Contains(line, w) {
				out = append(out, line)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}

// killableMount starts a server child on 4 drives with its buckets mounted (and the server
// flags extra), makes bucket, and returns the server, the bucket's directory in the mount
// and a seed for the test's random choices (logged).
func killableMount(t *testing.T, bucket string, extra ...string) (srv *chaosServer, root string, seed uint64) {
	t.Helper()
	seed = uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	dir := t.TempDir()
	mnt := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	srv = &chaosServer{t: t, mount: mnt, args: []string{"server", "--address", "127.0.0.1:0", "--mount", mnt}}
	srv.args = append(append(srv.args, extra...), filepath.Join(dir, "d{1...4}"))
	t.Cleanup(func() { srv.stop(syscall.SIGTERM) })
	srv.start()
	if _, err := srv.s3().CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	return srv, filepath.Join(mnt, bucket), seed
}

// killDuring runs op, kills the server with SIGKILL after delay, waits for op (which a
// kill during it fails) and starts the server again. It returns op's error.
func killDuring(t *testing.T, srv *chaosServer, delay time.Duration, op func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- op() }()
	time.Sleep(delay)
	srv.stop(syscall.SIGKILL)
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the operation did not return within 30 s of the kill")
	}
	srv.start()
	return err
}

// checkRenamedTree checks that the tree is whole under one of names and that nothing is
// under the other, and returns which.
func checkRenamedTree(t *testing.T, srv *chaosServer, root, bucket string, names [2]string, want map[string][]byte) int {
	t.Helper()
	ctx := context.Background()
	count := func(prefix string) int {
		n := 0
		var token *string
		for range 100 {
			out, err := srv.s3().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix), ContinuationToken: token})
			if err != nil {
				t.Fatal(err)
			}
			n += len(out.Contents)
			if !aws.ToBool(out.IsTruncated) {
				return n
			}
			token = out.NextContinuationToken
		}
		t.Fatalf("listing %s: more than 100 pages", prefix)
		return 0
	}
	at := 0
	if count(names[1]+"/") > 0 {
		at = 1
	}
	if n, other := count(names[at]+"/"), count(names[1-at]+"/"); n != len(want) || other != 0 {
		t.Fatalf("after the restart: %d keys below %s/ and %d below %s/; want all %d below one name; the server's journal log:\n%s",
			n, names[at], other, names[1-at], len(want), grepLines(srv.output(), "journal", "interrupted operation"))
	}
	for k, content := range want {
		out, err := srv.s3().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(names[at] + "/" + k)})
		if err != nil {
			t.Fatalf("GET %s/%s: %v", names[at], k, err)
		}
		got, err := io.ReadAll(out.Body)
		out.Body.Close()
		if err != nil || !bytes.Equal(got, content) {
			t.Fatalf("%s/%s: %d bytes (%v), want %d", names[at], k, len(got), err, len(content))
		}
	}
	var in, out syscall.Stat_t
	if err := syscall.Stat(filepath.Join(root, names[at], "d0", "linked"), &in); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Stat(filepath.Join(root, "outside", "linked"), &out); err != nil {
		t.Fatal(err)
	}
	if in.Ino != out.Ino || in.Nlink != 2 || out.Nlink != 2 {
		t.Fatalf("the two names of the linked file: inodes %d and %d, nlink %d and %d; want one inode, nlink 2",
			in.Ino, out.Ino, in.Nlink, out.Nlink)
	}
	return at
}
