package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/flashstor/flashstor/objstore/storage"
)

// treeHolds reports what the tree has at key's metadata file: its bytes, or nil when the
// file is missing.
func treeHolds(t *testing.T, d *Drive, bucket, key string) []byte {
	t.Helper()
	p, err := d.objectPath(bucket, key)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustCommit(t *testing.T, ctx context.Context, d *Drive, bucket, key string, data []byte) {
	t.Helper()
	if err := d.CommitObject(ctx, bucket, key, data, "", ""); err != nil {
		t.Fatal(err)
	}
}

func wantMeta(t *testing.T, d *Drive, bucket, key string, want []byte) {
	t.Helper()
	got, err := d.ReadMeta(context.Background(), bucket, key)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("ReadMeta %s: %q, %v; want %q", key, got, err, want)
	}
}

// TestBacklogHoldsCommitsUntilTheTreeIsNeeded: a logged commit writes nothing into the
// tree; ReadMeta finds it; a walk writes the files under its directory first, and a
// checkpoint all of them.
func TestBacklogHoldsCommitsUntilTheTreeIsNeeded(t *testing.T) {
	ctx := context.Background()
	d := openRedo(t, t.TempDir(), 1<<20)
	d.redo.backlog.idleAfter = time.Hour // no background write during the test
	if err := d.MakeVolume(ctx, "bkt"); err != nil {
		t.Fatal(err)
	}
	keys := []string{"a/b", "a/c/d", "e"}
	for _, k := range keys {
		mustCommit(t, ctx, d, "bkt", k, redoContent(k, 1))
	}
	for _, k := range keys {
		if b := treeHolds(t, d, "bkt", k); b != nil {
			t.Fatalf("%s is in the tree right after its commit: the backlog is not used", k)
		}
		wantMeta(t, d, "bkt", k, redoContent(k, 1))
	}
	if _, err := d.ReadMeta(ctx, "bkt", "a/x"); !errors.Is(err, storage.ErrFileNotFound) {
		t.Fatalf("ReadMeta of a key never committed: %v, want ErrFileNotFound", err)
	}

	var listed []string
	err := d.Walk(ctx, "bkt", storage.WalkOptions{Prefix: "a/", Recursive: true}, func(e storage.Entry) error {
		listed = append(listed, e.Key)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(listed) != "[a/b a/c/d]" {
		t.Fatalf("walk of a/ listed %q, want the two keys committed under it", listed)
	}
	for _, k := range keys[:2] {
		if b := treeHolds(t, d, "bkt", k); !bytes.Equal(b, redoContent(k, 1)) {
			t.Fatalf("after the walk of its directory, the tree holds %q for %s", b, k)
		}
	}
	if b := treeHolds(t, d, "bkt", "e"); b != nil {
		t.Fatal("the walk of a/ wrote a file outside it")
	}

	if err := d.SyncFileSystem(ctx); err != nil {
		t.Fatal(err)
	}
	if b := treeHolds(t, d, "bkt", "e"); !bytes.Equal(b, redoContent("e", 1)) {
		t.Fatalf("after a checkpoint the tree holds %q for e", b)
	}
	if n := d.redo.backlog.size.Load(); n != 0 {
		t.Fatalf("after a checkpoint the backlog holds %d files", n)
	}
}

// TestBacklogNewestCommitWins: the tree gets the last commit of a path, whatever was
// written of it before.
func TestBacklogNewestCommitWins(t *testing.T) {
	ctx := context.Background()
	d := openRedo(t, t.TempDir(), 1<<20)
	d.redo.backlog.idleAfter = time.Hour
	if err := d.MakeVolume(ctx, "bkt"); err != nil {
		t.Fatal(err)
	}
	for v := 1; v <= 3; v++ {
		mustCommit(t, ctx, d, "bkt", "k", redoContent("k", v))
	}
	if _, err := d.ListDir(ctx, "bkt", ""); err != nil { // a listing writes the backlog
		t.Fatal(err)
	}
	if b := treeHolds(t, d, "bkt", "k"); !bytes.Equal(b, redoContent("k", 3)) {
		t.Fatalf("after a listing the tree holds %q, want the third commit", b)
	}
	mustCommit(t, ctx, d, "bkt", "k", redoContent("k", 4))
	wantMeta(t, d, "bkt", "k", redoContent("k", 4))
	if err := d.SyncFileSystem(ctx); err != nil {
		t.Fatal(err)
	}
	if b := treeHolds(t, d, "bkt", "k"); !bytes.Equal(b, redoContent("k", 4)) {
		t.Fatalf("after a checkpoint the tree holds %q, want the fourth commit", b)
	}
}

// TestBacklogBeforeTreeChanges: a change of a path that is not a logged commit finds the
// backlog's file of it in the tree, and nothing of the backlog comes back over it, neither
// at a checkpoint nor at a redo after a crash.
func TestBacklogBeforeTreeChanges(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(ctx context.Context, d *Drive) error
		// want is what key "d/k" holds after the change, nil for no object; "d/k2" too.
		want, want2 []byte
	}{
		{"delete", func(ctx context.Context, d *Drive) error {
			return d.DeleteObject(ctx, "bkt", "d/k")
		}, nil, nil},
		{"rename", func(ctx context.Context, d *Drive) error {
			return d.RenameObject(ctx, "bkt", "d/k", "d/k2")
		}, nil, redoContent("d/k", 1)},
		{"deferred commit", func(ctx context.Context, d *Drive) error {
			return d.CommitObject(storage.WithDeferredSync(ctx), "bkt", "d/k", redoContent("d/k", 2), "", "")
		}, redoContent("d/k", 2), nil},
		{"recursive delete of the directory", func(ctx context.Context, d *Drive) error {
			return d.Delete(ctx, "bkt", "d", true)
		}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			d := openRedo(t, dir, 1<<20)
			if err := d.MakeVolume(ctx, "bkt"); err != nil {
				t.Fatal(err)
			}
			mustCommit(t, ctx, d, "bkt", "d/k", redoContent("d/k", 1))
			if err := tc.change(ctx, d); err != nil {
				t.Fatal(err)
			}
			check := func(when string) {
				t.Helper()
				for _, c := range []struct {
					key  string
					want []byte
				}{{"d/k", tc.want}, {"d/k2", tc.want2}} {
					got, err := d.ReadMeta(ctx, "bkt", c.key)
					if c.want == nil {
						if !errors.Is(err, storage.ErrFileNotFound) && !errors.Is(err, storage.ErrVolumeNotFound) {
							t.Fatalf("%s: %s holds %q, %v; want no object", when, c.key, got, err)
						}
						continue
					}
					if err != nil || !bytes.Equal(got, c.want) {
						t.Fatalf("%s: %s holds %q, %v; want %q", when, c.key, got, err, c.want)
					}
				}
			}
			check("after the change")
			if err := d.SyncFileSystem(ctx); err != nil {
				t.Fatal(err)
			}
			check("after a checkpoint")
			// A crash right after the change: the log's records are redone at Open.
			mustCommit(t, ctx, d, "bkt", "other", redoContent("other", 1))
			d.redo.abandon()
			d = openRedo(t, dir, 1<<20)
			check("after a crash and a redo")
		})
	}
}

