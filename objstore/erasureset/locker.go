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
