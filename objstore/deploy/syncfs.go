package deploy

import (
	"context"
	"errors"
	"sync"
)

// SyncDrives makes every write made so far durable on every drive, the durability point of
// puts made with PutOptions.DeferSync: one syncfs per drive, all drives at once.
func (dep *Deployment) SyncDrives(ctx context.Context) error {
	errs := make([]error, len(dep.Drives))
	var wg sync.WaitGroup
	for i, d := range dep.Drives {
		wg.Go(func() { errs[i] = d.SyncFileSystem(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}
