package clustertest_test

import (
	"bytes"
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/cluster/clustertest"
	"github.com/flashstor/flashstor/objstore/cluster/etcdtest"
)

// receiving makes node b of c receive the changes of node a (as a mount does) and waits
// until a knows it; counted, if set, counts what reaches b's subscribers.
func receiving(t testing.TB, c *clustertest.Cluster, a, b int, counted *atomic.Int64) {
	t.Helper()
	stop, err := c.Nodes[b].Feed().Receive(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	if counted != nil {
		t.Cleanup(c.Nodes[b].Deployment.Subscribe("", func(objstore.Event) { counted.Add(1) }))
	}
	etcdtest.Eventually(t, "node a knows that node b receives its changes", func() bool {
		return slices.Contains(c.Nodes[a].Feed().Receivers(), c.Nodes[b].Addr)
	})
}

// A put on node 0 has run through the subscribers of the receiving nodes 1 and 2 (not of
// node 3, which receives nothing) when it returns.
func TestFeedCrossesNodes(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Nodes: 4, DrivesPerNode: 1})
	var at1, at2, at3 atomic.Int64
	receiving(t, c, 0, 1, &at1)
	receiving(t, c, 0, 2, &at2)
	t.Cleanup(c.Nodes[3].Deployment.Subscribe("", func(objstore.Event) { at3.Add(1) }))
	ctx := context.Background()
	a := c.Nodes[0].Deployment
	if err := a.MakeBucket(ctx, "bkt", objstore.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := a.PutObject(ctx, "bkt", "k", bytes.NewReader([]byte("x")), 1, objstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		if got1, got2 := at1.Load(), at2.Load(); got1 != int64(i+2) || got2 != int64(i+2) {
			t.Fatalf("after put %d on node 0, nodes 1 and 2 ran %d and %d events, want %d", i, got1, got2, i+2)
		}
	}
	if err := a.DeleteObject(ctx, "bkt", "k"); err != nil {
		t.Fatal(err)
	}
	if at1.Load() != 7 || at3.Load() != 0 {
		t.Fatalf("node 1 ran %d events (want 7), node 3 %d (want 0)", at1.Load(), at3.Load())
	}
}

// BenchmarkPutFeed is the cost the relay adds to a small put of a two-node cluster: no
// node receives (no mount anywhere), or the other node does.
func BenchmarkPutFeed(b *testing.B) {
	for _, receiver := range []bool{false, true} {
		name := "receiver=none"
		if receiver {
			name = "receiver=other-node"
		}
		b.Run(name, func(b *testing.B) {
			c := clustertest.Start(b, clustertest.Options{Nodes: 2, DrivesPerNode: 2})
			if receiver {
				receiving(b, c, 0, 1, nil)
			}
			ctx := context.Background()
			a := c.Nodes[0].Deployment
			if err := a.MakeBucket(ctx, "bkt", objstore.MakeBucketOptions{}); err != nil {
				b.Fatal(err)
			}
			body := bytes.Repeat([]byte("x"), 4096)
			b.SetBytes(int64(len(body)))
			b.ResetTimer()
			for range b.N {
				if _, err := a.PutObject(ctx, "bkt", "k", bytes.NewReader(body), int64(len(body)), objstore.PutOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// A receiving node that stops (as a crash would) does not hold writes on the others: the
// put returns, the relay counts the node late and the event lost.
func TestFeedReceiverDown(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Nodes: 3, DrivesPerNode: 2})
	receiving(t, c, 0, 2, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a := c.Nodes[0].Deployment
	if err := a.MakeBucket(ctx, "bkt", objstore.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	c.Stop(2)
	if _, err := a.PutObject(ctx, "bkt", "k", bytes.NewReader([]byte("x")), 1, objstore.PutOptions{}); err != nil {
		t.Fatalf("a put with a receiving node down: %v", err)
	}
	if s := c.Nodes[0].Feed().Stats(); s.Late != 1 || s.Lost < 1 {
		t.Fatalf("node 0's relay: %+v, want the stopped node late and the put's event lost", s)
	}
}
