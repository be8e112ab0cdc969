package fusefs

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/deploy"
)

// syncCounter wraps a deployment's SyncDrives and counts the calls.
type syncCounter struct {
	dep   *deploy.Deployment
	calls atomic.Int64
}

func (c *syncCounter) sync(ctx context.Context) error {
	c.calls.Add(1)
	return c.dep.SyncDrives(ctx)
}

// durabilitySetup mounts a 4-drive layer with testBucket in mode d, the flusher slowed down
// to an hour so that only fsync syncs, and returns the layer, the bucket's directory in the
// mount, the server and the counter of drive syncs.
func durabilitySetup(t *testing.T, d Durability) (objstore.ObjectLayer, string, *Server, *syncCounter) {
	t.Helper()
	l := newLayer(t, 4)
	if err := l.MakeBucket(context.Background(), testBucket, objstore.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	c := &syncCounter{dep: l.(*deploy.Deployment)}
	mnt, srv := mountServer(t, l, Options{Durability: d, SyncDrives: c.sync, FlushInterval: time.Hour})
	return l, filepath.Join(mnt, testBucket), srv, c
}

// In fsync mode a closed file is visible through the core at once without any drive sync;
// fsync of a file, and of a directory, syncs the drives once; unmount syncs what is left.
func TestFsyncModeCloseVisibleFsyncSyncs(t *testing.T) {
	l, dir, srv, c := durabilitySetup(t, DurableFsync)
	small, large := pattern(3000, 1), pattern(3<<20+17, 2) // inline, and streamed
	must(t, "write small", os.WriteFile(filepath.Join(dir, "small"), small, 0o644))
	must(t, "mkdir", os.MkdirAll(filepath.Join(dir, "sub"), 0o755))
	must(t, "write large", os.WriteFile(filepath.Join(dir, "sub/large"), large, 0o644))
	if got := c.calls.Load(); got != 0 {
		t.Fatalf("close synced the drives %d times, want 0 in fsync mode", got)
	}
	if b, _ := getObject(t, l, "small"); string(b) != string(small) {
		t.Fatalf("small: the core has %d bytes, want the %d written", len(b), len(small))
	}
	if b, _ := getObject(t, l, "sub/large"); string(b) != string(large) {
		t.Fatalf("sub/large: the core has %d bytes, want the %d written", len(b), len(large))
	}

	f, err := os.Create(filepath.Join(dir, "synced"))
	must(t, "create", err)
	_, err = f.Write(pattern(100, 3))
	must(t, "write", err)
	must(t, "fsync", f.Sync())
	if got := c.calls.Load(); got != 1 {
		t.Fatalf("fsync synced the drives %d times, want 1", got)
	}
	must(t, "close", f.Close())
	if b, _ := getObject(t, l, "synced"); string(b) != string(pattern(100, 3)) {
		t.Fatalf("synced: the core has %q", b)
	}
	d, err := os.Open(filepath.Join(dir, "sub"))
	must(t, "open dir", err)
	must(t, "fsync dir", d.Sync())
	d.Close()
	if got := c.calls.Load(); got != 2 {
		t.Fatalf("after fsync of a directory: %d drive syncs, want 2", got)
	}
	must(t, "unmount", srv.Unmount())
	if got := c.calls.Load(); got != 3 {
		t.Fatalf("after unmount: %d drive syncs, want 3 (the flusher's last)", got)
	}
}

// In close mode (the default) every commit is durable by itself: fsync syncs nothing more.
func TestCloseModeFsyncNeedsNoDriveSync(t *testing.T) {
	_, dir, _, c := durabilitySetup(t, DurableClose)
	f, err := os.Create(filepath.Join(dir, "f"))
	must(t, "create", err)
	_, err = f.Write(pattern(100, 4))
	must(t, "write", err)
	must(t, "fsync", f.Sync())
	must(t, "close", f.Close())
	if got := c.calls.Load(); got != 0 {
		t.Fatalf("close mode synced the drives %d times, want 0", got)
	}
}

// The flusher syncs on its own within its interval.
func TestFsyncModeFlusherSyncs(t *testing.T) {
	l := newLayer(t, 1)
	c := &syncCounter{dep: l.(*deploy.Deployment)}
	mountLayer(t, l, Options{Durability: DurableFsync, SyncDrives: c.sync, FlushInterval: 10 * time.Millisecond})
	for i := 0; i < 500 && c.calls.Load() < 2; i++ { // bounded: up to 5 s
		time.Sleep(10 * time.Millisecond)
	}
	if got := c.calls.Load(); got < 2 {
		t.Fatalf("the flusher synced %d times in 5 s at a 10 ms interval", got)
	}
}

func TestFsyncModeNeedsSyncDrives(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mount tests run as root")
	}
	if _, err := Mount(t.TempDir(), newLayer(t, 1), Options{Durability: DurableFsync}); err == nil {
		t.Fatal("Mount in fsync mode without SyncDrives succeeded")
	}
}

func TestParseDurability(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Durability
		ok   bool
	}{{"close", DurableClose, true}, {"", DurableClose, true}, {"fsync", DurableFsync, true}, {"Fsync", 0, false}, {"sync", 0, false}} {
		got, err := ParseDurability(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParseDurability(%q) = %v, %v", tc.in, got, err)
		}
		if tc.ok && tc.in != "" && got.String() != tc.in {
			t.Errorf("%v.String() = %q, want %q", got, got.String(), tc.in)
		}
	}
}
