// Package fusefs is the POSIX face of Flashstor: a FUSE file system (go-fuse v2, node API)
// over the object layer, in process. The mount's root lists the buckets; inside a bucket,
// "/" in keys makes directories. SEMANTICS.md beside this file says what every operation
// does; the tests keep it true.
//
// # Shape
//
//   - rootNode: the buckets (mkdir makes one, rmdir removes an empty one).
//   - dirNode: a bucket or a key prefix ("a/b/"), implicit (from keys below it) or explicit
//     (a marker object "a/b/" that also carries its mode, owner and times).
//   - fileNode: one object, a regular file or a symlink. Its content is in one of the states
//     of content (content.go): committed in the core; the first MiB of a new file, in
//     memory; streaming into the core as a sequential write arrives; or staged in a local
//     file for random writes.
//   - fileHandle: one open file description; reads and writes go through its node.
//     sharedReader (reader.go) reads a committed version by range; once a handle reads
//     sequentially, its readahead (readahead.go) decodes that version ahead of it.
//   - feed (events.go): the change feed's callback and the goroutine that sends the
//     kernel's invalidations.
//   - observedFS (observe.go): installed only when Options.Observe is set, it times each
//     request between go-fuse's server and its node file system.
//
// # Coherence
//
// Every change this mount makes goes to the core with the mount's origin in its context; the
// mount subscribes to the core's change feed and, for every change made by someone else,
// drops what it cached (node attributes, open readers, listing hints, known names) at once
// and tells the kernel to drop its entry, attribute and page caches (events.go). Kernel
// caches therefore stay on with long timeouts.
//
// # Lock order
//
// From outermost to innermost:
//
//  1. fileNode.mu (one file's content and attributes; held across core calls that commit or
//     stage that file, so that writes, commits and truncates of one file are serialised).
//  2. fileHandle.mu (a handle's sequential-read detection and readahead stream).
//  3. readahead.mu (a stream's windows; never held across core calls).
//  4. dirNode.mu (a directory's attributes, hints and names; held across a core call only
//     to read or write the directory's own marker).
//  5. go-fuse's own Inode locks (taken inside GetChild, Children, AddChild...).
//
// Two fileNode locks are never held at once, except by rename, which takes the source's
// before the destination's after checking they differ. No fusefs lock is held while a kernel
// notification is sent (the kernel may wait on a request that waits on that lock), and the
// change-feed callback takes no fusefs lock at all: it runs inside another writer's core
// call, under that key's core lock, which a fileNode.mu holder may be waiting for.
package fusefs
