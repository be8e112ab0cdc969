package erasureset

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/meta"
	"github.com/flashstor/flashstor/objstore/nslock"
	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/faulty"
)

// within runs fn on another goroutine and fails the test if it has not returned after 30
// s (a call that waited for a stalled drive would not, until the test released it).
func within(t *testing.T, what string, fn func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("%s waited for the stalled slow drive", what)
	}
}

// stallDrive0 makes drive 0 of f slow (teachSlow) and stalls its calls of methods until
// the returned release is called (also at the test's end).
func stallDrive0(t *testing.T, f *bitrotFixture, fd []*faulty.Drive, methods ...string) (release func()) {
	teachSlow(f, fd, 0)
	ch := make(chan struct{})
	for _, m := range methods {
		fd[0].Stall(m, ch)
	}
	var once sync.Once
	release = func() { once.Do(func() { close(ch) }) }
	t.Cleanup(release)
	return release
}

// stallCommits makes drive 0 of f slow and stalls its record commits and deletions until
// the returned release is called; with err, the commits fail with it once released.
func stallCommits(t *testing.T, f *bitrotFixture, fd []*faulty.Drive, err error) (release func()) {
	if err == nil {
		return stallDrive0(t, f, fd, "CommitObject", "DeleteObject")
	}
	releaseOthers := stallDrive0(t, f, fd)
	ch := make(chan struct{})
	fd[0].StallThenFail("CommitObject", ch, err)
	var once sync.Once
	release = func() { once.Do(func() { close(ch); releaseOthers() }) }
	t.Cleanup(release)
	return release
}

// putKey writes body to key and returns the version it made, within the bound.
func putKey(t *testing.T, f *bitrotFixture, key string, body []byte) [16]byte {
	t.Helper()
	var id [16]byte
	within(t, "a put with drive 0's commits stalled", func() error {
		ctx := context.Background()
		lock := func(ctx context.Context) (context.Context, nslock.Unlock, error) {
			return f.set.cfg.Locks.Grant(ctx, []string{LockName(bitrotBucket, key)}, nil)
		}
		_, err := f.set.PutObject(ctx, bitrotBucket, key, bytes.NewReader(body), int64(len(body)), objstore.PutOptions{}, lock)
		if err == nil {
			id, err = f.set.VersionID(ctx, bitrotBucket, key)
		}
		return err
	})
	return id
}

// driveVersion returns the version id of drive i's own record of key (zero: none).
func driveVersion(t *testing.T, fd []*faulty.Drive, i int, key string) [16]byte {
	t.Helper()
	raw, err := fd[i].ReadMeta(context.Background(), bitrotBucket, key)
	if errors.Is(err, storage.ErrFileNotFound) {
		return [16]byte{}
	}
	if err != nil {
		t.Fatal(err)
	}
	var m meta.Object
	if err := m.UnmarshalShared(raw, nil); err != nil {
		t.Fatal(err)
	}
	return m.VersionID
}

// waitLate waits, within the bound, for the late writes of key to end.
func waitLate(t *testing.T, f *bitrotFixture, key string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := f.set.late.wait(ctx, bitrotBucket, key); err != nil {
		t.Fatal(err)
	}
}

func healQueued(f *bitrotFixture, key string) bool {
	q := &f.set.heal
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.queued[healItem{bitrotBucket, key}]
}

// TestPutLeavesSlowDriveLate: a put whose commit on a slow drive stalls returns once the
// other drives (a write quorum) have it; the slow drive's commit ends in the background and
// leaves the drive with the same version as the others, with no heal needed.
func TestPutLeavesSlowDriveLate(t *testing.T) {
	f, fd := slowFixture(t)
	release := stallCommits(t, f, fd, nil)
	body := []byte("written while drive 0 is slow")
	id := putKey(t, f, "k", body)
	if got := f.set.late.mask(bitrotBucket, "k"); got != 1 {
		t.Fatalf("late drives of k: %04b, want drive 0's commit", got)
	}
	// Read back meanwhile, without the slow drive.
	within(t, "a read of the key with a late write", func() error {
		ctx := context.Background()
		h, err := f.set.OpenObject(ctx, bitrotBucket, "k")
		if err != nil {
			return err
		}
		defer h.Close()
		var got bytes.Buffer
		if _, err := h.WriteRange(ctx, &got, 0, int64(len(body))); err != nil {
			return err
		}
		if !bytes.Equal(got.Bytes(), body) {
			return errors.New("read back other bytes")
		}
		return nil
	})
	release()
	waitLate(t, f, "k")
	if got := driveVersion(t, fd, 0, "k"); got != id {
		t.Fatalf("drive 0 holds version %x after its late commit, want %x", got, id)
	}
	if healQueued(f, "k") || f.set.dirty[0].Load() {
		t.Fatal("a late commit that succeeded queued a heal or marked its drive dirty")
	}
}

