package erasureset

import (
	"context"

	"github.com/flashstor/flashstor/objstore/nslock"
)

// Locker grants the namespace locks of the object core (nslock.Map in one process; the
// erasure sets' owners in a cluster, package cluster/owner).
type Locker interface {
	// Grant takes the write locks of writes and the read locks of reads (a name in both
	// is write-locked), without deadlock between callers whose sets of names overlap, and
	// returns when all are held or when ctx is done with none held. The context it returns
	// is ctx carrying what the drives must fence the grant by (storage.WithEpochs, the
	// epochs of the owners that granted the locks); every drive call made under the locks
	// must use it, so that a call made after the grant's owner was replaced is refused.
	Grant(ctx context.Context, writes, reads []string) (context.Context, nslock.Unlock, error)
}

// A LockWatcher is a Locker that can watch the names locked in a set
// (nslock.Map.Watch): the collector of unreferenced data reads again the records of the
// keys written during its walk, whichever process wrote them. In a cluster only the set's
// owner can (it grants every lock of the set); a node that does not own the set fails.
type LockWatcher interface {
	// WatchLocks starts a watch of the names of set that start with prefix. The context
	// it returns carries what the drives must fence the watcher's calls by (the owner's
	// epoch), so that they refuse them once another node owns the set.
	WatchLocks(ctx context.Context, set int, prefix string) (context.Context, *nslock.Watch, error)
}
