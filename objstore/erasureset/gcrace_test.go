package erasureset

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/layout"
	"github.com/flashstor/flashstor/objstore/nslock"
	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/faulty"
	"github.com/flashstor/flashstor/objstore/storage/local"
)

// walkHookDrive is a real local drive whose Walk calls at(key) before it hands the entry
// of key to its caller, and whose Delete calls deleting(path) first: a test stops a walk
// at a chosen position, or the collector before a removal, with it.
type walkHookDrive struct {
	storage.Drive
	at       func(key string)
	deleting func(path string)
}

func (d *walkHookDrive) Delete(ctx context.Context, volume, path string, recursive bool) error {
	if d.deleting != nil {
		d.deleting(path)
	}
	return d.Drive.Delete(ctx, volume, path, recursive)
}

func (d *walkHookDrive) Walk(ctx context.Context, bucket string, opts storage.WalkOptions, fn func(storage.Entry) error) error {
	return d.Drive.Walk(ctx, bucket, opts, func(e storage.Entry) error {
		if d.at != nil {
			d.at(e.Key)
		}
		return fn(e)
	})
}

// barrier lets n goroutines through once all of them arrived, and runs once, first, with
// all of them waiting; a goroutine that waits longer than a minute fails the test.
type barrier struct {
	t    *testing.T
	n    int
	mu   sync.Mutex
	came int
	open chan struct{}
	once func()
}

func (b *barrier) arrive() {
	b.mu.Lock()
	b.came++
	last := b.came == b.n
	b.mu.Unlock()
	if last {
		b.once()
		close(b.open)
		return
	}
	select {
	case <-b.open:
	case <-time.After(time.Minute):
		b.t.Error("a walk waited a minute at the barrier")
	}
}

// gcRaceFixture is a 2+2 set of real local drives whose walks can be stopped at a key and
// whose calls can be made to fail.
type gcRaceFixture struct {
	set    *Set
	dirs   []string
	drives []*walkHookDrive
	faults []*faulty.Drive
	// other, when the fixture shares its drives, is a second set over the same drives and
	// locks, as another cluster node's set of them is: its claims are its own.
	other *Set
	locks *nslock.Map
}

const gcRaceBucket = "gc-race"

