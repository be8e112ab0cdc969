package clustertest_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/cluster"
	"github.com/flashstor/flashstor/objstore/cluster/clustertest"
	"github.com/flashstor/flashstor/objstore/cluster/etcdtest"
	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/flashstor/flashstor/objstore/objtest"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func TestWriteOnOneReadOnAnother(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Nodes: 4, DrivesPerNode: 2})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, b := c.Nodes[0].Deployment, c.Nodes[3].Deployment
	if a.Layout.DeploymentID != b.Layout.DeploymentID {
		t.Fatalf("nodes assembled deployments %s and %s", a.Layout.DeploymentID, b.Layout.DeploymentID)
	}
	if err := a.MakeBucket(ctx, "bkt", objstore.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("flashstor cluster "), 100000)
	if _, err := a.PutObject(ctx, "bkt", "k", bytes.NewReader(body), int64(len(body)), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	h, err := b.OpenObject(ctx, "bkt", "k")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(io.NewSectionReader(h, 0, h.Info().Size))
	h.Close()
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("read on another node: %d bytes, %v", len(got), err)
	}
}

// The object layer conformance suite through one node of a 4-node cluster (4 nodes x 2
// drives: one set of 8, parity 4, two drives of it on each node), each test on a new
// cluster; the clusters share one etcd, each under its own namespace, which saves the
// embedded members' start and stop (TestWriteOnOneReadOnAnother runs those).
func TestConformance(t *testing.T) {
	etcd := etcdtest.Start(t)
	objtest.Run(t, func(t *testing.T) objstore.ObjectLayer {
		if testing.Short() && strings.HasSuffix(t.Name(), "/ListPaging") {
			// Thousands of small writes over the node-to-node HTTP: 16 s alone, 60 s
			// under -race. The CI step without -short runs it.
			t.Skip("-short: ListPaging through a cluster runs without -short")
		}
		return clustertest.Start(t, clustertest.Options{Nodes: 4, DrivesPerNode: 2, Etcd: etcd.Endpoints}).Nodes[1].Deployment
	})
}

// A node with no drives in the list is a gateway: it joins through the embedded etcd as a
// client, reaches every drive remotely, and serves the same objects.
func TestGateway(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Nodes: 3, DrivesPerNode: 1})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	gw, err := cluster.New(cluster.Config{Args: c.Args, Self: "127.0.0.1:1", Parity: -1, Secret: clustertest.Secret,
		Deploy: deploy.Config{Log: slog.New(slog.DiscardHandler)}, Log: slog.New(slog.DiscardHandler), HardStop: true})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	if !gw.Gateway() {
		t.Fatal("a node without drives is not a gateway")
	}
	if err := gw.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Nodes[0].Deployment.MakeBucket(ctx, "bkt", objstore.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	body := []byte("through the gateway")
	if _, err := gw.Deployment.PutObject(ctx, "bkt", "k", bytes.NewReader(body), int64(len(body)), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	h, err := c.Nodes[2].Deployment.OpenObject(ctx, "bkt", "k")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(io.NewSectionReader(h, 0, h.Info().Size))
	h.Close()
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("read on node 3 what the gateway wrote: %q, %v", got, err)
	}
	ms, err := gw.Members(ctx)
	if err != nil || len(ms) != 4 {
		t.Fatalf("members: %v, %v", ms, err)
	}
}

// A node whose membership lease is lost (etcd unreachable for a whole TTL, here revoked)
// registers again: the others keep listing it.
func TestMembershipRegisteredAgain(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Nodes: 3, DrivesPerNode: 1})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cli := c.Nodes[0].Client()
	key := cluster.MemberPrefix + c.Nodes[2].Topology().Nodes[2]
	resp, err := cli.Get(ctx, key)
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("node 3's membership key %s: %v, %v", key, resp, err)
	}
	lease := clientv3.LeaseID(resp.Kvs[0].Lease)
	if _, err := cli.Revoke(ctx, lease); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		resp, err := cli.Get(ctx, key)
		if err == nil && len(resp.Kvs) == 1 && clientv3.LeaseID(resp.Kvs[0].Lease) != lease {
			break
		}
		if i == 100 {
			t.Fatalf("node 3 did not register again within 10 s of its lease's loss: %v, %v", resp, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	ms, err := c.Nodes[0].Members(ctx)
	if err != nil || len(ms) != 3 {
		t.Fatalf("members after the re-registration: %v, %v", ms, err)
	}
}

// The whole cluster restarted: the embedded etcd members come back from their data on the
// nodes' first drives, the nodes agree on the same deployment, the objects are there.
func TestRestart(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Nodes: 3, DrivesPerNode: 2})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	id := c.Nodes[0].Deployment.Layout.DeploymentID
	if err := c.Nodes[0].Deployment.MakeBucket(ctx, "bkt", objstore.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("survives a restart "), 50000)
	if _, err := c.Nodes[1].Deployment.PutObject(ctx, "bkt", "k", bytes.NewReader(body), int64(len(body)), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	c.Restart(t)
	for i, n := range c.Nodes {
		if got := n.Deployment.Layout.DeploymentID; got != id {
			t.Fatalf("node %d restarted into deployment %s, was %s", i+1, got, id)
		}
	}
	h, err := c.Nodes[2].Deployment.OpenObject(ctx, "bkt", "k")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(io.NewSectionReader(h, 0, h.Info().Size))
	h.Close()
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("after the restart: %d bytes, %v", len(got), err)
	}
}

// Losing a node costs each set at most its parity: with node 4 of a 4x2 cluster down (2
// drives of the set of 8, parity 4), node 1 writes and node 2 reads.
func TestNodeLost(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Nodes: 4, DrivesPerNode: 2})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, b := c.Nodes[0].Deployment, c.Nodes[1].Deployment
	if err := a.MakeBucket(ctx, "bkt", objstore.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	before := bytes.Repeat([]byte("before "), 300000)
	if _, err := a.PutObject(ctx, "bkt", "before", bytes.NewReader(before), int64(len(before)), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	c.Stop(3)
	after := bytes.Repeat([]byte("after "), 300000)
	if _, err := a.PutObject(ctx, "bkt", "after", bytes.NewReader(after), int64(len(after)), objstore.PutOptions{}); err != nil {
		t.Fatalf("PUT with a node down: %v", err)
	}
	for key, want := range map[string][]byte{"before": before, "after": after} {
		h, err := b.OpenObject(ctx, "bkt", key)
		if err != nil {
			t.Fatalf("%s with a node down: %v", key, err)
		}
		got, err := io.ReadAll(io.NewSectionReader(h, 0, h.Info().Size))
		h.Close()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s with a node down: %d bytes, %v", key, len(got), err)
		}
	}
}
