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

// syncAtCommitKey marks a context whose new files are staged for an object's commit (see
// WithSyncAtCommit).
type syncAtCommitKey struct{}

// WithSyncAtCommit returns a context under which CreateFile writes a file that a later
// durable CommitObject on the same drive makes part of an object (a put's staged shard),
// and under which that CommitObject runs too: the mark on both is the contract. A drive
// whose commit makes the file's data and every name leading to it durable at once (a
// local drive on a journaling file system: see local's oneCommitFS) may then only start
// the file's writeback in CreateFile, and wait for the data of the staged directory's files
// in the CommitObject that carries the mark, before its one journal commit covers them. The
// file is not durable before that commit, which is harmless: until the metadata names it,
// nothing refers to it. A file staged under the mark must not be committed without it (the
// commit would not wait for its data). A drive that cannot, or that ignores the mark (a
// remote drive: the value does not cross the network), syncs the file at once, as
// CreateFile always does, and commits as usual.
func WithSyncAtCommit(ctx context.Context) context.Context {
	return context.WithValue(ctx, syncAtCommitKey{}, true)
}

// SyncAtCommit reports whether ctx carries WithSyncAtCommit's mark.
func SyncAtCommit(ctx context.Context) bool {
	v, _ := ctx.Value(syncAtCommitKey{}).(bool)
	return v
}
