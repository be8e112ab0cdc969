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

// TestOwnerCollectsWhileAnotherNodeRenames runs the collector of set 0 on its owner, a,
// and stops every drive's walk (where the drive runs it) between two keys while b renames an object of set 0 from
// the key the walks have not reached to the one they have passed, under locks granted by
// a. The object's data directory is old (the sets' clocks run two hours ahead): the
// collector must leave it, since a's lock watch saw b's rename. b, which does not own the
// set, does not collect it. The nodes reach the drives directly, or through remote drives.
func TestOwnerCollectsWhileAnotherNodeRenames(t *testing.T) {
	for _, viaRemote := range []bool{false, true} {
		name := "local drives"
		if viaRemote {
			name = "remote drives"
		}
		t.Run(name, func(t *testing.T) { testOwnerCollects(t, viaRemote) })
	}
}

func testOwnerCollects(t *testing.T, viaRemote bool) {
	var mu sync.Mutex
	var stopAt string
	arrived, release := 0, make(chan struct{})
	var during func()
	at := func(key string) {
		mu.Lock()
		if key != stopAt {
			mu.Unlock()
			return
		}
		arrived++
		last := arrived == testSetDrives
		mu.Unlock()
		if last {
			during()
			close(release)
			return
		}
		select {
		case <-release:
		case <-time.After(time.Minute):
			t.Error("a walk waited a minute for the others")
		}
	}
	c := newClusterWith(t, clusterOpts{
		viaRemote:     viaRemote,
		now:           func() time.Time { return time.Now().Add(2 * time.Hour) },
		unlockedReads: true,
		wrap:          func(d storage.Drive) storage.Drive { return walkStop{Drive: d, at: at} },
	}, "a", "b")
	a, b := c.nodes[0], c.nodes[1]
	waitOwner(t, a, 0)
	waitOwner(t, b, 1)
	ctx := context.Background()
	if err := a.pool.MakeBucket(ctx, "bkt", objstore.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	first, middle := keyIn(t, a.pool, 0, "a/first"), keyIn(t, a.pool, 0, "m/middle")
	src, dst := keyIn(t, a.pool, 0, "z/moved"), keyIn(t, a.pool, 0, "b/moved")
	put(t, a.pool, "bkt", first, "before the destination")
	put(t, a.pool, "bkt", middle, "where the walks stop")
	data := bytes.Repeat([]byte("renamed by another node "), 20000) // not inline
	if _, err := b.pool.PutObject(ctx, "bkt", src, bytes.NewReader(data), int64(len(data)), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}

	if _, err := b.sets[0].CollectGarbage(ctx, "bkt"); !errors.Is(err, erasureset.ErrCollectorOff) {
		t.Fatalf("b collected set 0, which a owns: %v", err)
	}
	var renameErr error
	mu.Lock()
	stopAt = middle
	during = func() { _, renameErr = b.pool.RenameObject(ctx, "bkt", src, dst, objstore.RenameOptions{}) }
	mu.Unlock()
	n, err := a.sets[0].CollectGarbage(ctx, "bkt")
	if renameErr != nil {
		t.Fatalf("rename during the walk: %v", renameErr)
	}
	if err != nil {
		t.Fatal(err)
	}
	if arrived != testSetDrives {
		t.Fatalf("%d walks reached the stop", arrived)
	}
	if n != 0 {
		t.Errorf("collected %d data directories; every one is referenced", n)
	}
	if got := get(t, b.pool, "bkt", dst); got != string(data) {
		t.Fatalf("%s reads %d bytes, want the %d renamed", dst, len(got), len(data))
	}
	if res, err := a.sets[0].HealObject(ctx, "bkt", dst, true); err != nil || len(res.Healed) > 0 {
		t.Fatalf("heal of %s after the collection: healed %v, %v; want nothing to do", dst, res.Healed, err)
	}
}
