package owner

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/erasureset"
)

// BenchmarkLockRoundTrip is the cost of a write's lock in a cluster: the key's write lock
// and its bucket's read lock from the set's owner, granted from memory when this node owns
// the set (local) or over the lock API on loopback when another node does (remote: the
// acquire round trip, plus the release's), alone (grant) and around a 4 KiB PUT of 4
// local drives (put4KiB).
//
//	go test -run '^$' -bench LockRoundTrip -benchmem -count 6 ./objstore/cluster/owner/
func BenchmarkLockRoundTrip(b *testing.B) {
	c := newCluster(b, "a", "b")
	a := c.nodes[0]
	waitOwner(b, a, 0)
	waitOwner(b, c.nodes[1], 1)
	if err := a.pool.MakeBucket(context.Background(), "bkt", objstore.MakeBucketOptions{}); err != nil {
		b.Fatal(err)
	}
	body := strings.Repeat("x", 4<<10)
	for _, where := range []struct {
		name string
		set  int
	}{{"local", 0}, {"remote", 1}} {
		key := keyIn(b, a.pool, where.set, "bench")
		names := []string{erasureset.LockName("bkt", key)}
		reads := []string{"\x00bucket/bkt"}
		b.Run(fmt.Sprintf("grant/%s", where.name), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, unlock, err := a.Locker().Grant(context.Background(), names, reads)
				if err != nil {
					b.Fatal(err)
				}
				unlock()
			}
		})
		b.Run(fmt.Sprintf("put4KiB/%s", where.name), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := a.pool.PutObject(context.Background(), "bkt", key, strings.NewReader(body), int64(len(body)), objstore.PutOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
