package health_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/faulty"
	"github.com/flashstor/flashstor/objstore/storage/health"
	"github.com/flashstor/flashstor/objstore/storage/local"
	"github.com/flashstor/flashstor/objstore/storage/storagetest"
)

func newLocal(t *testing.T) storage.Drive {
	d, err := local.Open(t.TempDir(), local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// The decorators must keep the drive contract.
func TestConformanceHealth(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Drive {
		d := health.Wrap(newLocal(t), health.Options{})
		t.Cleanup(d.Close)
		return d
	})
}

func TestConformanceFaulty(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Drive { return faulty.Wrap(newLocal(t)) })
}

// waitFor polls cond for up to 30 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen in 30s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestStalledDriveGoesOfflineAndReturns(t *testing.T) {
	f := faulty.Wrap(newLocal(t))
	changes := make(chan bool, 4)
	d := health.Wrap(f, health.Options{Timeout: 50 * time.Millisecond, ProbeInterval: 10 * time.Millisecond,
		OnStateChange: func(_ *health.Drive, online bool) { changes <- online }})
	t.Cleanup(d.Close)
	release := make(chan struct{})
	f.Stall("*", release)
	_, err := d.ReadMeta(context.Background(), "bucket", "key")
	if !errors.Is(err, storage.ErrTimeout) {
		t.Fatalf("stalled call: %v, want ErrTimeout", err)
	}
	if d.Online() {
		t.Fatal("a drive that timed out is still online")
	}
	_, err = d.ReadMeta(context.Background(), "bucket", "key")
	if !errors.Is(err, storage.ErrDriveOffline) {
		t.Fatalf("call to an offline drive: %v, want ErrDriveOffline at once", err)
	}
	if <-changes {
		t.Fatal("first state change was not 'offline'")
	}
	close(release)
	f.Clear()
	waitFor(t, "the drive coming back online", d.Online)
	if !<-changes {
		t.Fatal("second state change was not 'online'")
	}
	if s := d.Stats(); s.Timeouts != 1 || s.Offlines != 1 {
		t.Fatalf("stats = %+v", s)
	}
}

func TestFaultyDriveGoesOfflineAfterRepeatedErrors(t *testing.T) {
	f := faulty.Wrap(newLocal(t))
	d := health.Wrap(f, health.Options{MaxFaults: 3, ProbeInterval: time.Hour})
	t.Cleanup(d.Close)
	f.Fail("ReadFile", fmt.Errorf("%w: EIO", storage.ErrFaulty))
	for i := 0; i < 2; i++ {
		d.ReadFile(context.Background(), storage.SysVolume, "x")
		if !d.Online() {
			t.Fatalf("offline after %d faults, want 3", i+1)
		}
	}
	// An answer about the data (not found) is not a fault and resets the count.
	f.Clear()
	if _, err := d.ReadFile(context.Background(), storage.SysVolume, "missing"); !errors.Is(err, storage.ErrFileNotFound) {
		t.Fatal(err)
	}
	f.Fail("ReadFile", fmt.Errorf("%w: EIO", storage.ErrFaulty))
	for i := 0; i < 3; i++ {
		d.ReadFile(context.Background(), storage.SysVolume, "x")
	}
	if d.Online() {
		t.Fatal("still online after 3 consecutive I/O errors")
	}
}

// blockingDrive blocks ReadMeta until release is closed, telling entered when it starts.
type blockingDrive struct {
	storage.Drive
	entered chan struct{}
	release chan struct{}
}

func (d *blockingDrive) ReadMeta(ctx context.Context, bucket, key string) ([]byte, error) {
	d.entered <- struct{}{}
	<-d.release
	return d.Drive.ReadMeta(ctx, bucket, key)
}

// A call stalled on the drive holds its own worker only: the next call is answered while it
// is still stalled, by the worker the first call left idle or by a new one.
func TestStalledCallDoesNotHoldUpOthers(t *testing.T) {
	inner := &blockingDrive{Drive: newLocal(t), entered: make(chan struct{}), release: make(chan struct{})}
	d := health.Wrap(inner, health.Options{Timeout: 20 * time.Second})
	t.Cleanup(d.Close)
	ctx := context.Background()
	if _, err := d.ReadFile(ctx, storage.SysVolume, "missing"); !errors.Is(err, storage.ErrFileNotFound) {
		t.Fatalf("first call: %v", err) // leaves a worker idle
	}
	stalled := make(chan error, 1)
	go func() {
		_, err := d.ReadMeta(ctx, "bucket", "key")
		stalled <- err
	}()
	<-inner.entered
	_, err := d.ReadFile(ctx, storage.SysVolume, "missing")
	close(inner.release)
	if !errors.Is(err, storage.ErrFileNotFound) {
		t.Fatalf("call beside a stalled one: %v, want ErrFileNotFound (not a wait for the stalled call)", err)
	}
	if err := <-stalled; err == nil || errors.Is(err, storage.ErrTimeout) {
		t.Fatalf("stalled call: %v, want the drive's answer once released", err)
	}
}

// stallingFiles opens files whose reads block until release is closed.
type stallingFiles struct {
	storage.Drive
	release chan struct{}
}

func (d *stallingFiles) OpenFile(ctx context.Context, volume, path string) (storage.File, error) {
	f, err := d.Drive.OpenFile(ctx, volume, path)
	if err != nil {
		return nil, err
	}
	return &stallingFile{File: f, release: d.release}, nil
}

type stallingFile struct {
	storage.File
	release chan struct{}
}

func (f *stallingFile) ReadAt(p []byte, off int64) (int, error) {
	<-f.release
	return f.File.ReadAt(p, off)
}

// A block read that stalls is ErrTimeout, as a ReadAt is: the caller of ReadBlockAt (the
// erasure decoder, reading into the mount's buffer) learns that the read may go on writing
// into its buffers, and gives them up.
func TestStalledBlockReadTimesOut(t *testing.T) {
	inner := &stallingFiles{Drive: newLocal(t), release: make(chan struct{})}
	ctx := context.Background()
	if err := inner.WriteFile(ctx, storage.SysVolume, "tmp/f", []byte("0123456789")); err != nil {
		t.Fatal(err)
	}
	// Long enough for the open on a loaded machine; the read stalls until released.
	d := health.Wrap(inner, health.Options{Timeout: time.Second, ProbeInterval: time.Hour})
	t.Cleanup(d.Close)
	f, err := d.OpenFile(ctx, storage.SysVolume, "tmp/f")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	br, ok := f.(storage.BlockReaderAt)
	if !ok {
		t.Fatal("the health decorator's file has no ReadBlockAt")
	}
	_, err = br.ReadBlockAt(make([]byte, 2), make([]byte, 4), 1)
	close(inner.release)
	if !errors.Is(err, storage.ErrTimeout) {
		t.Fatalf("stalled ReadBlockAt: %v, want ErrTimeout", err)
	}
}
