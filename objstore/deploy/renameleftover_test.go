package deploy_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/faulty"
)

// TestHealAfterRenameLeftover: a rename within a set that one drive could not take (full
// or read-only: neither its rename nor the removal of the leftover copy) leaves that drive
// with the source key's record, which names the same data directory as the destination's
// (a rename moves the record, not the data: data directories are per bucket). One heal
// pass must leave every drive complete: it heals the destination onto that drive, which
// rebuilds the shared data directory, and removes the leftover source as dangling, which
// must not take the data directory with it. Before the fix the removal did, so a second
// heal found the destination's data missing on that drive: what TestChaos saw as "a
// second deep heal still found work" (healed chaos/w4/k1 on [d4], a mount worker's
// renamed key, on the drive that was filled or read-only).
//
// The source sorts after the destination, so that the heal's walk meets the destination
// first (the other order healed in one pass already).
func TestHealAfterRenameLeftover(t *testing.T) {
	const src, dst = "ren/k3", "ren/k1"
	for _, size := range []int{100 << 10, 3<<20 + 777} { // one part file; several stripes
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			f := newFixture(t, 4, 2)
			f.put(src, size, 77)
			f.d.Close()
			const stuck = 3
			var bad *faulty.Drive
			n := 0
			f.reopen(func(d storage.Drive) storage.Drive {
				fd := faulty.Wrap(d)
				if n == stuck {
					bad = fd
				}
				n++
				return fd
			})
			bad.Fail("RenameObject", storage.ErrDriveFull)
			bad.Fail("DeleteObject", storage.ErrDriveFull)
			ctx := context.Background()
			if _, err := f.d.RenameObject(ctx, faultBucket, src, dst, objstore.RenameOptions{}); err != nil {
				t.Fatalf("rename with drive %d refusing it: %v", stuck+1, err)
			}
			f.objects[dst] = f.objects[src]
			delete(f.objects, src)
			if _, err := os.Stat(f.metaPath(stuck, src)); err != nil {
				t.Fatalf("drive %d does not hold the leftover source record the test needs: %v", stuck+1, err)
			}
			bad.Clear()

			if n := f.healAll(); n == 0 {
				t.Fatal("the first heal found nothing to do")
			}
			if n := f.healAll(); n != 0 {
				t.Errorf("a second heal still found %d objects to work on: the first left a drive incomplete", n)
			}
			if _, err := os.Stat(f.metaPath(stuck, src)); err == nil {
				t.Errorf("the leftover source record is still on drive %d", stuck+1)
			}
			f.checkAll("after the heal")
		})
	}
}

// TestPutOverRenameLeftover: the same leftover source record, with the destination healed
// onto its drive (the heal the rename queues), then the source key written again: the
// put replaces the leftover record on that drive and must not remove the data directory
// it named, which the destination's record there names too.
func TestPutOverRenameLeftover(t *testing.T) {
	const src, dst, size = "ren/k3", "ren/k1", 3<<20 + 777
	f := newFixture(t, 4, 2)
	f.put(src, size, 77)
	f.d.Close()
	const stuck = 3
	var bad *faulty.Drive
	n := 0
	f.reopen(func(d storage.Drive) storage.Drive {
		fd := faulty.Wrap(d)
		if n == stuck {
			bad = fd
		}
		n++
		return fd
	})
	bad.Fail("RenameObject", storage.ErrDriveFull)
	bad.Fail("DeleteObject", storage.ErrDriveFull)
	ctx := context.Background()
	if _, err := f.d.RenameObject(ctx, faultBucket, src, dst, objstore.RenameOptions{}); err != nil {
		t.Fatalf("rename with drive %d refusing it: %v", stuck+1, err)
	}
	f.objects[dst] = f.objects[src]
	bad.Clear()
	if res, err := f.d.Sets()[0].HealObject(ctx, faultBucket, dst, true); err != nil || len(res.Healed) == 0 {
		t.Fatalf("heal of %s: %+v, %v; want it healed on drive %d", dst, res, err, stuck+1)
	}
	if _, err := os.Stat(f.metaPath(stuck, src)); err != nil {
		t.Fatalf("drive %d does not hold the leftover source record the test needs: %v", stuck+1, err)
	}
	f.put(src, 1<<20, 78)
	if n := f.healAll(); n != 0 {
		t.Errorf("a heal after the put found %d objects to work on: the put took the destination's data on drive %d", n, stuck+1)
	}
	f.checkAll("after the put")
}
