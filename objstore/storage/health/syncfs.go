package health

import (
	"context"

	"github.com/flashstor/flashstor/objstore/storage"
)

var _ storage.FileSystemSyncer = (*Drive)(nil)

// SyncFileSystem syncs the inner drive's file system when it can (storage.FileSystemSyncer).
// An inner drive that cannot never defers its syncs (a remote drive), so it has nothing to
// sync; a test wrapper around a local drive must forward the call. An offline drive took no
// write since it went offline, and its faults are the prober's to find: it is skipped.
func (d *Drive) SyncFileSystem(ctx context.Context) error {
	s, ok := d.inner.(storage.FileSystemSyncer)
	if !ok || d.offline.Load() {
		return nil
	}
	err := s.SyncFileSystem(ctx)
	if err != nil {
		d.stats.faults.Add(1)
	}
	return err
}

var _ storage.CommitDomainer = (*Drive)(nil)

// CommitDomain forwards to the inner drive (storage.CommitDomainer): nil when it shares no
// journal, or while it is offline (its commits fail at once and wait for no one).
func (d *Drive) CommitDomain() any {
	if c, ok := d.inner.(storage.CommitDomainer); ok && !d.offline.Load() {
		return c.CommitDomain()
	}
	return nil
}
