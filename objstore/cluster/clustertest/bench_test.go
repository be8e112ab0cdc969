package clustertest_test

import (
	"bytes"
	"context"
	"strconv"
	"testing"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/cluster/clustertest"
	"github.com/flashstor/flashstor/objstore/cluster/etcdtest"
	"github.com/flashstor/flashstor/objstore/erasureset"
)

// BenchmarkPutSmall takes a key's lock alone (lock/) and puts 4 KiB objects (put4KiB/) into a 3-node cluster (one set of 6 drives, node 0
// its owner) through the owner, whose locks cost no message, and through another node,
// whose every write takes its key's lock from the owner over one round trip (and releases
// it over another): the difference is the cost of the remote lock.
func BenchmarkPutSmall(b *testing.B) {
	etcd := etcdtest.Start(b)
	c := clustertest.Start(b, clustertest.Options{Nodes: 3, DrivesPerNode: 2, Etcd: etcd.Endpoints})
	ctx := context.Background()
	if err := c.Nodes[0].Deployment.MakeBucket(ctx, "bkt", objstore.MakeBucketOptions{}); err != nil {
		b.Fatal(err)
	}
	body := bytes.Repeat([]byte("x"), 4096)
	vias := []struct {
		name string
		node int
	}{{"owner", 0}, {"other", 1}}
	for _, via := range vias {
		b.Run("lock/"+via.name, func(b *testing.B) {
			locks := c.Nodes[via.node].Owner().Locker()
			names, reads := []string{erasureset.LockName("bkt", "k")}, []string{"\x00bucket/bkt"}
			for b.Loop() {
				_, unlock, err := locks.Grant(ctx, names, reads)
				if err != nil {
					b.Fatal(err)
				}
				unlock()
			}
		})
	}
	for _, via := range vias {
		b.Run("put4KiB/"+via.name, func(b *testing.B) {
			layer := c.Nodes[via.node].Deployment
			b.SetBytes(int64(len(body)))
			i := 0
			for b.Loop() {
				i++
				if _, err := layer.PutObject(ctx, "bkt", via.name+strconv.Itoa(i%64), bytes.NewReader(body), int64(len(body)), objstore.PutOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
