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

// A rename within a set that one drive could not take (full or read-only: neither its
// rename nor the removal of the leftover copy) leaves that drive with the source key's
// record, which names the same data directory as the destination's (a rename moves the
// record, not the data: data directories are per bucket). Once the destination is healed
// onto that drive, two records there name one directory, and replacing or removing the
// leftover must not take the destination's data. TestChaos saw it as "a second deep heal
// still found work" (healed chaos/w4/k1 on [d4]: a mount worker's renamed key, on the
// drive that was filled or made read-only).

// The source sorts after the destination, so that a heal's walk meets the destination
// first (in the other order one heal pass was enough already).
const leftoverSrc, leftoverDst = "ren/k3", "ren/k1"

// leftoverDrive is the drive that refuses the rename.
const leftoverDrive = 3

// renameLeftover writes leftoverSrc (size bytes), renames it to leftoverDst while
// leftoverDrive refuses renames and deletes, and returns the fixture with that drive
// writable again and holding the leftover source record.
func renameLeftover(t *testing.T, size int) *fixture {
	t.Helper()
	f := newFixture(t, 4, 2)
	f.put(leftoverSrc, size, 77)
	f.d.Close()
	var bad *faulty.Drive
	n := 0
	f.reopen(func(d storage.Drive) storage.Drive {
		fd := faulty.Wrap(d)
		if n == leftoverDrive {
			bad = fd
		}
		n++
		return fd
	})
	bad.Fail("RenameObject", storage.ErrDriveFull)
	bad.Fail("DeleteObject", storage.ErrDriveFull)
	if _, err := f.d.RenameObject(context.Background(), faultBucket, leftoverSrc, leftoverDst, objstore.RenameOptions{}); err != nil {
		t.Fatalf("rename with drive %d refusing it: %v", leftoverDrive+1, err)
	}
	f.objects[leftoverDst] = f.objects[leftoverSrc]
	delete(f.objects, leftoverSrc)
	bad.Clear()
	f.checkLeftover(true)
	return f
}

// checkLeftover checks whether leftoverDrive holds the leftover source record.
func (f *fixture) checkLeftover(want bool) {
	f.t.Helper()
	if _, err := os.Stat(f.metaPath(leftoverDrive, leftoverSrc)); (err == nil) != want {
		f.t.Fatalf("drive %d holds the leftover source record: %v, want %v (%v)", leftoverDrive+1, err == nil, want, err)
	}
}

// TestHealAfterRenameLeftover: one heal pass leaves every drive complete. It heals the
// destination onto the drive, which rebuilds the shared data directory, and removes the
// leftover source as dangling, which must not take the directory with it (it did: the
// second heal found the destination's data missing on that drive).
func TestHealAfterRenameLeftover(t *testing.T) {
	for _, size := range []int{5000, 3<<20 + 777} { // inline; parts in a data directory
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			f := renameLeftover(t, size)
			if n := f.healAll(); n == 0 {
				t.Fatal("the first heal found nothing to do")
			}
			if n := f.healAll(); n != 0 {
				t.Errorf("a second heal still found %d objects to work on: the first left a drive incomplete", n)
			}
			f.checkLeftover(false)
			f.checkAll("after the heal")
		})
	}
}

// TestPutOverRenameLeftover: with the destination healed onto the drive (the heal the
// rename queues), a put of the source key replaces the leftover record there and must not
// remove the data directory it named, which the destination's record names too.
func TestPutOverRenameLeftover(t *testing.T) {
	f := renameLeftover(t, 3<<20+777)
	res, err := f.d.Sets()[0].HealObject(context.Background(), faultBucket, leftoverDst, true)
	if err != nil || len(res.Healed) == 0 {
		t.Fatalf("heal of %s: %+v, %v; want it healed on drive %d", leftoverDst, res, err, leftoverDrive+1)
	}
	f.checkLeftover(true)
	f.put(leftoverSrc, 1<<20, 78)
	if n := f.healAll(); n != 0 {
		t.Errorf("a heal after the put found %d objects to work on: the put took the destination's data on drive %d", n, leftoverDrive+1)
	}
	f.checkAll("after the put")
}
