package remote_test

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/health"
	"github.com/flashstor/flashstor/objstore/storage/local"
	"github.com/flashstor/flashstor/objstore/storage/remote"
)

// A node that stops is marked offline by its first failed call (connection refused is
// ErrDriveOffline, which the health wrapper takes at once), answers ErrDriveOffline at
// once while down, and is probed back online when a handler serves the same port again.
func TestNodeStoppedAndRestarted(t *testing.T) {
	dir := t.TempDir()
	serveDir := func(addr string) (string, func()) {
		d, err := local.Open(dir, local.Options{})
		if err != nil {
			t.Fatal(err)
		}
		h, err := remote.NewHandler(secret, map[string]storage.Drive{"d1": d}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return startNode(t, h, nodeOpts{addr: addr})
	}
	base, stop := serveDir("")
	u, _ := url.Parse(base)
	changes := make(chan bool, 8)
	d := health.Wrap(client(t, base, "d1", secret), health.Options{
		ProbeInterval: 20 * time.Millisecond, Timeout: 5 * time.Second,
		OnStateChange: func(_ *health.Drive, online bool) { changes <- online },
	})
	t.Cleanup(d.Close)
	ctx := context.Background()
	if err := d.MakeVolume(ctx, "bucket"); err != nil {
		t.Fatal(err)
	}

	stop()
	start := time.Now()
	_, err := d.StatVolume(ctx, "bucket")
	took := time.Since(start)
	if !errors.Is(err, storage.ErrDriveOffline) {
		t.Fatalf("StatVolume of a stopped node: %v, want ErrDriveOffline", err)
	}
	if d.Online() {
		t.Fatal("the drive of a stopped node is still online after a refused call")
	}
	t.Logf("first call to the stopped node failed after %v", took)
	if _, err := d.StatVolume(ctx, "bucket"); !errors.Is(err, storage.ErrDriveOffline) {
		t.Fatalf("second call: %v", err)
	}
	if online := <-changes; online {
		t.Fatal("first state change is not offline")
	}

	serveDir(u.Host) // the same port, the same drive
	select {
	case online := <-changes:
		if !online {
			t.Fatal("second state change is not online")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the restarted node was not probed back online in 20 s")
	}
	if _, err := d.StatVolume(ctx, "bucket"); err != nil {
		t.Fatalf("StatVolume after the restart: %v", err)
	}
}
