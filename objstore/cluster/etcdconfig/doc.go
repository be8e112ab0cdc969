// Package etcdconfig keeps a cluster's shared settings in etcd: each bucket's
// configuration documents (objstore.BucketConfigStore's documents: versioning, policy,
// lifecycle, ...) and single documents changed by compare-and-swap (Document: the IAM
// identities', which iam/identity/etcdstore adapts to identity.Store), and tells every
// node's caches at once, through etcd's watch, when another node changed them.
//
// # What lives where
//
//	/flashstor/v1/buckets/<bucket>/config/<name>   one bucket document (Buckets)
//	/flashstor/v1/iam/<name>                        the identities' document (Document)
//
// Each value is an envelope {"v":1,"doc":"..."} around the document (see value.go), so
// that a later format can be told apart and a damaged value is an error that names its
// key, never a panic. The identities' document is sealed by identity.Manager before it
// reaches the store: no secret is ever in etcd in the clear. This package imports nothing
// of IAM (DESIGN.md's layering); IAM's adapter imports it.
//
// One key per bucket document: two nodes setting two documents of one bucket at once
// write two keys and keep each other's documents without a lock. Whether a bucket exists
// is still decided by the drives (the pool's first erasure set); etcd holds only its
// documents.
//
// # Revisions
//
// The identities' revision is the etcd mod revision of its key (0: never saved); Save is
// a transaction that puts the document only if the key's mod revision is still the one
// the change was made from, else identity.ErrRevision. Bucket documents are last writer
// wins, as on one node (S3's own rule for Put*Bucket* calls).
//
// # Deletion of a bucket
//
// The pool deletes a bucket on its drives first, then its documents here (DeleteDocs,
// one range delete of the bucket's prefix). A crash or an unreachable etcd between the two
// leaves documents behind a deleted bucket; they are never served (the drives say the
// bucket does not exist) and MakeBucket of the same name deletes them before it creates
// the bucket, as the one-node store does with a configuration left on an offline drive.
//
// # Caches and the watch
//
// Watch follows a prefix from the revision of a linearizable read and reports every
// changed key (the loop of package etcdwatch, which the owner cache runs too). When the
// watch breaks (its revision was compacted, the member lost its leader, the stream was
// cancelled, the member went silent) it reports a reset (every bucket may have changed),
// reads etcd again for a fresh revision, watches from there and reports a second reset:
// caches drop everything at the break, read etcd itself meanwhile, and drop again once
// the watch is whole, so nothing filled during the gap outlives it. The caches of the
// node (the pool's versioning state, the S3 face's lifecycle rules and decision cache)
// subscribe to one local "bucket config changed" event (objstore.EventBucketConfig) that
// both a local write and this watch emit; their loads are guarded by a generation, so a
// load that raced an invalidation is not kept.
//
// # When etcd is unreachable
//
// Reads and writes of documents are bounded (Timeout) and fail with
// objstore.ErrReadQuorum / ErrWriteQuorum (S3: 503 SlowDown): a node does not answer
// from a copy that it cannot prove current. The watch asks etcd for a progress report
// every heartbeat (WatchConfig.Heartbeat, 2 s by default) and takes three heartbeats of
// silence for a break: the caches drop everything and the next reads go to etcd, which
// fail with 503 while it cannot be reached. So a node cut from etcd serves cached
// settings for at most about three heartbeats after the cut, never longer; a member that
// loses its leader cancels the watch at once (WithRequireLeader). A member that goes
// silent without closing its connections (a paused process) is left the same way: the
// read and the creation of the next watch wait three heartbeats at most each, and the
// next attempt goes to another member, so the watch is whole again within seconds, not
// after the 10 to 15 s that gRPC takes to drop the connection (package etcdwatch). A
// write that timed out may still have landed: it fails with ErrWriteQuorum all the same,
// the pool drops its caches anyway, and the watch reports the change if it did land.
//
// The identities' watch calls identity.Manager.Reload at a break as well; while the
// document cannot be read the Manager has no identities (their keys are refused, changes
// fail with ErrUnavailable; the root keys still work), so a key revoked on another node
// stops working on a cut-off node within the same bound.
//
// A SetBucketConfig on one node and a DeleteBucket on another are serialised by the
// bucket's lock, which a cluster node takes from every erasure set's owner (package
// cluster/owner); a document left behind anyway (etcd unreachable between the drives and
// the documents) is, like any leftover, never served, and MakeBucket clears it.
package etcdconfig
