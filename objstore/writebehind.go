package objstore

import "context"

// WriteBehind is an optional capability of an ObjectLayer: puts of small objects that are
// visible at once and committed by the layer in the background (the mount's fsync mode,
// a local disk's contract). The layer keeps every taken put in a pending table, committed
// in the order taken for each key; any other operation that touches a pending key (a get,
// a stat, a delete, a rename, a copy, a metadata update, a put through the ordinary path,
// a listing of a prefix that holds it) waits until that key's pending puts are committed
// first, and no put of a key is taken while such an operation runs, so that the store
// never shows an order of events that did not happen. A taken put's change event is
// published when it is committed, not when PutBehind returns.
type WriteBehind interface {
	// EnableWriteBehind makes the layer check its pending table on every operation; it must
	// be called before the first PutBehind.
	EnableWriteBehind()
	// PutBehind takes a put of data at bucket/key into the pending table and returns the
	// object's information as its commit will record it. ok is false when the put is not
	// taken (too large, the table full, the bucket versioned, an object lock or a
	// precondition other than IfNoneMatch set, an operation running on the key): the
	// caller puts it the ordinary way. The layer keeps data; the caller must not change it
	// after. IfNoneMatch is checked at the commit, in the background: when an object was
	// made at the key meanwhile, that object stays and the put is dropped without an error
	// (for a create-if-absent whose caller checked the absence itself and only guards a
	// race with another writer).
	PutBehind(ctx context.Context, bucket, key string, data []byte, opts PutOptions) (info ObjectInfo, ok bool, err error)
	// FlushKey waits until every put of bucket/key taken before the call is committed and
	// returns the error of a background commit of that key not reported before (reported
	// once, as a local file system reports a writeback error at the next fsync).
	FlushKey(ctx context.Context, bucket, key string) error
	// FlushAll waits until every put taken before the call is committed. Errors of the
	// commits stay for their keys' FlushKey; only ctx's error is returned.
	FlushAll(ctx context.Context) error
}
