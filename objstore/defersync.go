package objstore

import (
	"context"

	"github.com/flashstor/flashstor/objstore/storage"
)

// WithDeferredSync returns a context under which the layer's writes (puts, metadata
// updates: every object commit) skip their syncs on the local drives, a local disk's
// contract: the commit is visible at once and as atomic as ever against a crash of the
// process, but durable only once the drives' file systems are synced (the deployment's
// SyncDrives). Deletes and renames stay durable; remote drives ignore the mark.
func WithDeferredSync(ctx context.Context) context.Context {
	return storage.WithDeferredSync(ctx)
}
