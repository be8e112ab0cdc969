package storage

import "context"

// deferSyncKey marks a context whose writes may skip their syncs (see WithDeferredSync).
type deferSyncKey struct{}

// WithDeferredSync returns a context under which a drive may write and commit files without
// waiting for stable storage (no fdatasync, no directory fsync): the caller has chosen a
// local disk's contract and makes the writes durable later through a FileSystemSyncer.
// The order of the steps is unchanged, so a process crash (the page cache survives) still
// leaves the old version or the new one; only a power loss can drop the unsynced window.
// A drive that ignores the mark (a remote drive: the value does not cross the network)
// simply stays durable.
func WithDeferredSync(ctx context.Context) context.Context {
	return context.WithValue(ctx, deferSyncKey{}, true)
}

// DeferredSync reports whether ctx carries WithDeferredSync's mark.
func DeferredSync(ctx context.Context) bool {
	v, _ := ctx.Value(deferSyncKey{}).(bool)
	return v
}

// FileSystemSyncer is a drive that can make everything written to it durable at once
// (syncfs(2) of its file system): the durability point of writes made under
// WithDeferredSync.
type FileSystemSyncer interface {
	SyncFileSystem(ctx context.Context) error
}
