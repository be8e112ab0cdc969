// Package objstore defines the object layer: the one interface through which both faces of
// Flashstor, the S3 endpoint and the FUSE mount, reach the stored buckets and objects. It
// holds the interface, the types it speaks in, its errors and the change feed. The
// implementation (erasure sets over drives, quorum, locks, healing) lives in subpackages and
// is assembled by cmd/flashstor.
package objstore
