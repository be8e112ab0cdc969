package deploy

import (
	"context"
	"errors"
	"sync"
)

// SyncDrives makes every write made so far durable on every drive that serves, the
// durability point of writes made under objstore.WithDeferredSync: one syncfs per drive,
// all drives at once. It goes through the positions, not Drives, so that a drive brought
// back while running is synced too; a drive that is out takes no writes and is skipped.
func (dep *Deployment) SyncDrives(ctx context.Context) error {
	errs := make([]error, len(dep.positions))
	var wg sync.WaitGroup
	for i, p := range dep.positions {
		st := p.state.Load()
		if st.out || st.inner == nil {
			continue
		}
		wg.Go(func() { errs[i] = st.inner.SyncFileSystem(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}
