package owner

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/flashstor/flashstor/objstore/erasureset"
	"github.com/flashstor/flashstor/objstore/nslock"
	"github.com/flashstor/flashstor/objstore/storage"
)

// Locker is the erasureset.Locker of a cluster node's object layer: it takes each lock
// from the owner of the lock's set, locally or over the lock API.
type Locker struct{ n *Node }

var _ erasureset.Locker = (*Locker)(nil)
var _ erasureset.LockWatcher = (*Locker)(nil)

// Locker returns the node's routed locker.
func (n *Node) Locker() *Locker { return &Locker{n: n} }

// grantAttempts bounds the owner look-ups of one set's grant: a switch of owner in
// progress fails the request (503) rather than hold it for the takeover.
const grantAttempts = 5

// setRequest is the part of a request one set's owner grants.
type setRequest struct {
	set           int
	writes, reads []string
}

// Grant takes the locks of writes and reads from their sets' owners, in ascending set
// order, and returns ctx carrying the epoch of each set locked.
func (l *Locker) Grant(ctx context.Context, writes, reads []string) (context.Context, nslock.Unlock, error) {
	reqs := l.group(writes, reads)
	unlocks := make([]nslock.Unlock, 0, len(reqs))
	releaseAll := func() {
		for i := len(unlocks) - 1; i >= 0; i-- {
			unlocks[i]()
		}
	}
	epochs := make([]storage.Epoch, 0, len(reqs))
	for _, r := range reqs {
		epoch, unlock, err := l.grantSet(ctx, r)
		if err != nil {
			releaseAll()
			return nil, nil, err
		}
		unlocks = append(unlocks, unlock)
		epochs = append(epochs, storage.Epoch{Set: r.set, Epoch: epoch})
	}
	var once sync.Once
	return storage.WithEpochs(ctx, epochs...), func() { once.Do(releaseAll) }, nil
}

// group splits a request by set, in ascending set order. Bucket-level names go with every
// set of the request's other names, or to every set when there are none (read-one,
// write-all: see the package doc).
func (l *Locker) group(writes, reads []string) []setRequest {
	bySet := map[int]*setRequest{}
	var bucketWrites, bucketReads []string
	add := func(names []string, write bool) {
		for _, name := range names {
			set, ok := l.n.cfg.SetOf(name)
			if !ok {
				if write {
					bucketWrites = append(bucketWrites, name)
				} else {
					bucketReads = append(bucketReads, name)
				}
				continue
			}
			r := bySet[set]
			if r == nil {
				r = &setRequest{set: set}
				bySet[set] = r
			}
			if write {
				r.writes = append(r.writes, name)
			} else {
				r.reads = append(r.reads, name)
			}
		}
	}
	add(writes, true)
	add(reads, false)
	if len(bySet) == 0 {
		for set := range l.n.cfg.Sets {
			bySet[set] = &setRequest{set: set}
		}
	}
	out := make([]setRequest, 0, len(bySet))
	for _, r := range bySet {
		r.writes = append(r.writes, bucketWrites...)
		r.reads = append(r.reads, bucketReads...)
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b setRequest) int { return a.set - b.set })
	return out
}

// grantSet takes r's locks from the set's owner, looking the owner up again when the one
// it asked is not (or no longer) the owner.
func (l *Locker) grantSet(ctx context.Context, r setRequest) (uint64, nslock.Unlock, error) {
	n := l.n
	var lastErr error
	for attempt := range grantAttempts {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return 0, nil, context.Cause(ctx)
			case <-time.After(time.Duration(attempt) * 50 * time.Millisecond):
			}
		}
		o, err := n.owners.lookup(ctx, n.cfg.Client, r.set)
		if err != nil {
			lastErr = err
			continue
		}
		if o.Node == n.cfg.Node {
			t, unlock, err := n.grantLocal(ctx, r.set, r.writes, r.reads)
			if err == nil {
				return t.epoch, unlock, nil
			}
			lastErr = err
		} else {
			g, err := n.acquireRemote(ctx, o.URL, r.set, r.writes, r.reads)
			if err == nil {
				return g.Epoch, n.holdRemote(o.URL, g.ID), nil
			}
			lastErr = err
		}
		// Whatever went wrong, the owner is looked up again next time: the one cached may
		// have stopped answering after another node took the set over, and the watch that
		// would tell may not have heard yet (its etcd member silent: three heartbeats).
		n.owners.forget(r.set)
		if !errors.Is(lastErr, ErrNotOwner) && !errors.Is(lastErr, ErrNoOwner) {
			return 0, nil, lastErr
		}
	}
	return 0, nil, fmt.Errorf("set %d: %w", r.set, lastErr)
}

// holdRemote keeps grant id at base alive (a refresh every third of the TTL) until the
// returned release, which releases it.
func (n *Node) holdRemote(base, id string) nslock.Unlock {
	stop := make(chan struct{})
	done := make(chan struct{})
	q := url.Values{"id": {id}}
	go func() {
		defer close(done)
		tick := time.NewTicker(n.cfg.LockTTL / 3)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-n.ctx.Done():
				return // the node closed: the owner's TTL frees the grant
			case <-tick.C:
				ctx, cancel := context.WithTimeout(n.ctx, n.cfg.LockTTL/3)
				_, err := n.call(ctx, base, "refresh", q)
				cancel()
				if errors.Is(err, errGrantGone) {
					n.cfg.Log.Warn("owner: a lock held was released by its owner", "owner", base, "id", id)
					return
				}
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stop)
			<-done
			// A release that does not arrive is made good by the TTL.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			n.call(ctx, base, "release", q)
		})
	}
}

// WatchLocks implements erasureset.LockWatcher: only the owner of set grants its locks,
// whoever asks, so only the owner can watch them all. It fails with ErrNotOwner on another
// node. The context it returns carries the term's epoch: once another node owns the set
// (and has raised the fence), the drives refuse the watcher's calls, whose watch no longer
// sees the set's writers.
func (l *Locker) WatchLocks(ctx context.Context, set int, prefix string) (context.Context, *nslock.Watch, error) {
	t, err := l.n.liveTerm(set)
	if err != nil {
		return nil, nil, err
	}
	return storage.WithEpochs(ctx, storage.Epoch{Set: set, Epoch: t.epoch}), l.n.locks[set].Watch(prefix), nil
}
