package deploy

import (
	"context"
	"errors"
	"sync"

	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/health"
)

// SyncDrives makes every write made so far durable on every drive that serves, the
// durability point of writes made under objstore.WithDeferredSync: one syncfs per drive,
// all drives at once, and one between the drives of a file system they share. It goes
// through the positions, not Drives, so that a drive brought back while running is synced
// too; a drive that is out takes no writes and is skipped.
func (dep *Deployment) SyncDrives(ctx context.Context) error {
	drives := make([]*health.Drive, len(dep.positions))
	asDrives := make([]storage.Drive, len(dep.positions))
	targets := make([]bool, len(dep.positions))
	for i, p := range dep.positions {
		if st := p.state.Load(); !st.out && st.inner != nil {
			drives[i], asDrives[i], targets[i] = st.inner, st.inner, true
		}
	}
	// The drives of one file system meet before their syncfs, so that one call covers
	// them all (local.CommitGroups).
	batchCtx, _ := storage.BatchDrives(ctx, asDrives, targets)
	errs := make([]error, len(drives))
	var wg sync.WaitGroup
	for i, d := range drives {
		if targets[i] {
			wg.Go(func() { errs[i] = d.SyncFileSystem(batchCtx) })
		}
	}
	wg.Wait()
	return errors.Join(errs...)
}