// TestLateWriteKeepsKeyOrder: while drive 0 still runs the late commit of a first
// version, a second write of the key leaves drive 0 out instead of racing the first there
// (which could leave the older version last on the drive), and queues the key's heal,
// which brings drive 0 to the second version once the late commit ended.
func TestLateWriteKeepsKeyOrder(t *testing.T) {
	f, fd := slowFixture(t)
	release := stallCommits(t, f, fd, nil)
	first := putKey(t, f, "k", []byte("first"))
	second := putKey(t, f, "k", []byte("second, newer"))
	if !healQueued(f, "k") {
		t.Fatal("the write that left drive 0 out did not queue the key's heal")
	}
	release()
	waitLate(t, f, "k")
	if got := driveVersion(t, fd, 0, "k"); got != first {
		t.Fatalf("drive 0 holds %x once the late commit ended, want the first version %x: the second write reached it", got, first)
	}
	fd[0].Clear()
	res, err := f.set.HealObject(context.Background(), bitrotBucket, "k", false)
	if err != nil {
		t.Fatal(err)
	}
	// Drive 0 still counts as slow: its heal's commit may have gone on in the background,
	// unreported.
	if len(res.Healed) > 1 || (len(res.Healed) == 1 && res.Healed[0] != 0) {
		t.Fatalf("heal rebuilt drives %v, want drive 0 at most", res.Healed)
	}
	waitLate(t, f, "k")
	if got := driveVersion(t, fd, 0, "k"); got != second {
		t.Fatalf("drive 0 holds %x after the heal, want the second version %x", got, second)
	}
}

// TestLateCommitFailureQueuesHeal: a late commit that fails marks its drive dirty and
// queues the key's heal, as a failure in the foreground does.
func TestLateCommitFailureQueuesHeal(t *testing.T) {
	f, fd := slowFixture(t)
	release := stallCommits(t, f, fd, storage.ErrFaulty)
	putKey(t, f, "k", []byte("the slow drive will fail"))
	if healQueued(f, "k") {
		t.Fatal("heal queued before the late commit ended")
	}
	release()
	waitLate(t, f, "k")
	if !healQueued(f, "k") || !f.set.dirty[0].Load() {
		t.Fatal("a failed late commit did not queue the key's heal nor mark its drive dirty")
	}
}

// TestDeleteLeavesSlowDriveLate: a delete does not wait for a slow drive either, and a
// delete of a key with a late write leaves that drive to the heal.
func TestDeleteLeavesSlowDriveLate(t *testing.T) {
	f, fd := slowFixture(t)
	release := stallCommits(t, f, fd, nil)
	putKey(t, f, "k", []byte("to delete"))
	within(t, "a delete with drive 0's calls stalled", func() error {
		return f.set.DeleteObject(context.Background(), bitrotBucket, "k")
	})
	within(t, "a stat of the deleted key", func() error {
		_, err := f.set.StatObject(context.Background(), bitrotBucket, "k")
		if !errors.Is(err, objstore.ErrObjectNotFound) {
			return errors.New("the deleted key is still there")
		}
		return nil
	})
	release()
	waitLate(t, f, "k")
	fd[0].Clear()
	if _, err := f.set.HealObject(context.Background(), bitrotBucket, "k", false); err != nil && !errors.Is(err, objstore.ErrObjectNotFound) {
		t.Fatal(err)
	}
	if got := driveVersion(t, fd, 0, "k"); got != ([16]byte{}) {
		t.Fatalf("drive 0 still holds %x of the deleted key after the heal", got)
	}
}

