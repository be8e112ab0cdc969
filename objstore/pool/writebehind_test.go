package pool_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/flashstor/flashstor/objstore/pool"
	"github.com/flashstor/flashstor/objstore/storage/local"
)

const wbBucket = "behind"

// gate blocks the drives' metadata commits while closed, and fails them while failing is
// set: a background commit can be held at a known point, or made to fail.
type gate struct {
	mu      sync.Mutex
	closed  chan struct{} // nil: open
	held    atomic.Int64  // drive commits waiting at the gate
	failing atomic.Bool
}

func (g *gate) failpoint(step string) error {
	if step != "commit:rename-meta" {
		return nil
	}
	if g.failing.Load() {
		return errors.New("injected: drive offline")
	}
	g.mu.Lock()
	c := g.closed
	g.mu.Unlock()
	if c != nil {
		g.held.Add(1)
		<-c
		g.held.Add(-1)
	}
	return nil
}

// shut closes the gate; the returned function opens it again.
func (g *gate) shut() (open func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	c := make(chan struct{})
	g.closed = c
	return sync.OnceFunc(func() {
		g.mu.Lock()
		g.closed = nil
		g.mu.Unlock()
		close(c)
	})
}

// wbLayer opens a 4-drive deployment with write-behind on and a bucket.
func wbLayer(t *testing.T) (*deploy.Deployment, *gate) {
	t.Helper()
	g := &gate{}
	d, err := deploy.Open(context.Background(), deploy.Config{
		Drives:       []string{filepath.Join(t.TempDir(), "d{1...4}")},
		Parity:       -1,
		DriveOptions: local.Options{Failpoint: g.failpoint},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if err := d.MakeBucket(context.Background(), wbBucket, objstore.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	d.EnableWriteBehind()
	return d, g
}

func putBehind(t *testing.T, d *deploy.Deployment, key string, data []byte) objstore.ObjectInfo {
	t.Helper()
	info, ok, err := d.PutBehind(context.Background(), wbBucket, key, data, objstore.PutOptions{Metadata: map[string]string{"x-amz-meta-a": "1"}})
	if err != nil || !ok {
		t.Fatalf("PutBehind(%s) = %v, %v", key, ok, err)
	}
	return info
}

// waitWaiting waits (up to 10 s) until n operations wait for pending puts.
func waitWaiting(t *testing.T, d *deploy.Deployment, n int64) {
	t.Helper()
	for range 1000 {
		if d.WriteBehindStats().Waiting >= n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%d operations wait for the pending puts after 10 s, want %d", d.WriteBehindStats().Waiting, n)
}

// holdAllCommits shuts g and keeps every background commit busy with a put of another key
// (named after name) held at the drives, so that a put taken next does not start its
// commit; the returned function lets the commits go.
func holdAllCommits(t *testing.T, d *deploy.Deployment, g *gate, name string) (open func()) {
	t.Helper()
	open = g.shut()
	for i := range pool.BehindCommits {
		putBehind(t, d, fmt.Sprintf("filler-%s-%d", name, i), []byte("x"))
	}
	// Each held commit waits on each of the 4 drives.
	for i := 0; g.held.Load() < 4*pool.BehindCommits; i++ {
		if i == 1000 {
			open()
			t.Fatalf("%d drive commits held after 10 s, want %d", g.held.Load(), 4*pool.BehindCommits)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return open
}

// whileHeld takes a put of key while every background commit is busy (pool.BehindCommits
// puts of other keys held at the drives), so that its own commit has not started; runs op,
// and once op waits for the pending put, lets the commits go. op must see the put.
func whileHeld(t *testing.T, d *deploy.Deployment, g *gate, key string, data []byte, op func() error) {
	t.Helper()
	open := holdAllCommits(t, d, g, key)
	defer open()
	putBehind(t, d, key, data)
	done := make(chan error, 1)
	go func() { done <- op() }()
	waitWaiting(t, d, 1)
	if s := d.WriteBehindStats(); s.Pending != pool.BehindCommits+1 {
		t.Fatalf("%d puts pending while their commits are held, want %d", s.Pending, pool.BehindCommits+1)
	}
	open()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func getAll(d *deploy.Deployment, key string) ([]byte, error) {
	h, err := d.OpenObject(context.Background(), wbBucket, key)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	return io.ReadAll(io.NewSectionReader(h, 0, h.Info().Size))
}

// A get, a stat, a listing and a copy of a key whose put is pending wait for its commit
// and see it: a put taken is visible at once, to every caller of the layer.
func TestWriteBehindReadsSeePendingPuts(t *testing.T) {
	d, g := wbLayer(t)
	ctx := context.Background()
	data := []byte("pending content")
	whileHeld(t, d, g, "get", data, func() error {
		got, err := getAll(d, "get")
		if err == nil && !bytes.Equal(got, data) {
			t.Errorf("GET of a pending key: %q, want %q", got, data)
		}
		return err
	})
	var want objstore.ObjectInfo
	whileHeld(t, d, g, "head", data, func() error {
		info, err := d.StatObject(ctx, wbBucket, "head")
		if err == nil && (info.Size != int64(len(data)) || info.Metadata["x-amz-meta-a"] != "1") {
			t.Errorf("HEAD of a pending key: %+v", info)
		}
		want = info
		return err
	})
	whileHeld(t, d, g, "dir/list", data, func() error {
		res, err := d.ListObjects(ctx, wbBucket, objstore.ListOptions{Prefix: "dir/"})
		if err == nil && (len(res.Objects) != 1 || res.Objects[0].Key != "dir/list") {
			t.Errorf("LIST below a pending key's prefix: %+v", res.Objects)
		}
		return err
	})
	whileHeld(t, d, g, "src", data, func() error {
		_, err := d.CopyObject(ctx, objstore.ObjectRef{Bucket: wbBucket, Key: "src"}, objstore.ObjectRef{Bucket: wbBucket, Key: "copy"}, objstore.CopyOptions{})
		return err
	})
	if got, err := getAll(d, "copy"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the copy of a pending key: %q, %v", got, err)
	}
	// What PutBehind returned is what the commit recorded.
	info := putBehind(t, d, "same", data)
	if err := d.FlushKey(ctx, wbBucket, "same"); err != nil {
		t.Fatal(err)
	}
	got, err := d.StatObject(ctx, wbBucket, "same")
	if err != nil || got.ETag != info.ETag || !got.ModTime.Equal(info.ModTime) || got.Size != info.Size {
		t.Fatalf("committed %+v (%v); PutBehind said %+v", got, err, info)
	}
	if want.ETag != info.ETag {
		t.Fatalf("the same content has ETags %q and %q", want.ETag, info.ETag)
	}
}

// Every other operation on a pending key lands after the pending put, as it came after it:
// a delete deletes it, a rename moves it, a put through the ordinary path (S3) replaces it,
// a metadata update changes it.
func TestWriteBehindWritesComeAfterPendingPuts(t *testing.T) {
	d, g := wbLayer(t)
	ctx := context.Background()
	data := []byte("first")
	whileHeld(t, d, g, "del", data, func() error { return d.DeleteObject(ctx, wbBucket, "del") })
	if _, err := d.StatObject(ctx, wbBucket, "del"); !errors.Is(err, objstore.ErrObjectNotFound) {
		t.Fatalf("a pending key deleted: stat says %v, want ErrObjectNotFound", err)
	}
	whileHeld(t, d, g, "from", data, func() error {
		_, err := d.RenameObject(ctx, wbBucket, "from", "to", objstore.RenameOptions{})
		return err
	})
	if _, err := d.StatObject(ctx, wbBucket, "from"); !errors.Is(err, objstore.ErrObjectNotFound) {
		t.Fatalf("a pending key renamed: the source says %v", err)
	}
	if got, err := getAll(d, "to"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("a pending key renamed: the destination holds %q, %v", got, err)
	}
	whileHeld(t, d, g, "over", data, func() error {
		_, err := d.PutObject(ctx, wbBucket, "over", bytes.NewReader([]byte("second")), 6, objstore.PutOptions{})
		return err
	})
	if got, err := getAll(d, "over"); err != nil || string(got) != "second" {
		t.Fatalf("a pending key overwritten by a later put: %q, %v", got, err)
	}
	whileHeld(t, d, g, "meta", data, func() error {
		_, err := d.UpdateObjectMetadata(ctx, wbBucket, "meta", objstore.MetadataPatch{Set: map[string]string{"x-amz-meta-b": "2"}})
		return err
	})
	if info, err := d.StatObject(ctx, wbBucket, "meta"); err != nil || info.Metadata["x-amz-meta-b"] != "2" || info.Metadata["x-amz-meta-a"] != "1" {
		t.Fatalf("a pending key's metadata updated: %+v, %v", info.Metadata, err)
	}

	// Puts of one key are committed in the order taken (or replaced by a later one).
	for i := range 20 {
		putBehind(t, d, "seq", []byte{byte(i)})
	}
	if err := d.FlushAll(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := getAll(d, "seq"); err != nil || !bytes.Equal(got, []byte{19}) {
		t.Fatalf("20 puts of one key: %v, %v; want the last", got, err)
	}
	if s := d.WriteBehindStats(); s.Pending != 0 || s.Bytes != 0 || s.Taken != s.Committed+s.Superseded {
		t.Fatalf("after FlushAll: %+v", s)
	}
}

// A failed background commit is reported once, by the next FlushKey of its key (the
// mount's fsync); the key keeps what it held before.
func TestWriteBehindCommitFailure(t *testing.T) {
	d, g := wbLayer(t)
	ctx := context.Background()
	putBehind(t, d, "k", []byte("old"))
	if err := d.FlushKey(ctx, wbBucket, "k"); err != nil {
		t.Fatal(err)
	}
	g.failing.Store(true)
	putBehind(t, d, "k", []byte("lost"))
	if err := d.FlushAll(ctx); err != nil {
		t.Fatal(err)
	}
	g.failing.Store(false)
	if s := d.WriteBehindStats(); s.Failed != 1 {
		t.Fatalf("stats after a failed commit: %+v", s)
	}
	if err := d.FlushKey(ctx, wbBucket, "other"); err != nil {
		t.Fatalf("another key reports %v", err)
	}
	if err := d.FlushKey(ctx, wbBucket, "k"); !errors.Is(err, objstore.ErrWriteQuorum) {
		t.Fatalf("FlushKey after a failed commit: %v, want ErrWriteQuorum", err)
	}
	if err := d.FlushKey(ctx, wbBucket, "k"); err != nil {
		t.Fatalf("the failure reported twice: %v", err)
	}
	if got, err := getAll(d, "k"); err != nil || string(got) != "old" {
		t.Fatalf("after a failed commit the key holds %q, %v; want the old content", got, err)
	}
}

// What PutBehind does not take: objects over 1 MiB, puts beyond the 64 MiB of pending data,
// puts under a precondition other than If-None-Match, puts into a versioned bucket; a put into a missing bucket fails.
func TestWriteBehindLimits(t *testing.T) {
	d, g := wbLayer(t)
	ctx := context.Background()
	try := func(bucket, key string, n int, opts objstore.PutOptions) (bool, error) {
		_, ok, err := d.PutBehind(ctx, bucket, key, make([]byte, n), opts)
		return ok, err
	}
	if ok, err := try(wbBucket, "big", 1<<20+1, objstore.PutOptions{}); ok || err != nil {
		t.Fatalf("an object over 1 MiB: taken %v, %v", ok, err)
	}
	if ok, err := try(wbBucket, "cond", 1, objstore.PutOptions{Preconditions: objstore.Preconditions{IfMatch: "abc"}}); ok || err != nil {
		t.Fatalf("a put under If-Match: taken %v, %v", ok, err)
	}
	if _, err := try("missing", "k", 1, objstore.PutOptions{}); !errors.Is(err, objstore.ErrBucketNotFound) {
		t.Fatalf("a put into a missing bucket: %v", err)
	}
	if err := d.MakeBucket(ctx, "versioned", objstore.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := d.SetBucketConfig(ctx, "versioned", objstore.BucketConfigVersioning, "Enabled"); err != nil {
		t.Fatal(err)
	}
	if ok, err := try("versioned", "k", 1, objstore.PutOptions{}); ok || err != nil {
		t.Fatalf("a put into a versioned bucket: taken %v, %v", ok, err)
	}

	open := g.shut()
	defer open()
	taken := 0
	for i := range 100 {
		ok, err := try(wbBucket, "cap/"+string(rune('a'+i%26))+string(rune('a'+i/26)), 1<<20, objstore.PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		taken++
	}
	if s := d.WriteBehindStats(); taken < 60 || taken >= 64 || s.Bytes > 64<<20 {
		t.Fatalf("%d puts of 1 MiB taken with their commits held (%+v): want the 64 MiB cap", taken, s)
	}
	open()
	if err := d.FlushAll(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := d.ListObjects(ctx, wbBucket, objstore.ListOptions{Prefix: "cap/"})
	if err != nil || len(res.Objects) != taken {
		t.Fatalf("%d objects listed after FlushAll (%v), want the %d taken", len(res.Objects), err, taken)
	}
}

// A create-if-absent put (what the mount's mkdir takes in fsync mode) is taken and checked at
// its commit: on an absent key it makes the object; on a key another writer made before the
// commit, that object stays, and the put is dropped without an error for the key's fsync.
func TestWriteBehindCreateIfAbsent(t *testing.T) {
	d, _ := wbLayer(t)
	ctx := context.Background()
	ifAbsent := objstore.PutOptions{Preconditions: objstore.Preconditions{IfNoneMatch: true}}
	if _, ok, err := d.PutBehind(ctx, wbBucket, "new/", []byte{}, ifAbsent); !ok || err != nil {
		t.Fatalf("PutBehind(If-None-Match) of an absent key: taken %v, %v", ok, err)
	}
	if err := d.FlushKey(ctx, wbBucket, "new/"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.StatObject(ctx, wbBucket, "new/"); err != nil {
		t.Fatalf("the create-if-absent put of an absent key: %v", err)
	}

	if _, err := d.PutObject(ctx, wbBucket, "made", bytes.NewReader([]byte("first")), 5, objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := d.PutBehind(ctx, wbBucket, "made", []byte("second"), ifAbsent); !ok || err != nil {
		t.Fatalf("PutBehind(If-None-Match) of a made key: taken %v, %v", ok, err)
	}
	if err := d.FlushKey(ctx, wbBucket, "made"); err != nil {
		t.Fatalf("FlushKey after a create-if-absent found its key made: %v, want nil", err)
	}
	if got, err := getAll(d, "made"); err != nil || string(got) != "first" {
		t.Fatalf("the key holds %q, %v; want the other writer's \"first\"", got, err)
	}
	if s := d.WriteBehindStats(); s.Dropped != 1 || s.Failed != 0 || s.Committed != 1 {
		t.Fatalf("stats: %+v, want 1 committed, 1 dropped, 0 failed", s)
	}
}

// A put of a key whose last pending put has not started replaces that put: the key ends
// with the newest content, one commit fewer; the first put, whose commit has started,
// is committed as taken.
func TestWriteBehindSupersedesUnstartedPut(t *testing.T) {
	d, g := wbLayer(t)
	ctx := context.Background()
	open := holdAllCommits(t, d, g, "supersede")
	defer open()
	before := d.WriteBehindStats()
	for _, v := range []string{"one", "two", "three", "four"} {
		putBehind(t, d, "k", []byte(v))
	}
	if s := d.WriteBehindStats(); s.Superseded-before.Superseded != 2 || s.Pending-before.Pending != 2 {
		t.Fatalf("4 puts of one key with the commits held: %d superseded, %d pending; want 2 and 2",
			s.Superseded-before.Superseded, s.Pending-before.Pending)
	}
	open()
	if err := d.FlushKey(ctx, wbBucket, "k"); err != nil {
		t.Fatal(err)
	}
	if got, err := getAll(d, "k"); err != nil || string(got) != "four" {
		t.Fatalf("the key holds %q, %v; want the last put's \"four\"", got, err)
	}
	if err := d.FlushAll(ctx); err != nil {
		t.Fatal(err)
	}
	if s := d.WriteBehindStats(); s.Committed-before.Committed != 2+pool.BehindCommits || s.Failed != 0 {
		t.Fatalf("stats: %+v; want %d more committed (the fillers, the first put and the last)", s, 2+pool.BehindCommits)
	}
}