// TestBacklogWriteFailureKeepsTheLog: a backlog file that cannot be written fails the
// checkpoint that needed it, not the log: the object stays readable, commits go on, and
// the next checkpoint writes it.
func TestBacklogWriteFailureKeepsTheLog(t *testing.T) {
	ctx := context.Background()
	var failing atomic.Bool
	injected := errors.New("injected write failure")
	d, err := Open(t.TempDir(), Options{RedoLog: true, RedoLogSize: 1 << 20, Failpoint: func(step string) error {
		if step == "commit:rename-meta" && failing.Load() {
			return injected
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.redo.close() })
	if err := d.MakeVolume(ctx, "bkt"); err != nil {
		t.Fatal(err)
	}
	mustCommit(t, ctx, d, "bkt", "k", redoContent("k", 1))
	failing.Store(true)
	if err := d.SyncFileSystem(ctx); !errors.Is(err, injected) {
		t.Fatalf("checkpoint with a failing tree write: %v, want the write's error", err)
	}
	wantMeta(t, d, "bkt", "k", redoContent("k", 1))
	mustCommit(t, ctx, d, "bkt", "k2", redoContent("k2", 1))
	failing.Store(false)
	if err := d.SyncFileSystem(ctx); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"k", "k2"} {
		if b := treeHolds(t, d, "bkt", k); !bytes.Equal(b, redoContent(k, 1)) {
			t.Fatalf("after the second checkpoint the tree holds %q for %s", b, k)
		}
	}
}

// TestBacklogConcurrent: commits of the same keys race walks (which write the backlog)
// and checkpoints (a small log fills); at the end the tree, and a redo after a crash,
// hold each key's last commit. Run with -race.
func TestBacklogConcurrent(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d := openRedo(t, dir, 64<<10) // 15 records: checkpoints on the way
	if err := d.MakeVolume(ctx, "bkt"); err != nil {
		t.Fatal(err)
	}
	const writers, versions = 4, 30
	var wg sync.WaitGroup
	errs := make(chan error, writers+1)
	stop := make(chan struct{})
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("d%d/k", w%2) + fmt.Sprint(w)
			for v := 1; v <= versions; v++ {
				if err := d.CommitObject(ctx, "bkt", key, redoContent(key, v), "", ""); err != nil {
					errs <- err
					return
				}
				got, err := d.ReadMeta(ctx, "bkt", key)
				if err != nil || !bytes.Equal(got, redoContent(key, v)) {
					errs <- fmt.Errorf("%s right after commit %d: %q, %v", key, v, got, err)
					return
				}
			}
		}()
	}
	var walkers sync.WaitGroup
	walkers.Add(1)
	go func() {
		defer walkers.Done()
		for i := 0; i < 10_000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			err := d.Walk(ctx, "bkt", storage.WalkOptions{Prefix: fmt.Sprintf("d%d/", i%2), Recursive: true}, func(storage.Entry) error { return nil })
			if err != nil {
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	walkers.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	key := func(w int) string { return fmt.Sprintf("d%d/k", w%2) + fmt.Sprint(w) }
	if err := d.SyncFileSystem(ctx); err != nil {
		t.Fatal(err)
	}
	for w := range writers {
		if b := treeHolds(t, d, "bkt", key(w)); !bytes.Equal(b, redoContent(key(w), versions)) {
			t.Fatalf("after a checkpoint the tree holds %q for %s, want its last commit", b, key(w))
		}
	}
	// One more commit of each, then a crash: the redo writes them.
	for w := range writers {
		mustCommit(t, ctx, d, "bkt", key(w), redoContent(key(w), versions+1))
	}
	d.redo.abandon()
	d = openRedo(t, dir, 64<<10)
	for w := range writers {
		if b := treeHolds(t, d, "bkt", key(w)); !bytes.Equal(b, redoContent(key(w), versions+1)) {
			t.Fatalf("after a crash and a redo the tree holds %q for %s, want its last commit", b, key(w))
		}
	}
}

// TestBacklogWrittenWhenIdle: once commits stop, the backlog goes into the tree on its
// own; a commit within idleAfter of the timer's firing puts the write off.
func TestBacklogWrittenWhenIdle(t *testing.T) {
	ctx := context.Background()
	d := openRedo(t, t.TempDir(), 1<<20)
	if err := d.MakeVolume(ctx, "bkt"); err != nil {
		t.Fatal(err)
	}

	// The timer's decision, called directly (the timer itself set off for the test).
	d.redo.backlog.idleAfter = time.Hour
	mustCommit(t, ctx, d, "bkt", "k", redoContent("k", 1))
	d.redo.writeIdle() // the commit just came: put off
	if b := treeHolds(t, d, "bkt", "k"); b != nil {
		t.Fatal("the idle write ran right after a commit")
	}
	d.redo.backlog.lastAdd.Store(int64(time.Since(idleEpoch) - time.Hour - time.Second))
	d.redo.writeIdle() // an hour since the last commit: written
	if b := treeHolds(t, d, "bkt", "k"); !bytes.Equal(b, redoContent("k", 1)) {
		t.Fatalf("after the idle write the tree holds %q", b)
	}

	// The timer, for real.
	d.redo.backlog.idleAfter = 50 * time.Millisecond
	d.redo.backlog.armed.Store(false)
	mustCommit(t, ctx, d, "bkt", "k2", redoContent("k2", 1))
	deadline := time.Now().Add(10 * time.Second)
	for treeHolds(t, d, "bkt", "k2") == nil {
		if time.Now().After(deadline) {
			t.Fatal("the backlog was not written into the tree 10 s after the last commit")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := d.redo.backlog.size.Load(); n != 0 {
		t.Fatalf("after the idle write the backlog holds %d files", n)
	}
}

// fullDrive opens a drive with a redo log of 64 KiB on a tmpfs of size bytes of its own
// (root only), its backlog written only when a test asks.
func fullDrive(t *testing.T, size string) (*Drive, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("no tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	d, err := Open(dir, Options{RedoLog: true, RedoLogSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	d.redo.backlog.idleAfter = time.Hour
	if err := d.MakeVolume(context.Background(), "bkt"); err != nil {
		t.Fatal(err)
	}
	return d, dir
}

// fillFileSystem writes a file at p until the file system is full.
func fillFileSystem(t *testing.T, p string) {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i := 0; i < 1<<20; i++ {
		if _, err := f.Write(make([]byte, 4<<10)); err != nil {
			return
		}
	}
	t.Fatal("the file system never filled")
}

// TestBacklogFullDrive: a drive short of room commits small objects into the tree at
// once, so that a commit the tree cannot take fails (as without the backlog); the
// backlog's files left when the file system filled behind its back cannot be written at
// the checkpoint, yet removing an object still works (it is how room is made), and once
// there is room again the checkpoint writes them and the drive closes and opens cleanly.
func TestBacklogFullDrive(t *testing.T) {
	ctx := context.Background()
	d, dir := fullDrive(t, "4m")
	big := append([]byte("old;"), make([]byte, 60<<10)...) // too large for a record: a file in the tree
	mustCommit(t, ctx, d, "bkt", "old", big)
	if err := d.SyncFileSystem(ctx); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"k0", "k1", "k2"} {
		mustCommit(t, ctx, d, "bkt", k, redoContent(k, 1))
	}
	fillFileSystem(t, filepath.Join(dir, "filler"))

	// Every commit now fails, the first one included; their records fill the log (15
	// of them fit), whose checkpoint then cannot write the backlog.
	for i := range 30 {
		if err := d.CommitObject(ctx, "bkt", fmt.Sprint("n", i), redoContent("n", i), "", ""); !errors.Is(err, storage.ErrDriveFull) {
			t.Fatalf("small commit %d on a full file system: %v, want ErrDriveFull", i, err)
		}
	}
	if err := d.SyncFileSystem(ctx); !errors.Is(err, storage.ErrDriveFull) {
		t.Fatalf("checkpoint with a backlog the full tree cannot take: %v, want ErrDriveFull", err)
	}
	for _, k := range []string{"k0", "k1", "k2"} {
		wantMeta(t, d, "bkt", k, redoContent(k, 1))
	}
	if err := d.DeleteObject(ctx, "bkt", "old"); err != nil {
		t.Fatalf("removing an object from the full drive: %v", err)
	}
	if err := os.Remove(filepath.Join(dir, "filler")); err != nil {
		t.Fatal(err)
	}
	if err := d.SyncFileSystem(ctx); err != nil {
		t.Fatalf("checkpoint once there is room again: %v", err)
	}
	for _, k := range []string{"k0", "k1", "k2"} {
		if b := treeHolds(t, d, "bkt", k); !bytes.Equal(b, redoContent(k, 1)) {
			t.Fatalf("after the checkpoint the tree holds %q for %s", b, k)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d2, err := Open(dir, Options{RedoLog: true, RedoLogSize: 64 << 10})
	if err != nil {
		t.Fatalf("opening the drive again: %v", err)
	}
	d2.Close()
}

// TestBacklogDeleteVolumeRace: a commit racing the forced removal of its bucket. Whatever
// the order, once both have returned and the bucket is made again, the new bucket does
// not hold the key: a backlog entry added before the bucket went goes with it.
func TestBacklogDeleteVolumeRace(t *testing.T) {
	ctx := context.Background()
	d := openRedo(t, t.TempDir(), 1<<20)
	d.redo.backlog.idleAfter = time.Hour
	for i := range 300 {
		if err := d.MakeVolume(ctx, "bkt"); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- d.CommitObject(ctx, "bkt", "k", redoContent("k", i), "", "") }()
		if i%3 != 0 {
			time.Sleep(time.Duration(i%50) * time.Microsecond)
		}
		if err := d.DeleteVolume(ctx, "bkt", true); err != nil {
			t.Fatal(err)
		}
		cerr := <-done
		if err := d.MakeVolume(ctx, "bkt"); err != nil {
			t.Fatal(err)
		}
		if b, err := d.ReadMeta(ctx, "bkt", "k"); err == nil {
			t.Fatalf("round %d: the bucket made again holds k (%d bytes); the commit returned %v", i, len(b), cerr)
		}
		if err := d.DeleteVolume(ctx, "bkt", true); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBacklogRenameWritesNothing: a logged rename leaves the destination's file in the
// backlog and removes the source's from wherever it is, the tree or the backlog, without
// writing any file; a checkpoint then writes the destination's alone.
func TestBacklogRenameWritesNothing(t *testing.T) {
	ctx := context.Background()
	d := openRedo(t, t.TempDir(), 1<<20)
	d.redo.backlog.idleAfter = time.Hour
	if err := d.MakeVolume(ctx, "bkt"); err != nil {
		t.Fatal(err)
	}
	mustCommit(t, ctx, d, "bkt", "inTree", redoContent("inTree", 1))
	if err := d.SyncFileSystem(ctx); err != nil {
		t.Fatal(err)
	}
	mustCommit(t, ctx, d, "bkt", "dir/backlogged", redoContent("backlogged", 1))
	for _, r := range [][2]string{{"inTree", "x/inTree2"}, {"dir/backlogged", "backlogged2"}} {
		if err := d.RenameObject(ctx, "bkt", r[0], r[1]); err != nil {
			t.Fatal(err)
		}
		if b := treeHolds(t, d, "bkt", r[0]); b != nil {
			t.Fatalf("after its rename the tree still holds %s", r[0])
		}
		if b := treeHolds(t, d, "bkt", r[1]); b != nil {
			t.Fatalf("the rename to %s wrote its file into the tree", r[1])
		}
		if _, err := d.ReadMeta(ctx, "bkt", r[0]); !errors.Is(err, storage.ErrFileNotFound) {
			t.Fatalf("ReadMeta of %s after its rename: %v, want ErrFileNotFound", r[0], err)
		}
	}
	wantMeta(t, d, "bkt", "x/inTree2", redoContent("inTree", 1))
	wantMeta(t, d, "bkt", "backlogged2", redoContent("backlogged", 1))
	if _, err := os.Stat(filepath.Join(d.root, "bkt", "dir")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the source's directory, which held nothing else, is still there: %v", err)
	}
	if err := d.SyncFileSystem(ctx); err != nil {
		t.Fatal(err)
	}
	if b := treeHolds(t, d, "bkt", "x/inTree2"); !bytes.Equal(b, redoContent("inTree", 1)) {
		t.Fatalf("after a checkpoint the tree holds %q for x/inTree2", b)
	}
	if b := treeHolds(t, d, "bkt", "dir/backlogged"); b != nil {
		t.Fatal("a checkpoint wrote a renamed source")
	}
}
