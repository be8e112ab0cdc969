package fusefs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/flashstor/flashstor/objstore/storage/local"
)

// testBucket is the bucket every mount test works in.
const testBucket = "test-bucket"

// newLayer returns an object layer on drives local directories in t's temporary directory.
func newLayer(t testing.TB, drives int) objstore.ObjectLayer {
	t.Helper()
	return layerAt(t, filepath.Join(t.TempDir(), fmt.Sprintf("d{1...%d}", drives)))
}

// layerAt returns an object layer on the drives the pattern names.
func layerAt(t testing.TB, drives string) objstore.ObjectLayer {
	t.Helper()
	d, err := deploy.Open(context.Background(), deploy.Config{Drives: []string{drives}, Parity: -1, DriveOptions: testDriveOptions()})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// testDriveOptions are the local drives' options of the tests' layers: the default, or with
// FLASHSTOR_TEST_MOUNT=redo drives whose small commits go through a redo log (a small one,
// which the tests fill, so that its checkpoints run too).
func testDriveOptions() local.Options {
	if os.Getenv("FLASHSTOR_TEST_MOUNT") == "redo" {
		return local.Options{RedoLog: true, RedoLogSize: 256 << 10}
	}
	return local.Options{}
}

// mountLayer mounts layer in a temporary directory, unmounted when the test ends (even when
// it fails), and returns the mount point.
func mountLayer(t testing.TB, layer objstore.ObjectLayer, opts Options) string {
	t.Helper()
	mnt, _ := mountServer(t, layer, opts)
	return mnt
}

// mountServer is mountLayer that also returns the server.
func mountServer(t testing.TB, layer objstore.ObjectLayer, opts Options) (string, *Server) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mount tests run as root (direct mount, /dev/fuse)")
	}
	return mountAt(t, t.TempDir(), layer, opts)
}

// mountAt mounts layer at mnt, unmounted when the test ends.
func mountAt(t testing.TB, mnt string, layer objstore.ObjectLayer, opts Options) (string, *Server) {
	t.Helper()
	srv, err := Mount(mnt, layer, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		var err error
		for i := 0; i < 50; i++ { // bounded: a process may still be leaving the mount
			if err = srv.Unmount(); err == nil || !errors.Is(err, syscall.EBUSY) {
				break
			}
			syscall.Nanosleep(&syscall.Timespec{Nsec: 100e6}, nil)
		}
		if err != nil {
			t.Errorf("unmount: %v", err)
			syscall.Unmount(mnt, syscall.MNT_DETACH)
		}
	})
	return mnt, srv
}

// setup returns a mounted layer of drives drives with testBucket made, and the bucket's
// directory in the mount.
func setup(t testing.TB, drives int) (objstore.ObjectLayer, string) {
	t.Helper()
	l := newLayer(t, drives)
	if err := l.MakeBucket(context.Background(), testBucket, objstore.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	mnt := mountLayer(t, l, testMountOptions(t, l))
	return l, filepath.Join(mnt, testBucket)
}

// testMountOptions are the options of setup's mounts: the default (durable close), or with
// FLASHSTOR_TEST_MOUNT=fsync the fsync mode (its flusher slowed to an hour, so that only
// fsync syncs), so that the behaviour suites run in that mode too (scripts/test.sh).
func testMountOptions(t testing.TB, l objstore.ObjectLayer) Options {
	t.Helper()
	switch m := os.Getenv("FLASHSTOR_TEST_MOUNT"); m {
	case "", "redo":
		return Options{}
	case "fsync":
		return Options{Durability: DurableFsync, SyncDrives: l.(*deploy.Deployment).SyncDrives, FlushInterval: time.Hour}
	default:
		t.Fatalf("FLASHSTOR_TEST_MOUNT=%q: want fsync, redo or nothing", m)
	}
	return Options{}
}

// setupAt is setup on one drive, mounted at mnt.
func setupAt(t testing.TB, mnt string) (objstore.ObjectLayer, string) {
	t.Helper()
	l := newLayer(t, 1)
	if err := l.MakeBucket(context.Background(), testBucket, objstore.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	mountAt(t, mnt, l, Options{})
	return l, filepath.Join(mnt, testBucket)
}

// remountable is setup on 4 drives that can be mounted again: it returns the bucket's
// directory in the mount and remount, which unmounts, closes the layer and mounts a new
// layer on the same drives at the same place (so that only what is stored survives). Both
// mounts are unmounted and the first layer closed when the test ends, even when it fails.
func remountable(t *testing.T) (dir string, remount func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mount tests run as root (direct mount, /dev/fuse)")
	}
	drives := filepath.Join(t.TempDir(), "d{1...4}")
	first, err := deploy.Open(context.Background(), deploy.Config{Drives: []string{drives}, Parity: -1, DriveOptions: testDriveOptions()})
	must(t, "deploy.Open", err)
	must(t, "MakeBucket", first.MakeBucket(context.Background(), testBucket, objstore.MakeBucketOptions{}))
	mnt := t.TempDir()
	srv, err := Mount(mnt, first, Options{})
	must(t, "mount", err)
	mounted, closed := true, false
	t.Cleanup(func() { // should the test fail before remount stops them
		if mounted && srv.Unmount() != nil {
			syscall.Unmount(mnt, syscall.MNT_DETACH)
		}
		if !closed {
			first.Close()
		}
	})
	return filepath.Join(mnt, testBucket), func() {
		t.Helper()
		must(t, "unmount", srv.Unmount())
		mounted = false
		first.Close()
		closed = true
		mountAt(t, mnt, layerAt(t, drives), Options{})
	}
}

// layouts are the drive counts every behaviour test runs on.
var layouts = []int{1, 4}

// forLayouts runs fn on a fresh mount of every layout.
func forLayouts(t *testing.T, fn func(t *testing.T, l objstore.ObjectLayer, dir string)) {
	for _, n := range layouts {
		t.Run(fmt.Sprintf("%ddrives", n), func(t *testing.T) {
			l, dir := setup(t, n)
			fn(t, l, dir)
		})
	}
}

// getObject reads a whole object through the layer.
func getObject(t testing.TB, l objstore.ObjectLayer, key string) ([]byte, objstore.ObjectInfo) {
	t.Helper()
	h, err := l.OpenObject(context.Background(), testBucket, key)
	if err != nil {
		t.Fatalf("OpenObject %s: %v", key, err)
	}
	defer h.Close()
	var b bytes.Buffer
	if _, err := h.WriteRange(context.Background(), &b, 0, h.Info().Size); err != nil {
		t.Fatalf("reading %s: %v", key, err)
	}
	return b.Bytes(), h.Info()
}

// putObject writes an object through the layer, as an S3 client would.
func putObject(t testing.TB, l objstore.ObjectLayer, key string, data []byte, md map[string]string) objstore.ObjectInfo {
	t.Helper()
	info, err := l.PutObject(context.Background(), testBucket, key, bytes.NewReader(data), int64(len(data)), objstore.PutOptions{Metadata: md})
	if err != nil {
		t.Fatalf("PutObject %s: %v", key, err)
	}
	return info
}

// pattern returns n bytes that differ with seed.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
}

// wantErrno fails unless err is the errno want.
func wantErrno(t testing.TB, what string, err error, want syscall.Errno) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got %v, want %v", what, err, want)
	}
}

// must fails the test on err.
func must(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// parallel runs fn(0) to fn(n-1) on 8 goroutines.
func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				fn(i)
			}
		}()
	}
	wg.Wait()
}
