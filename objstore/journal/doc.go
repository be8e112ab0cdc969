// Package journal is the object core's intent journal: small, versioned records of
// multi-key operations (a directory rename moves every key below a prefix), committed
// durably before the operation touches any key, removed once it is done, and completed on
// the next start (or by heal) when a crash interrupted it. So no operation that the journal
// covers is ever left half done: after a crash it is completed, never undone, since every
// step it takes is safe to take again.
//
// # Where the records live
//
// In the system volume (".flashstor.sys") of the drives of one erasure set (the pool's
// first, which also keeps the bucket configuration records), one file per record:
//
//	.flashstor.sys/journal/<id>
//
// where <id> is 32 hex digits: the record's creation time in nanoseconds since the epoch
// (16 digits) then 8 random bytes, so that the files list in creation order. A record is
// written whole to every drive with the drive's atomic, durable WriteFile, the same
// durability as an object's metadata.
//
// # When a record counts
//
// Begin writes the record to every drive of the set and succeeds only when a write
// quorum W of them took it (k, or k+1 when k == m, as for objects); otherwise it removes
// what it wrote and fails, and the operation does not start. Done removes the record from
// every drive; it too needs W. Among n drives, a record that Done removed is left on at
// most n-W of them (the drives that missed the removal), and a record that Begin committed
// is on at least W. Pending therefore decides, for every record any drive lists:
//
//   - live, to be completed: it is on at least n-W+1 drives;
//   - dead, to be removed from every drive: every drive answered and it is on at most n-W
//     (a Begin that failed, or the leftover of a Done that succeeded);
//   - undecided, left alone until a later Pending: anything else (drives did not answer;
//     the record may be committed on them).
//
// A drive's copy that cannot be read or decoded counts as absent.
//
// # Record format, versions 1 and 2
//
//	offset  size  field
//	0       4     magic "FSJR"
//	4       1     version: 1 or 2
//	5       1     flags: 0 (reserved)
//	6       4     body length n, big-endian
//	10      n     body: a JSON object (below)
//	10+n    4     CRC-32C (Castagnoli) of bytes 0 to 10+n, big-endian
//
// A record is written in the oldest version that has its op, so that a binary that knows
// only version 1 still runs the ops of version 1. The body of version 1 is one of two ops:
//
//	{"op": "rename-prefix", "bucket": "...", "src": "a/", "dst": "b/",
//	 "deleteDst": false, "keyLists": ["x-amz-meta-..."], "created": "RFC 3339 time"}
//
//	{"op": "sync-names", "bucket": "...", "src": "k1", "names": ["k1", "k2"],
//	 "removed": ["k3"], "keyLists": ["x-amz-meta-..."], "meta": {"x-amz-meta-...": "..."},
//	 "created": "RFC 3339 time"}
//
// "rename-prefix" moves every key that starts with src to dst followed by the rest of the
// key; deleteDst first removes the object whose key is dst (an empty directory's marker
// being replaced by a source without one); keyLists name metadata entries that hold lists
// of keys of the bucket (a URL-escaped JSON array of strings), rewritten where they name a
// moved key.
//
// "sync-names" makes the names of a file with hard links one file again (the mount's
// commit, link, unlink and rename of such a file): every key of names becomes a copy of
// src, content and metadata, with the keyLists entries set to the list of names and the
// meta entries set (both removed instead when one name is left), then the keys of removed
// that are not in names go. If src is gone, the first of names that exists is copied.
//
// Version 2 has the same layout and adds one op:
//
//	{"op": "rename-key", "bucket": "...", "src": "k1", "dst": "k2", "created": "RFC 3339 time"}
//
// "rename-key" is the rename of one object (the mount's rename of a file, the object
// layer's RenameObject): the object at key src ends up at key dst, replacing what dst held.
// Within one erasure set the drives rename one by one, so a crash may leave it at src on
// some drives and at dst on the others (neither on k); recovery renames it on every drive
// still holding src. Across sets recovery redoes the copy and the removal of src. A
// version 1 record that names this op is corrupt.
//
// Unknown fields are ignored; an unknown op decodes (ErrUnknownOp from
// Record.Check) and is left in place, neither run nor removed, as is a record of a newer
// version (ErrNewerVersion): a newer binary will run them. A new version adds fields or ops
// under a new version number, and Unmarshal keeps reading every older one (golden copies
// of each version's bytes live in testdata).
package journal
