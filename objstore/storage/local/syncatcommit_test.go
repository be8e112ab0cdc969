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

// syncAtCommitDrive writes and commits its files as a put stages and commits its shards,
// under storage.WithSyncAtCommit.
type syncAtCommitDrive struct{ *Drive }

func (d syncAtCommitDrive) CreateFile(ctx context.Context, volume, p string, size int64, r io.Reader) error {
	return d.Drive.CreateFile(storage.WithSyncAtCommit(ctx), volume, p, size, r)
}

func (d syncAtCommitDrive) CommitObject(ctx context.Context, bucket, key string, meta []byte, srcVolume, srcDir string) error {
	return d.Drive.CommitObject(storage.WithSyncAtCommit(ctx), bucket, key, meta, srcVolume, srcDir)
}

// TestSyncAtCommitConformance runs the drive conformance suite with every file written
// under storage.WithSyncAtCommit, on ext4 with a journal (where the drive leaves the files'
// data wait and durability to the commit, and renames the data directory without a sync) and on the test's
// temporary directory (whatever it is).
func TestSyncAtCommitConformance(t *testing.T) {
	for _, fs := range []struct {
		name      string
		dir       func(t *testing.T) string
		oneCommit bool
	}{
		{"journaled-ext4", func(t *testing.T) string { return loopExt4(t) }, true},
		{"tempdir", func(t *testing.T) string { return t.TempDir() }, false},
	} {
		t.Run(fs.name, func(t *testing.T) {
			base := fs.dir(t)
			n := 0
			storagetest.Run(t, func(t *testing.T) storage.Drive {
				n++
				d, err := Open(filepath.Join(base, fmt.Sprintf("d%d", n)), Options{})
				if err != nil {
					t.Fatal(err)
				}
				if fs.oneCommit && !d.oneCommit {
					t.Fatal("drive on journaled ext4 does not use the one-commit write")
				}
				return syncAtCommitDrive{d}
			})
		})
	}
}

// TestCreateSync checks which sync CreateFile chooses: a file is left to its commit only
// when asked and when the drive's commit covers it; deferred syncs win over both.
func TestCreateSync(t *testing.T) {
	bg := context.Background()
	atCommit := storage.WithSyncAtCommit(bg)
	deferred := storage.WithDeferredSync(bg)
	both := storage.WithSyncAtCommit(deferred)
	for _, c := range []struct {
		name      string
		ctx       context.Context
		oneCommit bool
		want      fileSync
	}{
		{"plain", bg, false, syncNow},
		{"plain/one-commit", bg, true, syncNow},
		{"at-commit", atCommit, false, syncNow},
		{"at-commit/one-commit", atCommit, true, syncWithCommit},
		{"at-commit/without-cancel", context.WithoutCancel(atCommit), true, syncWithCommit},
		{"deferred", deferred, false, syncNone},
		{"deferred/one-commit", deferred, true, syncNone},
		{"both/one-commit", both, true, syncNone},
	} {
		if got := createSync(c.ctx, c.oneCommit); got != c.want {
			t.Errorf("%s: createSync = %d, want %d", c.name, got, c.want)
		}
	}
}