// TestHealDoesNotLockOutWritesForSlowDrive: the heal of a key that a slow drive lacks reads
// that drive's copy without holding the key's lock, so a write of the key meanwhile does
// not wait for the slow drive (whose metadata reads stall here until the write returned).
func TestHealDoesNotLockOutWritesForSlowDrive(t *testing.T) {
	f, fd := slowFixture(t)
	release := stallCommits(t, f, fd, nil)
	putKey(t, f, "k", []byte("first"))
	putKey(t, f, "k", []byte("second: drive 0 left out, to heal"))
	release()
	waitLate(t, f, "k")
	reads, asked := make(chan struct{}), make(chan struct{}, 1)
	fd[0].StallAndTell("ReadMeta", reads, asked)
	healed := make(chan error, 1)
	go func() {
		_, err := f.set.HealObject(context.Background(), bitrotBucket, "k", false)
		healed <- err
	}()
	// The heal asked drive 0 under the key's lock; the write below must not wait for it.
	select {
	case <-asked:
	case <-time.After(30 * time.Second):
		t.Fatal("the heal never read drive 0")
	}
	third := putKey(t, f, "k", []byte("third, while the heal waits for drive 0"))
	close(reads)
	select {
	case err := <-healed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the heal did not end once drive 0 answered")
	}
	waitLate(t, f, "k")
	fd[0].Clear()
	if _, err := f.set.HealObject(context.Background(), bitrotBucket, "k", false); err != nil {
		t.Fatal(err)
	}
	if got := driveVersion(t, fd, 0, "k"); got != third {
		t.Fatalf("drive 0 holds %x, want the third version %x", got, third)
	}
}

// TestPutLeavesSlowDriveStagingLate: a put too large to be inline does not wait for a
// slow drive to answer for its staged shard (here it took the shard, then stalls before
// answering, as a remote drive behind a slow link); the drive's commit waits for it in the
// background and leaves the drive with the version the others hold, whole.
func TestPutLeavesSlowDriveStagingLate(t *testing.T) {
	f, fd := slowFixture(t)
	release := stallDrive0(t, f, fd, "CreateFile.after")
	body := bytes.Repeat([]byte("staged late on drive 0 "), 20000) // 460 KB: not inline
	id := putKey(t, f, "big", body)
	if got := f.set.late.mask(bitrotBucket, "big"); got != 1 {
		t.Fatalf("late drives of big: %04b, want drive 0's commit, waiting for its staged shard", got)
	}
	release()
	waitLate(t, f, "big")
	if got := driveVersion(t, fd, 0, "big"); got != id {
		t.Fatalf("drive 0 holds version %x after its late commit, want %x", got, id)
	}
	fd[0].Clear()
	res, err := f.set.HealObject(context.Background(), bitrotBucket, "big", true)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Healed) != 0 {
		t.Fatalf("a deep heal rebuilt drives %v after the late commit: its shard was not whole", res.Healed)
	}
}

