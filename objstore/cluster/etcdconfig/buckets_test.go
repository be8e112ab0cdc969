package etcdconfig_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/cluster/etcdconfig"
	"github.com/flashstor/flashstor/objstore/cluster/etcdtest"
	"github.com/flashstor/flashstor/objstore/deploy"
)

func TestBucketDocs(t *testing.T) {
	ctx := context.Background()
	srv := etcdtest.Start(t)
	raw := srv.Client(t)
	a, b := etcdconfig.NewBuckets(srv.Client(t)), etcdconfig.NewBuckets(srv.Client(t))
	docs, err := a.Docs(ctx, "photos")
	if err != nil || len(docs) != 0 {
		t.Fatalf("no documents: %v, %v", docs, err)
	}
	// Two nodes set documents of one bucket at once: each keeps the others'.
	var wg sync.WaitGroup
	for i := range 16 {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			if err := s.SetDoc(ctx, "photos", fmt.Sprint("doc", i), fmt.Sprint("value", i)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	docs, err = b.Docs(ctx, "photos")
	if err != nil || len(docs) != 16 || docs["doc7"] != "value7" {
		t.Fatalf("after 16 concurrent SetDoc: %v, %v", docs, err)
	}
	if err := a.SetDoc(ctx, "photos", "doc7", ""); err != nil {
		t.Fatal(err)
	}
	if docs, _ := b.Docs(ctx, "photos"); len(docs) != 15 || docs["doc7"] != "" {
		t.Fatalf("after removing doc7: %v", docs)
	}
	// A bucket whose name starts like another's keeps its own documents.
	if err := a.SetDoc(ctx, "photos2", "policy", "{}"); err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteDocs(ctx, "photos"); err != nil {
		t.Fatal(err)
	}
	if docs, err := b.Docs(ctx, "photos"); err != nil || len(docs) != 0 {
		t.Fatalf("after DeleteDocs: %v, %v", docs, err)
	}
	if docs, err := b.Docs(ctx, "photos2"); err != nil || docs["policy"] != "{}" {
		t.Fatalf("photos2 after DeleteDocs(photos): %v, %v", docs, err)
	}

	// Damage put in etcd by hand is an error that names the key, never a panic.
	for _, bad := range []struct{ key, value string }{
		{"/flashstor/v1/buckets/damaged/config/versioning", "Enabled"},
		{"/flashstor/v1/buckets/damaged/config/policy", `{"v":9,"doc":"{}"}`},
		{"/flashstor/v1/buckets/damaged/config/a/b", `{"v":1,"doc":"x"}`},
	} {
		if _, err := raw.Delete(ctx, "/flashstor/v1/buckets/damaged/", clientv3.WithPrefix()); err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Put(ctx, bad.key, bad.value); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Docs(ctx, "damaged"); err == nil || !strings.Contains(err.Error(), bad.key) {
			t.Errorf("Docs over %s = %q: %v, want an error naming the key", bad.key, bad.value, err)
		}
	}
}

// node is one "node" of a cluster in a test: a deployment over drives it may share with
// others, its bucket documents in etcd, and the watch that feeds its caches.
type node struct {
	*deploy.Deployment
	docs *etcdconfig.Buckets
	mu   sync.Mutex
	errs []error // what the watch reported, GUARDED_BY(mu)
}

func (n *node) watchErrors() []error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]error(nil), n.errs...)
}

