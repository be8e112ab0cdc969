package objstore

import "context"

// The names of the bucket configuration documents the S3 face stores; each holds the
// sub-resource's document as the face last accepted it.
const (
	BucketConfigVersioning = "versioning"
	BucketConfigTagging    = "tagging"
	BucketConfigCORS       = "cors"
	BucketConfigLifecycle  = "lifecycle"
	BucketConfigACL        = "acl"
	BucketConfigPolicy     = "policy"
	// BucketConfigObjectLock is the bucket's object-lock configuration, present only for
	// a bucket created with object lock (which the layer keeps versioned).
	BucketConfigObjectLock = "objectlock"
)

// BucketConfigStore is an optional capability of an ObjectLayer, discovered by type
// assertion: it keeps each bucket's configuration documents (versioning state, tagging,
// CORS, lifecycle, ACL, ...), durably and with the same quorum as object metadata. The
// documents are opaque to the store, so that a face adds a sub-resource without a change
// of format; deleting the bucket deletes them.
type BucketConfigStore interface {
	// BucketConfig returns the bucket's documents by name (an empty map when it has none):
	// ErrBucketNotFound.
	BucketConfig(ctx context.Context, bucket string) (map[string]string, error)
	// SetBucketConfig replaces the bucket's document name with doc, or removes it when doc
	// is empty; it returns once the change is durable on a write quorum of drives.
	// Concurrent calls on one bucket are serialised, and each keeps the others' documents.
	// It publishes EventBucketConfig on the layer's feed, even when it fails (the write
	// may have landed), so that the caches of bucket settings drop the bucket.
	// ErrBucketNotFound.
	SetBucketConfig(ctx context.Context, bucket, name, doc string) error
}