// TestListingAfterLateWriteShowsNewest: a drive a write left out (a late write of the key
// was in flight there) holds an older record until healed, so listings must not take
// their metadata from it, even once it answers in time again.
func TestListingAfterLateWriteShowsNewest(t *testing.T) {
	f, fd := slowFixture(t)
	release := stallCommits(t, f, fd, nil)
	putKey(t, f, "k", []byte("first"))
	second := []byte("second, a different size")
	putKey(t, f, "k", second)
	release()
	waitLate(t, f, "k")
	fd[0].Clear()
	f.set.lat.ewma[0].Store(0) // drive 0 no longer measured slow
	var size int64 = -1
	err := f.set.Walk(context.Background(), bitrotBucket, storage.WalkOptions{Prefix: "k", WithMeta: true}, func(e Entry) error {
		if e.Key == "k" {
			size = e.Info.Size
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if size != int64(len(second)) {
		t.Fatalf("the listing says %d bytes for k, want the newest version's %d", size, len(second))
	}
}

// TestWalkLeavesSlowDriveAside: a listing does not wait for a slow drive (its walk stalls
// here until the test ends); it lists what the others show enough of, and confirms by a
// quorum read a key too few of them hold (left on one drive only: not readable, not
// listed).
func TestWalkLeavesSlowDriveAside(t *testing.T) {
	f, fd := slowFixture(t)
	ctx := context.Background()
	for _, k := range []string{"a", "b", "c"} {
		if _, err := f.set.PutObject(ctx, bitrotBucket, k, bytes.NewReader([]byte(k)), 1, objstore.PutOptions{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		if err := fd[i].DeleteObject(ctx, bitrotBucket, "c"); err != nil {
			t.Fatal(err)
		}
	}
	stallDrive0(t, f, fd, "Walk")
	for _, withMeta := range []bool{false, true} {
		var keys []string
		within(t, "a listing with drive 0's walk stalled", func() error {
			return f.set.Walk(ctx, bitrotBucket, storage.WalkOptions{Recursive: true, WithMeta: withMeta}, func(e Entry) error {
				keys = append(keys, e.Key)
				return nil
			})
		})
		var want []string
		for _, k := range keys {
			if k == "a" || k == "b" || k == "c" || k == bitrotKey {
				want = append(want, k)
			}
		}
		if !slices.Equal(want, []string{"a", "b", bitrotKey}) && !slices.Equal(want, []string{bitrotKey, "a", "b"}) {
			t.Fatalf("listing (metadata %v): %q, want a, b and %s, not c (on one drive)", withMeta, keys, bitrotKey)
		}
	}
}

// TestMultipartLeavesSlowDriveAside: a multipart upload's parts and completion do not wait
// for a slow drive (its upload-record reads and shard answers stall here until the test
// ends); the object is readable at once and the heal brings it to the slow drive later.
func TestMultipartLeavesSlowDriveAside(t *testing.T) {
	f, fd := slowFixture(t)
	ctx := context.Background()
	id, err := f.set.NewMultipartUpload(ctx, bitrotBucket, "mp", objstore.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	release := stallDrive0(t, f, fd, "ReadFile", "CreateFile.after")
	bodies := [][]byte{
		bytes.Repeat([]byte("first part, drive 0 slow "), 5<<20/25+1), // past the 5 MiB minimum
		bytes.Repeat([]byte("last part "), 30000),
	}
	var parts []objstore.CompletePart
	for n, part := range bodies {
		n++
		within(t, "a part upload with drive 0 stalled", func() error {
			p, err := f.set.PutObjectPart(ctx, bitrotBucket, "mp", id, n, bytes.NewReader(part), int64(len(part)), objstore.PartOptions{}, nil)
			parts = append(parts, objstore.CompletePart{Number: n, ETag: p.ETag})
			return err
		})
	}
	within(t, "the completion with drive 0 stalled", func() error {
		_, err := f.set.CompleteMultipartUpload(ctx, bitrotBucket, "mp", id, parts, objstore.CompleteOptions{}, nil)
		return err
	})
	want := bytes.Join(bodies, nil)
	within(t, "a read of the completed object", func() error {
		h, err := f.set.OpenObject(ctx, bitrotBucket, "mp")
		if err != nil {
			return err
		}
		defer h.Close()
		var got bytes.Buffer
		if _, err := h.WriteRange(ctx, &got, 0, int64(len(want))); err != nil {
			return err
		}
		if !bytes.Equal(got.Bytes(), want) {
			return errors.New("read back other bytes")
		}
		return nil
	})
	release()
	fd[0].Clear()
	if _, err := f.set.HealObject(ctx, bitrotBucket, "mp", true); err != nil {
		t.Fatal(err)
	}
	waitLate(t, f, "mp") // the heal's commit to drive 0 may have run late
	version, err := f.set.VersionID(ctx, bitrotBucket, "mp")
	if err != nil {
		t.Fatal(err)
	}
	if got := driveVersion(t, fd, 0, "mp"); got != version {
		t.Fatalf("drive 0 holds %x after the heal, want %x", got, version)
	}
}

// TestBucketCheckLeavesSlowDriveAside: the bucket check every request makes does not wait
// for a slow drive (its StatVolume stalls here until the test ends).
func TestBucketCheckLeavesSlowDriveAside(t *testing.T) {
	f, fd := slowFixture(t)
	stallDrive0(t, f, fd, "StatVolume")
	within(t, "a bucket check with drive 0 stalled", func() error {
		_, err := f.set.BucketCreated(context.Background(), bitrotBucket)
		return err
	})
	within(t, "a check of a missing bucket with drive 0 stalled", func() error {
		if _, err := f.set.BucketCreated(context.Background(), "nosuchbucket"); !errors.Is(err, objstore.ErrBucketNotFound) {
			return fmt.Errorf("a missing bucket: %v, want ErrBucketNotFound", err)
		}
		return nil
	})
}
