package local

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"testing"

	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/storagetest"
)

// deferredDrive runs the calls that honour storage.WithDeferredSync under it.
type deferredDrive struct{ *Drive }

func (d deferredDrive) CreateFile(ctx context.Context, volume, p string, size int64, r io.Reader) error {
	return d.Drive.CreateFile(storage.WithDeferredSync(ctx), volume, p, size, r)
}

func (d deferredDrive) CommitObject(ctx context.Context, bucket, key string, meta []byte, srcVolume, srcDir string) error {
	return d.Drive.CommitObject(storage.WithDeferredSync(ctx), bucket, key, meta, srcVolume, srcDir)
}

// TestDeferredSyncConformance checks that a drive whose writes and commits skip their syncs
// still passes the drive conformance suite (same steps, same order, same results), and
// that SyncFileSystem syncs (counted) without error.
func TestDeferredSyncConformance(t *testing.T) {
	base := t.TempDir()
	n := 0
	storagetest.Run(t, func(t *testing.T) storage.Drive {
		n++
		d, err := Open(filepath.Join(base, fmt.Sprintf("d%d", n)), Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := d.SyncFileSystem(context.Background()); err != nil {
				t.Errorf("SyncFileSystem: %v", err)
			}
			if got := d.FileSystemSyncs(); got != 1 {
				t.Errorf("FileSystemSyncs = %d after one SyncFileSystem", got)
			}
		})
		return deferredDrive{d}
	})
}

func TestDeferredSyncMark(t *testing.T) {
	if storage.DeferredSync(context.Background()) {
		t.Error("a plain context defers syncs")
	}
	c := storage.WithDeferredSync(context.Background())
	if !storage.DeferredSync(c) || !storage.DeferredSync(context.WithoutCancel(c)) {
		t.Error("the mark is lost")
	}
}