// openLocalDrive opens a local drive in a new temporary directory.
func openLocalDrive(t *testing.T) (string, storage.Drive) {
	t.Helper()
	dir := t.TempDir()
	d, err := local.Open(dir, local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return dir, d
}

// sharedLocks is one lock map that every set of a test takes its locks from, as every node
// of a cluster takes a set's locks from its owner: it sees every writer, so it can watch.
type sharedLocks struct{ *nslock.Map }

func (l sharedLocks) WatchLocks(ctx context.Context, set int, prefix string) (context.Context, *nslock.Watch, error) {
	return ctx, l.Watch(prefix), nil
}

// newGCRaceFixture returns a fixture; with shared, its drives are shared with f.other.
func newGCRaceFixture(t *testing.T, shared bool) *gcRaceFixture {
	f := &gcRaceFixture{locks: &nslock.Map{}}
	var drives []storage.Drive
	for range 4 {
		dir, d := openLocalDrive(t)
		fd := faulty.Wrap(d)
		w := &walkHookDrive{Drive: fd}
		f.faults = append(f.faults, fd)
		f.dirs = append(f.dirs, dir)
		f.drives = append(f.drives, w)
		drives = append(drives, w)
	}
	// The set's clock, the collector's, runs two graces ahead: every directory is old.
	cfg := Config{Drives: drives, Parity: 2, InlineLimit: -1, Locks: sharedLocks{f.locks}, SharedDrives: shared,
		Now: func() time.Time { return time.Now().Add(2 * garbageGrace) }}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.set = s
	if shared {
		if f.other, err = New(cfg); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.MakeBucket(context.Background(), gcRaceBucket); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *gcRaceFixture) put(t *testing.T, key string, data []byte) {
	t.Helper()
	if _, err := f.set.PutObject(context.Background(), gcRaceBucket, key, bytes.NewReader(data), int64(len(data)), objstore.PutOptions{}, nil); err != nil {
		t.Fatal(err)
	}
}

// stopWalksAt makes every drive's walk of the bucket wait at key until all of them are
// there, run during() once, then go on: the operation runs while every walk is between
// the keys before key and key itself.
func (f *gcRaceFixture) stopWalksAt(t *testing.T, key string, during func()) {
	b := &barrier{t: t, n: len(f.drives), open: make(chan struct{}), once: during}
	for _, d := range f.drives {
		var once sync.Once
		d.at = func(k string) {
			if k == key {
				once.Do(b.arrive)
			}
		}
	}
}

// checkWhole fails unless key reads back as want through the set and every drive holds
// all of its shards: a heal of it, checking every shard's checksums, finds nothing to do.
func (f *gcRaceFixture) checkWhole(t *testing.T, key string, want []byte) {
	t.Helper()
	c := context.Background()
	h, err := f.set.OpenObject(c, gcRaceBucket, key)
	if err != nil {
		t.Fatalf("open %s: %v", key, err)
	}
	got := make([]byte, len(want))
	_, err = h.ReadAt(got, 0)
	dir := h.(*handle).dataDir
	h.Close()
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s does not read back whole: %v", key, err)
	}
	for i, root := range f.dirs {
		if _, err := os.Stat(filepath.Join(root, gcRaceBucket, layout.DataDirPath(dir))); err != nil {
			t.Errorf("drive %d lost the data directory of %s: %v", i, key, err)
		}
	}
	res, err := f.set.HealObject(c, gcRaceBucket, key, true)
	if err != nil || len(res.Healed) > 0 {
		t.Fatalf("heal of %s after collection: healed %v, %v; want nothing to do", key, res.Healed, err)
	}
}

// seedOld puts a/first, m/middle (where walks stop) and data at z/moved: their data
// directories are two graces old to the collector (the set's clock).
func (f *gcRaceFixture) seedOld(t *testing.T, data []byte) {
	t.Helper()
	f.put(t, "a/first", []byte("before the destination"))
	f.put(t, "m/middle", []byte("where the walks stop"))
	f.put(t, "z/moved", data)
}

// missed is the drive that misses the rename of newMissedRename.
const missed = 3

// newMissedRename returns a fixture (see newGCRaceFixture) seeded with data at z/moved
// (seedOld), then renamed to b/moved as the pool does (under both keys' write locks) while
// drive missed refuses renames: the others take it, and the rename's clean-up leaves
// missed the object's data directory without a record naming it.
func newMissedRename(t *testing.T, shared bool, data []byte) *gcRaceFixture {
	t.Helper()
	f := newGCRaceFixture(t, shared)
	f.seedOld(t, data)
	c := context.Background()
	f.faults[missed].Fail("RenameObject", storage.ErrDriveFull)
	defer f.faults[missed].Clear()
	unlock, err := f.locks.Lock(c, LockName(gcRaceBucket, "z/moved"), LockName(gcRaceBucket, "b/moved"))
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if _, err := f.set.RenameObject(c, gcRaceBucket, "z/moved", "b/moved", objstore.RenameOptions{}); err != nil {
		t.Fatal(err)
	}
	return f
}

// collectHealing collects with the heal of b/moved by healer run once where install puts
// it, and returns how many directories the collection removed; it fails unless the heal
// rebuilt drive missed's copy (see newMissedRename).
func (f *gcRaceFixture) collectHealing(t *testing.T, healer *Set, install func(heal func())) int {
	t.Helper()
	c := context.Background()
	var healed HealResult
	var healErr error
	var once sync.Once
	install(func() { once.Do(func() { healed, healErr = healer.HealObject(c, gcRaceBucket, "b/moved", false) }) })
	n, err := f.set.CollectGarbage(c, gcRaceBucket)
	if err != nil {
		t.Fatal(err)
	}
	if healErr != nil || len(healed.Healed) != 1 || healed.Healed[0] != missed {
		t.Fatalf("the heal during the collection healed %v, %v; want drive %d", healed.Healed, healErr, missed)
	}
	return n
}

// TestCollectGarbageRenameDuringWalk moves an object whose data directory is older than
// the grace from a key the collector's walks have not reached to one they have passed,
// while every drive's walk is between the two: the collector must not take its data. The
// move is the set's rename, or the completion of an interrupted one (RenameOnDrives, each
// drive's record moved as it is), by the collecting set (its claims protect) or by another
// set over the same drives and locks, as another cluster node's (the collector's watch of
// the locks protects).
func TestCollectGarbageRenameDuringWalk(t *testing.T) {
	moves := []struct {
		name string
		move func(s *Set) error
	}{
		{"RenameObject", func(s *Set) error {
			_, err := s.RenameObject(context.Background(), gcRaceBucket, "z/moved", "b/moved", objstore.RenameOptions{})
			return err
		}},
		{"RenameOnDrives", func(s *Set) error {
			return errors.Join(s.RenameOnDrives(context.Background(), gcRaceBucket, "z/moved", "b/moved")...)
		}},
	}
	for _, shared := range []bool{false, true} {
		for _, tt := range moves {
			name := tt.name
			if shared {
				name += " by another process"
			}
			t.Run(name, func(t *testing.T) {
				f := newGCRaceFixture(t, shared)
				data := bytes.Repeat([]byte("renamed while collected "), 20000)
				f.seedOld(t, data)
				mover := f.set
				if shared {
					mover = f.other
				}
				var moveErr error
				f.stopWalksAt(t, "m/middle", func() {
					// As the pool does: under both keys' write locks.
					unlock, err := f.locks.Lock(context.Background(), LockName(gcRaceBucket, "z/moved"), LockName(gcRaceBucket, "b/moved"))
					if err != nil {
						moveErr = err
						return
					}
					defer unlock()
					moveErr = tt.move(mover)
				})
				n, err := f.set.CollectGarbage(context.Background(), gcRaceBucket)
				if moveErr != nil {
					t.Fatal(moveErr)
				}
				if err != nil {
					t.Fatal(err)
				}
				if n != 0 {
					t.Errorf("collected %d data directories; every one is referenced", n)
				}
				f.checkWhole(t, "b/moved", data)
				if _, err := f.set.StatObject(context.Background(), gcRaceBucket, "z/moved"); !errors.Is(err, objstore.ErrObjectNotFound) {
					t.Fatalf("the source after the rename: %v", err)
				}
			})
		}
	}
}

// TestCollectGarbageHealDuringWalk heals, while one drive's walk is past the key, an
// object whose rename that drive missed: the rename's clean-up left the drive the data
// directory without a record, the heal writes the drive's record at the new key and
// rebuilds the directory there. The collector, which listed the directory as old and
// unreferenced, must leave what the heal rebuilt.
func TestCollectGarbageHealDuringWalk(t *testing.T) {
	data := bytes.Repeat([]byte("healed while collected "), 20000)
	f := newMissedRename(t, false, data)
	n := f.collectHealing(t, f.set, func(heal func()) {
		f.drives[missed].at = func(k string) {
			if k == "m/middle" {
				heal()
			}
		}
	})
	if n != 0 {
		t.Errorf("collected %d data directories; every one is referenced", n)
	}
	f.checkWhole(t, "b/moved", data)
}

// TestCollectGarbageHealBetweenRemovals heals, from another process (a second set over the
// same drives and locks), an object onto the drive that missed its rename, while the
// collector removes that drive's old orphans, after its walk and its reads of the keys
// written during the walk: the heal rebuilds a data directory that the collector had
// found unreferenced. The collector reads the healed key's record again before its next
// removal, and keeps the directory.
func TestCollectGarbageHealBetweenRemovals(t *testing.T) {
	data := bytes.Repeat([]byte("healed between removals "), 20000)
	f := newMissedRename(t, true, data)
	// An orphan older than the object's directory: removed first.
	orphan := hexID(newDataDirID(time.Now().Add(-time.Hour)))
	if err := os.MkdirAll(filepath.Join(f.dirs[missed], gcRaceBucket, layout.DataDirPath(orphan)), 0o755); err != nil {
		t.Fatal(err)
	}
	n := f.collectHealing(t, f.other, func(heal func()) {
		f.drives[missed].deleting = func(path string) {
			if path == layout.DataDirPath(orphan) {
				heal()
			}
		}
	})
	if n != 1 {
		t.Errorf("collected %d data directories; want the orphan only", n)
	}
	f.checkWhole(t, "b/moved", data)
}
