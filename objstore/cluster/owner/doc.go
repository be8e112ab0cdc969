// Package owner orders the writes of a cluster per erasure set: each set has one owner node
// at a time, which grants the namespace locks of the set's objects from memory, and every
// drive call made under a lock carries the epoch of the owner that granted it, so that a
// drive refuses the calls of a replaced owner (fencing, package storage/fence).
//
// # Ownership
//
// Every node runs a Node. It holds one etcd lease (LeaseTTL, kept alive) and, for each
// erasure set, campaigns in the set's election (go.etcd.io/etcd/client/v3/concurrency) under
// key prefix /flashstor/v1/sets/<i>/owner, with its node name and lock API URL as value.
// Placement spreads the sets: set i prefers node Nodes[i mod len(Nodes)], which campaigns at
// once; the other nodes campaign after TakeoverDelay, so that when every node is up the
// preferred one wins, and the others queue behind it (an election grants in order of
// campaign). There is no rebalancing: a preferred node that comes back queues behind the
// node that took its set over.
//
// The epoch of an ownership is the create revision of the winner's election key. etcd's
// revisions grow with every write of the cluster, and the winner of an election is the
// candidate with the lowest create revision still alive, so every owner's epoch is greater
// than that of every owner before it: epochs grow at each change of owner, strictly, without
// a counter of our own.
//
// Before granting anything a new owner raises the fence of the set's drives to its epoch
// (Config.Advance, which must reach a write quorum of them): from then on a commit of the
// old owner's era reaches fewer drives than a write quorum, and fails.
//
// An owner stops granting at once when its term ends: when its lease is lost (the
// keep-alive channel closes: revoked, expired, etcd unreachable past the TTL) and, checked
// before every grant, when its last keep-alive acknowledgement is older than half the TTL.
// The latter covers a paused process: after SIGSTOP or a long GC pause the session may not
// yet have noticed that its lease expired, but the monotonic clock has moved on, so the
// resumed process refuses to grant before it hears from etcd again. What a paused owner
// granted before its pause is covered by fencing: the new owner's epoch is on the drives.
// A lease revoked by someone else (an operator, a test) is learnt at the next keep-alive,
// within a third of the TTL; fencing covers that window too.
//
// # Locks
//
// The owner grants its set's locks from an nslock.Map per set (the same lock as on one
// node): to local requests directly, and to other nodes over one HTTP round trip (API
// below). Locker is the erasureset.Locker a cluster node's pool takes its locks through: it
// groups a request's names by set (Config.SetOf), asks each set's owner in ascending set
// order (so that two requests spanning the same sets cannot deadlock), and returns a
// context carrying one storage.Epoch per set it locked.
//
// The bucket lock. On one node, object operations hold their bucket's lock for reading and
// MakeBucket and DeleteBucket hold it for writing. Across nodes the bucket lock is
// read-one, write-all: an object operation takes the bucket's read lock from the owner of
// its key's set, in the same round trip as the key's lock; a request that names only bucket
// locks (MakeBucket, DeleteBucket, bucket configuration) takes them from every set's owner,
// in set order. A bucket deletion therefore excludes every object operation of every set,
// at the cost of one round trip per set, and an object operation costs no extra message.
//
// # Lock API, version 1
//
// Requests carry a node token (remote.SignRequest, header X-Flashstor-Node, as the drive
// protocol); a request without a valid one is 401 with an empty body. Arguments are query
// parameters, covered by the token's MAC:
//
//	POST /flashstor/lock/v1/acquire?set=<i>&ttl=<ms>&w=<name>...&r=<name>...
//	     200 {"id":"<32 hex>","epoch":"<decimal>"}; waits while the locks are held
//	     elsewhere, until the caller gives up (closes the request)
//	POST /flashstor/lock/v1/refresh?id=<id>    200, or 404 when the grant is gone
//	POST /flashstor/lock/v1/release?id=<id>    200 (also for a grant already gone)
//
// 409 with X-Flashstor-Lock-Error: not-owner means this node does not own the set (any
// more); the caller looks the owner up again. 400 is a malformed request: a set out of
// range, a TTL outside [MinLockTTL, MaxLockTTL], no name, more than MaxNames names or a name
// longer than MaxNameLen. A grant not refreshed within its TTL is released by the owner
// (the holder's node died or was cut off); the holder refreshes every third of the TTL. A
// holder that loses its grant this way and commits anyway is still fenced only if the set
// changed owner meanwhile: the TTL must exceed the longest operation under a lock, which is
// why the holder refreshes rather than relying on a long TTL.
//
// # Failure cases
//
//   - Owner node dies: its lease expires after LeaseTTL; the next candidate wins with a
//     higher epoch and raises the fence. Requests routed to the dead owner fail (the round
//     trip does not connect) and are retried by the locker against the new owner, within
//     the caller's context; a request whose commit was caught by the switch fails with
//     storage.ErrStaleEpoch inside the object core's quorum error: S3 503 SlowDown, retried
//     by the client.
//   - Owner paused (SIGSTOP) past its lease: as above for the others; the resumed owner
//     grants nothing (the acknowledgement check) and its holders' commits are fenced.
//   - Partial fencing: a stale commit may land on drives the new owner's fence raise did
//     not reach (offline at takeover). Those are fewer than a write quorum, so the stale
//     write fails its quorum and the object core rolls back what it wrote; what it leaves
//     on a minority of drives (if it crashes before the rollback) is outvoted by reads and
//     repaired by heal, as any failed write.
//   - Holder node dies holding a remote grant: released after its TTL. So is a grant
//     whose answer never reached its caller (the caller gave up just as it was granted).
//   - Owner unreachable when a holder releases: the release call gives up after 5s, and
//     the TTL frees the lock.
//   - An etcd member silent (a paused process, its connections open): a node whose
//     owner cache is watched through it forgets every cached owner when the watch hears
//     nothing for three heartbeats (a fifth of LeaseTTL each), and watches again through
//     another member (package etcdwatch); a cached owner replaced meanwhile costs a 409
//     and a look-up, as at any change of owner.
//   - etcd unreachable: no lease keep-alive, so every owner stops granting after half the
//     TTL and the cluster refuses writes (503) until etcd is back. Reads of a set also take
//     locks and stop too.
//
// Calls without an epoch (drives of a one-node deployment, staging of data before the lock
// is taken, listing) are not fenced; see package storage/fence.
//
// # The collector of unreferenced data
//
// A set's collector (erasureset.Set.CollectGarbage) walks each drive's records and removes
// the old data directories none names; a rename or a heal on any node can move a record
// to a key its walk has passed. Every such write holds the key's write lock, which only the
// set's owner grants: Locker.WatchLocks lets the owner's collector watch those grants
// (nslock.Map.Watch) and read again the records of the keys written during its walk. On
// another node it fails with ErrNotOwner, and the node does not collect the set. The
// collector's drive calls carry the owner's epoch: once another node owns the set, the
// drives refuse them.
package owner
