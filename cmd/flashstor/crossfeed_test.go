package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/flashstor/flashstor/fusefs"
	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/cluster/clustertest"
	"github.com/flashstor/flashstor/objstore/cluster/etcdtest"
	"github.com/flashstor/flashstor/s3frontend"
)

// serveS3On serves S3 over layer on a loopback port until the test ends and returns its
// endpoint (root credentials testadmin / test-secret-123, as s3Client uses).
func serveS3On(t *testing.T, layer objstore.ObjectLayer, deploymentID string) string {
	t.Helper()
	h, err := s3frontend.New(s3frontend.Config{Layer: layer, DeploymentID: deploymentID,
		Credentials: map[string]string{"testadmin": "test-secret-123"}, Region: "us-east-1", Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := s3frontend.NewServer(s3frontend.ServerConfig{Handler: h})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// TestCrossNodeCoherence: a two-node cluster in this process, S3 on node A, a real FUSE
// mount of node B. Every S3 change on A is seen through B's mount as soon as A's call
// returns: a read, a stat and a listing, no wait and no retry, each after B's kernel has
// cached the state before the change.
func TestCrossNodeCoherence(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root here")
	}
	c := clustertest.Start(t, clustertest.Options{Nodes: 2, DrivesPerNode: 2})
	a, b := c.Nodes[0], c.Nodes[1]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stop, err := b.Feed().Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	etcdtest.Eventually(t, "node A knows that node B receives its changes", func() bool { return slices.Contains(a.Feed().Receivers(), b.Addr) })
	mnt := t.TempDir()
	srv, err := fusefs.Mount(mnt, b.Deployment, fusefs.Options{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
		}
		srv.Wait()
	})
	checkCrossNode(t, ctx, s3Client(serveS3On(t, a.Deployment, a.Deployment.Layout.DeploymentID)), mnt)
	if s := a.Feed().Stats(); s.Sent == 0 || s.TimedOut != 0 || s.Lost != 0 {
		t.Fatalf("node A's relay: %+v", s)
	}
}

// checkCrossNode changes bucket "cross" through client and checks each change through
// the mount mnt of another node right after the call returns.
func checkCrossNode(t *testing.T, ctx context.Context, client *s3.Client, mnt string) {
	t.Helper()
	bdir := filepath.Join(mnt, "cross")
	file := filepath.Join(bdir, "dir", "k")
	// B's kernel caches the absence of the bucket and of the file.
	if _, err := os.Stat(bdir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stat of the bucket before it exists: %v", err)
	}
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("cross")}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(bdir); err != nil || !fi.IsDir() {
		t.Fatalf("the bucket made on A, on B's mount: %v, %v", fi, err)
	}
	if _, err := os.Stat(file); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stat of the file before it exists: %v", err)
	}
	put := func(key, body string) {
		t.Helper()
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("cross"), Key: aws.String(key), Body: strings.NewReader(body)}); err != nil {
			t.Fatalf("PUT %s on A: %v", key, err)
		}
	}
	del := func(key string) {
		t.Helper()
		if _, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("cross"), Key: aws.String(key)}); err != nil {
			t.Fatalf("DELETE %s on A: %v", key, err)
		}
	}
	check := func(step, want string) {
		t.Helper()
		got, err := os.ReadFile(file)
		if err != nil || string(got) != want {
			t.Fatalf("%s: B's mount reads %q, %v; want %q", step, got, err, want)
		}
		fi, err := os.Stat(file)
		if err != nil || fi.Size() != int64(len(want)) {
			t.Fatalf("%s: B's mount stats %v, %v; want size %d", step, fi, err, len(want))
		}
	}
	list := func(step string, want ...string) {
		t.Helper()
		ents, err := os.ReadDir(filepath.Join(bdir, "dir"))
		if len(want) == 0 {
			if !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("%s: B's mount lists %v, %v; want no directory", step, ents, err)
			}
			return
		}
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		if err != nil || !slices.Equal(names, want) {
			t.Fatalf("%s: B's mount lists %v, %v; want %v", step, names, err, want)
		}
	}
	put("dir/k", "v1")
	check("PUT", "v1")
	list("PUT", "k")
	put("dir/k", "version two, longer")
	check("overwrite", "version two, longer")
	put("dir/k", "3")
	check("overwrite shorter", "3")
	put("dir/k2", "other")
	list("PUT of a second key", "k", "k2")
	del("dir/k")
	if _, err := os.Stat(file); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("DELETE: B's mount stats the deleted file: %v", err)
	}
	list("DELETE", "k2")
	del("dir/k2")
	list("DELETE of the last key of the directory")
}

// TestCrossNodeProcesses is TestCrossNodeCoherence with real server processes: two nodes,
// node 2 started with --mount; S3 on node 1.
func TestCrossNodeProcesses(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root here")
	}
	dir, mnt := t.TempDir(), t.TempDir()
	// Registered before the processes' cleanup, so run after it: the mount went with node 2.
	t.Cleanup(func() {
		if mounted(t, mnt) {
			t.Errorf("%s is still mounted after node 2 stopped", mnt)
			syscall.Unmount(mnt, syscall.MNT_DETACH)
		}
	})
	port := clusterPort(t)
	var addrs, list []string
	for i := 1; i <= 2; i++ {
		addrs = append(addrs, fmt.Sprintf("127.0.0.%d:%d", i, port))
		list = append(list, fmt.Sprintf("http://127.0.0.%d:%d%s/n%d/d{1...2}", i, port, dir, i))
	}
	endpoints := startClusterProcessesEach(t, addrs, list, func(i int) []string {
		if i == 1 {
			return []string{"--mount", mnt}
		}
		return nil
	})
	// Node 1 learns from etcd that node 2 (its mount) receives its changes: set-up, polled.
	etcdtest.Eventually(t, "node 1 sends to node 2", func() bool {
		return strings.Contains(scrapeText(t, endpoints[0]+"/metrics", ""), "\nflashstor_feed_relay_receivers 1\n")
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	checkCrossNode(t, ctx, s3Client(endpoints[0]), mnt)
	// The relay's counters are scraped: node 1 sent, node 2 received, nobody was late;
	// node 1's watch of the receivers runs.
	sent := regexp.MustCompile(`(?m)^flashstor_feed_relay_events_sent_total ([1-9][0-9]*)$`)
	watching := regexp.MustCompile(`(?m)^flashstor_feed_relay_watch_starts_total ([1-9][0-9]*)$`)
	received := regexp.MustCompile(`(?m)^flashstor_feed_relay_events_received_total ([1-9][0-9]*)$`)
	if text := scrapeText(t, endpoints[0]+"/metrics", ""); !sent.MatchString(text) || !watching.MatchString(text) || !strings.Contains(text, "flashstor_feed_relay_writes_timed_out_total 0\n") {
		t.Errorf("node 1's metrics do not show changes sent, none timed out, the receivers watched:\n%s", grepLines(text, "feed_relay"))
	}
	if text := scrapeText(t, endpoints[1]+"/metrics", ""); !received.MatchString(text) {
		t.Errorf("node 2's metrics do not show changes received:\n%s", grepLines(text, "feed_relay"))
	}
}
