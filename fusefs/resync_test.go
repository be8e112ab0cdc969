package fusefs

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/deploy"
)

// TestResync: changes the mount was never told of (made under its own origin, as a lost
// relay leaves them) stay invisible in the kernel's caches until an EventResync, and are
// all seen right after it: an overwrite, a delete, a new name the kernel held as absent.
func TestResync(t *testing.T) {
	l := newLayer(t, 1)
	ctx := context.Background()
	must(t, "MakeBucket", l.MakeBucket(ctx, testBucket, objstore.MakeBucketOptions{}))
	mnt, srv := mountServer(t, l, Options{})
	dir := filepath.Join(mnt, testBucket)
	putObject(t, l, "a/f", []byte("version one"), nil)
	putObject(t, l, "gone", []byte("here"), nil)
	readIs(t, filepath.Join(dir, "a", "f"), "version one")
	readIs(t, filepath.Join(dir, "gone"), "here")
	if _, err := os.Stat(filepath.Join(dir, "a", "new")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stat before the put: %v", err)
	}
	// Unseen changes: the mount skips the events of its own origin.
	quiet := objstore.WithOrigin(ctx, srv.fsys.origin)
	if _, err := l.PutObject(quiet, testBucket, "a/f", bytes.NewReader([]byte("v2")), 2, objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.PutObject(quiet, testBucket, "a/new", bytes.NewReader([]byte("new")), 3, objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := l.DeleteObject(quiet, testBucket, "gone"); err != nil {
		t.Fatal(err)
	}
	l.(*deploy.Deployment).PublishChange(ctx, objstore.Event{Type: objstore.EventResync})
	readIs(t, filepath.Join(dir, "a", "f"), "v2")
	readIs(t, filepath.Join(dir, "a", "new"), "new")
	if _, err := os.Stat(filepath.Join(dir, "gone")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stat of the deleted file after the resync: %v", err)
	}
}