// startNode opens the deployment on dir through endpoints, and watches until the test
// ends.
func startNode(t *testing.T, dir string, endpoints []string, wc etcdconfig.WatchConfig) *node {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	n := &node{docs: etcdconfig.NewBuckets(c)}
	n.docs.Timeout = time.Second
	n.Deployment, err = deploy.Open(context.Background(), deploy.Config{
		Drives:     []string{filepath.Join(dir, "d{1...4}")},
		Parity:     -1,
		BucketDocs: n.docs,
		Log:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	ctx, cancel := context.WithCancel(context.Background())
	wc.Retry = 50 * time.Millisecond
	wc.OnError = func(err error) {
		n.mu.Lock()
		n.errs = append(n.errs, err)
		n.mu.Unlock()
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.docs.Watch(ctx, n.BucketConfigChanged, wc)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return n
}

func versioning(ctx context.Context, n *node, bucket string) (objstore.Versioning, error) {
	return n.BucketVersioning(ctx, bucket)
}

// TestPoolsShareConfig: two nodes over one etcd; versioning enabled on A is seen by B,
// deleting the bucket removes its documents from etcd, and a document left behind is
// neither served nor inherited by a new bucket of the name.
func TestPoolsShareConfig(t *testing.T) {
	ctx := context.Background()
	srv := etcdtest.Start(t)
	dir := t.TempDir()
	a := startNode(t, dir, srv.Endpoints, etcdconfig.WatchConfig{})
	b := startNode(t, dir, srv.Endpoints, etcdconfig.WatchConfig{})
	if err := a.MakeBucket(ctx, "photos", objstore.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	if v, err := versioning(ctx, b, "photos"); err != nil || v != objstore.Unversioned {
		t.Fatalf("B before: %v, %v", v, err) // and now cached on B
	}
	if err := a.SetBucketConfig(ctx, "photos", objstore.BucketConfigVersioning, "Enabled"); err != nil {
		t.Fatal(err)
	}
	etcdtest.Eventually(t, "versioning enabled on A seen by B", func() bool {
		v, err := versioning(ctx, b, "photos")
		return err == nil && v == objstore.VersioningEnabled
	})
	if err := a.DeleteBucket(ctx, "photos"); err != nil {
		t.Fatal(err)
	}
	if resp, err := srv.Client(t).Get(ctx, "/flashstor/v1/buckets/photos/", clientv3.WithPrefix(), clientv3.WithCountOnly()); err != nil || resp.Count != 0 {
		t.Fatalf("documents left after DeleteBucket: %v, %v", resp, err)
	}
	// B learns of the delete through the watch, as it learnt of the versioning: a
	// moment after A's call returns, not before it.
	etcdtest.Eventually(t, "the delete on A seen by B", func() bool {
		_, err := versioning(ctx, b, "photos")
		return errors.Is(err, objstore.ErrBucketNotFound)
	})
	// A document left behind a deleted bucket (its DeleteDocs did not reach etcd) is never
	// served, and a new bucket of the name does not inherit it.
	if err := a.docs.SetDoc(ctx, "photos", objstore.BucketConfigPolicy, `{"left":"behind"}`); err != nil {
		t.Fatal(err)
	}
	if _, err := b.BucketConfig(ctx, "photos"); !errors.Is(err, objstore.ErrBucketNotFound) {
		t.Fatalf("BucketConfig of a deleted bucket with a leftover document: %v", err)
	}
	if err := b.MakeBucket(ctx, "photos", objstore.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	if docs, err := a.BucketConfig(ctx, "photos"); err != nil || len(docs) != 0 {
		t.Fatalf("a new bucket where a document was left: %v, %v", docs, err)
	}
}

// TestWatchBreak: a node cut from etcd stops answering from its caches (503: the read
// quorum error) once its watch hears nothing, and a node whose watch resumes from a
// compacted revision falls back to reading etcd; both then see the change made meanwhile.
func TestWatchBreak(t *testing.T) {
	ctx := context.Background()
	srv := etcdtest.Start(t)
	dir := t.TempDir()
	a := startNode(t, dir, srv.Endpoints, etcdconfig.WatchConfig{})
	px := srv.Proxy(t)
	// B hears from etcd every 200 ms; C would not notice silence for an hour.
	b := startNode(t, dir, px.Endpoints, etcdconfig.WatchConfig{Heartbeat: 200 * time.Millisecond})
	c := startNode(t, dir, px.Endpoints, etcdconfig.WatchConfig{Heartbeat: time.Hour})
	if err := a.MakeBucket(ctx, "photos", objstore.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := a.SetBucketConfig(ctx, "photos", objstore.BucketConfigVersioning, "Enabled"); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*node{b, c} {
		etcdtest.Eventually(t, "versioning enabled, cached", func() bool {
			v, err := versioning(ctx, n, "photos")
			return err == nil && v == objstore.VersioningEnabled
		})
	}

	px.Cut(true)
	if err := a.SetBucketConfig(ctx, "photos", objstore.BucketConfigVersioning, "Suspended"); err != nil {
		t.Fatal(err)
	}
	// A later write, so that the compaction takes the revision C's watch resumes from.
	if err := a.SetBucketConfig(ctx, "photos", objstore.BucketConfigTagging, "<Tagging/>"); err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client(t).Get(ctx, "k-none")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Client(t).Compact(ctx, resp.Header.Revision); err != nil {
		t.Fatal(err)
	}
	etcdtest.Eventually(t, "B, cut off, answers 503 instead of its cache", func() bool {
		_, err := versioning(ctx, b, "photos")
		return errors.Is(err, objstore.ErrReadQuorum)
	})
	px.Cut(false)
	for _, n := range []*node{b, c} {
		etcdtest.Eventually(t, "the change made during the cut", func() bool {
			v, err := versioning(ctx, n, "photos")
			return err == nil && v == objstore.VersioningSuspended
		})
	}
	var compacted bool
	for _, err := range c.watchErrors() {
		compacted = compacted || errors.Is(err, rpctypes.ErrCompacted)
	}
	if !compacted {
		t.Errorf("C's watch did not break on the compaction: %v", c.watchErrors())
	}
	if len(b.watchErrors()) == 0 {
		t.Error("B's watch reported no break while cut off")
	}
}
