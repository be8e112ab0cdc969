package clustertest_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/cluster/clustertest"
	"github.com/flashstor/flashstor/objstore/cluster/etcdtest"
	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/flashstor/flashstor/objstore/meta"
	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/fence"
)

// readAll returns the content and ETag of bucket/key read through layer.
func readAll(ctx context.Context, layer objstore.ObjectLayer, bucket, key string) ([]byte, string, error) {
	h, err := layer.OpenObject(ctx, bucket, key)
	if err != nil {
		return nil, "", err
	}
	defer h.Close()
	b, err := io.ReadAll(io.NewSectionReader(h, 0, h.Info().Size))
	return b, h.Info().ETag, err
}

// TestIncrementsAcrossNodes: writers on two nodes (the set's owner and another) increment
// one counter by read-modify-write under a conditional PUT (If-Match the ETag read). The
// key's lock, granted by its set's owner to both nodes, makes the check and the commit one
// step, so no increment is lost: the counter ends at the number of increments made, on
// every node and on every drive.
func TestIncrementsAcrossNodes(t *testing.T) {
	etcd := etcdtest.Start(t)
	c := clustertest.Start(t, clustertest.Options{Nodes: 3, DrivesPerNode: 2, Etcd: etcd.Endpoints})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	first := c.Nodes[0].Deployment
	if err := first.MakeBucket(ctx, "bkt", objstore.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := first.PutObject(ctx, "bkt", "counter", bytes.NewReader([]byte("0")), 1, objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	const writersPerNode, increments, maxAttempts = 3, 5, 500
	nodes := []int{0, 2}
	errs := make(chan error, len(nodes)*writersPerNode)
	var wg sync.WaitGroup
	for _, ni := range nodes {
		layer := c.Nodes[ni].Deployment
		for range writersPerNode {
			wg.Go(func() {
				done := 0
				for attempt := 0; done < increments; attempt++ {
					if attempt == maxAttempts {
						errs <- errors.New("no increment after 500 attempts")
						return
					}
					b, etag, err := readAll(ctx, layer, "bkt", "counter")
					if err != nil {
						errs <- err
						return
					}
					v, err := strconv.Atoi(string(b))
					if err != nil {
						errs <- err
						return
					}
					next := []byte(strconv.Itoa(v + 1))
					_, err = layer.PutObject(ctx, "bkt", "counter", bytes.NewReader(next), int64(len(next)), objstore.PutOptions{Preconditions: objstore.Preconditions{IfMatch: etag}})
					switch {
					case errors.Is(err, objstore.ErrPreconditionFailed):
					case err != nil:
						errs <- err
						return
					default:
						done++
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	want := strconv.Itoa(len(nodes) * writersPerNode * increments)
	for i, n := range c.Nodes {
		b, _, err := readAll(ctx, n.Deployment, "bkt", "counter")
		if err != nil || string(b) != want {
			t.Fatalf("node %d reads %q, %v; want %s", i, b, err, want)
		}
	}
	// Every drive holds the same record of the key (one VersionID: one write's record).
	var version [16]byte
	for i, d := range first.Sets()[0].Drives() {
		b, err := d.ReadMeta(ctx, "bkt", "counter")
		if err != nil {
			t.Fatalf("drive %d: %v", i, err)
		}
		m, err := meta.Unmarshal(b)
		if err != nil {
			t.Fatalf("drive %d: %v", i, err)
		}
		if i > 0 && m.VersionID != version {
			t.Fatalf("drive %d holds another record of the counter than drive 0", i)
		}
		version = m.VersionID
	}
}

// gateKey marks the context of the PUT whose commit gatedDrive holds.
type gateKey struct{}

// gatedDrive holds every CommitObject made under a context marked with gateKey until
// the gate opens, telling reached when the first one arrives.
type gatedDrive struct {
	storage.Drive
	reached func()
	gate    <-chan struct{}
}

func (d *gatedDrive) CommitObject(ctx context.Context, bucket, key string, meta []byte, srcVolume, srcDir string) error {
	if ctx.Value(gateKey{}) != nil {
		d.reached()
		<-d.gate
	}
	return d.Drive.CommitObject(ctx, bucket, key, meta, srcVolume, srcDir)
}

// TestOwnerFailover: the node owning the (only) set stops while a PUT through another
// node holds its key's lock and is about to commit. Another node takes the set with a
// higher epoch and raises the fence on the drives, so the caught PUT's commit is refused
// (the write quorum error: S3 503) and nothing of it is served; the same PUT retried
// succeeds through the new owner, and writes through every remaining node resume.
func TestOwnerFailover(t *testing.T) {
	etcd := etcdtest.Start(t)
	gate := make(chan struct{})
	reached := make(chan struct{})
	var once sync.Once
	c := clustertest.Start(t, clustertest.Options{Nodes: 4, DrivesPerNode: 2, Etcd: etcd.Endpoints,
		Deploy: deploy.Config{WrapDrive: func(d storage.Drive) storage.Drive {
			return &gatedDrive{Drive: d, gate: gate, reached: func() { once.Do(func() { close(reached) }) }}
		}}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var old uint64
	etcdtest.Eventually(t, "node 0 owns set 0, its preferred set", func() bool {
		e, ok := c.Nodes[0].Owner().Owns(0)
		old = e
		return ok
	})
	via := c.Nodes[2].Deployment
	if err := via.MakeBucket(ctx, "bkt", objstore.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("caught by the switch "), 1000)
	if _, err := via.PutObject(ctx, "bkt", "k", bytes.NewReader([]byte("before")), 6, objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	caught := make(chan error, 1)
	go func() {
		_, err := via.PutObject(context.WithValue(ctx, gateKey{}, true), "bkt", "k", bytes.NewReader(body), int64(len(body)), objstore.PutOptions{})
		caught <- err
	}()
	select {
	case <-reached:
	case <-ctx.Done():
		t.Fatal("the PUT never reached its commit")
	}
	c.Stop(0)
	var owner int
	var epoch uint64
	etcdtest.Eventually(t, "another node owns set 0", func() bool {
		for i := 1; i < len(c.Nodes); i++ {
			if e, ok := c.Nodes[i].Owner().Owns(0); ok {
				owner, epoch = i, e
				return true
			}
		}
		return false
	})
	if epoch <= old {
		t.Fatalf("node %d owns set 0 at epoch %d, not above the old owner's %d", owner, epoch, old)
	}
	close(gate)
	err := <-caught
	if !errors.Is(err, objstore.ErrWriteQuorum) || !errors.Is(err, storage.ErrStaleEpoch) {
		t.Fatalf("the PUT caught by the switch: %v; want the write quorum error of stale epochs", err)
	}
	t.Logf("caught PUT: %v", err)
	for i := 1; i < len(c.Nodes); i++ {
		if b, _, err := readAll(ctx, c.Nodes[i].Deployment, "bkt", "k"); err != nil || string(b) != "before" {
			t.Fatalf("node %d after the refused PUT reads %q, %v", i, b, err)
		}
	}
	// The drives of the nodes still up record the new owner's epoch.
	top := c.Nodes[1].Topology()
	for i := 1; i < len(c.Nodes); i++ {
		for _, e := range top.Local(c.Nodes[i].Addr) {
			rec, err := os.ReadFile(filepath.Join(top.Endpoints[e].Path, storage.SysVolume, fence.RecordPath))
			if err != nil {
				t.Fatal(err)
			}
			if got, err := fence.Decode(rec); err != nil || got != epoch {
				t.Fatalf("node %d's drive %d: fence record at %d, %v; want %d", i, e, got, err, epoch)
			}
		}
	}
	if _, err := via.PutObject(ctx, "bkt", "k", bytes.NewReader(body), int64(len(body)), objstore.PutOptions{}); err != nil {
		t.Fatalf("the PUT retried: %v", err)
	}
	for i := 1; i < len(c.Nodes); i++ {
		key := "after-" + strconv.Itoa(i)
		if _, err := c.Nodes[i].Deployment.PutObject(ctx, "bkt", key, bytes.NewReader(body), int64(len(body)), objstore.PutOptions{}); err != nil {
			t.Fatalf("PUT through node %d after the failover: %v", i, err)
		}
	}
	for i := 1; i < len(c.Nodes); i++ {
		for _, key := range []string{"k", "after-1", "after-2", "after-3"} {
			if b, _, err := readAll(ctx, c.Nodes[i].Deployment, "bkt", key); err != nil || !bytes.Equal(b, body) {
				t.Fatalf("node %d reads %s: %d bytes, %v", i, key, len(b), err)
			}
		}
	}
}

// TestSettingsAcrossNodes: a bucket's versioning enabled through one node gives the next
// PUT through another node a version id (the document in etcd, the other node's cache
// dropped by the watch).
func TestSettingsAcrossNodes(t *testing.T) {
	etcd := etcdtest.Start(t)
	c := clustertest.Start(t, clustertest.Options{Nodes: 3, DrivesPerNode: 1, Etcd: etcd.Endpoints})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, b := c.Nodes[0].Deployment, c.Nodes[2].Deployment
	if err := a.MakeBucket(ctx, "bkt", objstore.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	info, err := b.PutObject(ctx, "bkt", "k", bytes.NewReader([]byte("v1")), 2, objstore.PutOptions{})
	if err != nil || info.Version.VersionID != objstore.NullVersion {
		t.Fatalf("PUT through B into an unversioned bucket: version %q, %v", info.Version.VersionID, err)
	}
	if err := a.SetBucketConfig(ctx, "bkt", objstore.BucketConfigVersioning, "Enabled"); err != nil {
		t.Fatal(err)
	}
	etcdtest.Eventually(t, "versioning enabled through A seen by B", func() bool {
		v, err := b.BucketVersioning(ctx, "bkt")
		return err == nil && v == objstore.VersioningEnabled
	})
	info, err = b.PutObject(ctx, "bkt", "k", bytes.NewReader([]byte("v2")), 2, objstore.PutOptions{})
	if err != nil || info.Version.VersionID == objstore.NullVersion || info.Version.VersionID == "" {
		t.Fatalf("PUT through B after versioning was enabled through A: version %q, %v", info.Version.VersionID, err)
	}
}
