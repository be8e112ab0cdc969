package owner

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/erasureset"
	"github.com/flashstor/flashstor/objstore/storage"
)

// walkStop is a drive whose walks call at(key) before they hand over key's entry.
type walkStop struct {
	storage.Drive
	at func(key string)
}

func (d walkStop) Walk(ctx context.Context, bucket string, opts storage.WalkOptions, fn func(storage.Entry) error) error {
	return d.Drive.Walk(ctx, bucket, opts, func(e storage.Entry) error {
		d.at(e.Key)
		return fn(e)
	})
}

// gcCluster is a two-node cluster (a owns set 0, b set 1) whose drives' walks can be
// stopped, all of them, at one key while an operation runs; the sets' clocks run two
// hours ahead, so that every data directory is old to the collector. Bucket bkt holds, in
// set 0, keys first < dst < middle < src: data at src.
type gcCluster struct {
	*cluster
	a, b                    *testNode
	first, middle, src, dst string
	data                    []byte

	mu      sync.Mutex
	stopAt  string
	during  func()
	arrived int
	release chan struct{}
}

func newGCCluster(t *testing.T, viaRemote bool) *gcCluster {
	g := &gcCluster{release: make(chan struct{})}
	g.cluster = newClusterWith(t, clusterOpts{
		viaRemote:     viaRemote,
		now:           func() time.Time { return time.Now().Add(2 * time.Hour) },
		unlockedReads: true,
		wrap:          func(d storage.Drive) storage.Drive { return walkStop{Drive: d, at: func(k string) { g.at(t, k) }} },
	}, "a", "b")
	g.a, g.b = g.nodes[0], g.nodes[1]
	waitOwner(t, g.a, 0)
	waitOwner(t, g.b, 1)
	ctx := context.Background()
	if err := g.a.pool.MakeBucket(ctx, "bkt", objstore.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	g.first, g.middle = keyIn(t, g.a.pool, 0, "a/first"), keyIn(t, g.a.pool, 0, "m/middle")
	g.src, g.dst = keyIn(t, g.a.pool, 0, "z/moved"), keyIn(t, g.a.pool, 0, "b/moved")
	put(t, g.a.pool, "bkt", g.first, "before the destination")
	put(t, g.a.pool, "bkt", g.middle, "where the walks stop")
	g.data = bytes.Repeat([]byte("renamed by another node "), 20000) // not inline
	if _, err := g.b.pool.PutObject(ctx, "bkt", g.src, bytes.NewReader(g.data), int64(len(g.data)), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	return g
}

// stopWalksAt makes every drive's walk wait at key until all of them are there, run
// during() once, then go on.
func (g *gcCluster) stopWalksAt(key string, during func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.stopAt, g.during = key, during
}

func (g *gcCluster) at(t *testing.T, key string) {
	g.mu.Lock()
	if key != g.stopAt {
		g.mu.Unlock()
		return
	}
	g.arrived++
	last := g.arrived == testSetDrives
	g.mu.Unlock()
	if last {
		g.during()
		close(g.release)
		return
	}
	select {
	case <-g.release:
	case <-time.After(time.Minute):
		t.Error("a walk waited a minute for the others")
	}
}

// checkRenamed fails unless dst reads back whole through b and a deep heal of it by node
// finds nothing to do.
func (g *gcCluster) checkRenamed(t *testing.T, node *testNode) {
	t.Helper()
	if got := get(t, g.b.pool, "bkt", g.dst); got != string(g.data) {
		t.Fatalf("%s reads %d bytes, want the %d renamed", g.dst, len(got), len(g.data))
	}
	if res, err := node.sets[0].HealObject(context.Background(), "bkt", g.dst, true); err != nil || len(res.Healed) > 0 {
		t.Fatalf("heal of %s after the collection: healed %v, %v; want nothing to do", g.dst, res.Healed, err)
	}
}

// TestOwnerCollectsWhileAnotherNodeRenames runs the collector of set 0 on its owner, a,
// and stops every drive's walk (where the drive runs it) between two keys while b renames
// an object of set 0 from the key the walks have not reached to the one they have passed,
// under locks granted by a. The object's data directory is old: the collector must leave
// it, since a's lock watch saw b's rename. b, which does not own the set, does not collect
// it. The nodes reach the drives directly, or through remote drives.
func TestOwnerCollectsWhileAnotherNodeRenames(t *testing.T) {
	for _, viaRemote := range []bool{false, true} {
		name := "local drives"
		if viaRemote {
			name = "remote drives"
		}
		t.Run(name, func(t *testing.T) {
			g := newGCCluster(t, viaRemote)
			ctx := context.Background()
			if _, err := g.b.sets[0].CollectGarbage(ctx, "bkt"); !errors.Is(err, erasureset.ErrCollectorOff) {
				t.Fatalf("b collected set 0, which a owns: %v", err)
			}
			var renameErr error
			g.stopWalksAt(g.middle, func() {
				_, renameErr = g.b.pool.RenameObject(ctx, "bkt", g.src, g.dst, objstore.RenameOptions{})
			})
			n, err := g.a.sets[0].CollectGarbage(ctx, "bkt")
			if renameErr != nil {
				t.Fatalf("rename during the walk: %v", renameErr)
			}
			if err != nil {
				t.Fatal(err)
			}
			if g.arrived != testSetDrives {
				t.Fatalf("%d walks reached the stop", g.arrived)
			}
			if n != 0 {
				t.Errorf("collected %d data directories; every one is referenced", n)
			}
			g.checkRenamed(t, g.a)
		})
	}
}

// TestDeposedOwnerCollectsNothing stops the walks of a's collection of set 0, makes a lose
// the set to b (its lease revoked), and has b rename the object across the walks: a's
// watch cannot see b's grants, but the drives, fenced by b's epoch, refuse a's removals.
func TestDeposedOwnerCollectsNothing(t *testing.T) {
	g := newGCCluster(t, false)
	ctx := context.Background()
	e1 := waitOwner(t, g.a, 0)
	var renameErr error
	g.stopWalksAt(g.middle, func() {
		g.a.mu.Lock()
		lease := g.a.session.Lease()
		g.a.mu.Unlock()
		if _, err := g.etcd.Client(t).Revoke(ctx, lease); err != nil {
			renameErr = err
			return
		}
		if e2 := waitOwner(t, g.b, 0); e2 <= e1 {
			renameErr = errors.New("no newer epoch")
			return
		}
		_, renameErr = g.b.pool.RenameObject(ctx, "bkt", g.src, g.dst, objstore.RenameOptions{})
	})
	n, err := g.a.sets[0].CollectGarbage(ctx, "bkt")
	if renameErr != nil {
		t.Fatalf("the takeover and rename during the walk: %v", renameErr)
	}
	if n != 0 {
		t.Errorf("the deposed owner collected %d data directories", n)
	}
	if !errors.Is(err, storage.ErrStaleEpoch) {
		t.Errorf("the deposed owner's collection: %v; want its removals refused (ErrStaleEpoch)", err)
	}
	g.checkRenamed(t, g.b)
}
