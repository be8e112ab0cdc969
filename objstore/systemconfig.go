package objstore

import "context"

// SystemConfigStore is an optional capability of an ObjectLayer, discovered by type
// assertion: it keeps the deployment's own records (the IAM identities), which belong to
// no bucket, with the same durability and quorum as the buckets' configuration records.
// A record is a set of named documents, opaque to the store.
type SystemConfigStore interface {
	// SystemConfig returns the record's documents by name (an empty map when there is no
	// record). name is a short identifier of letters, digits, '-' and '_'.
	SystemConfig(ctx context.Context, name string) (map[string]string, error)
	// SetSystemConfig replaces the record with docs, once durable on a write quorum of
	// drives. The caller serialises writers of one record.
	SetSystemConfig(ctx context.Context, name string, docs map[string]string) error
}
