package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/flashstor/flashstor/objstore/cluster/etcdconfig"
	"github.com/flashstor/flashstor/objstore/cluster/owner"
	"github.com/flashstor/flashstor/objstore/erasureset"
	"github.com/flashstor/flashstor/objstore/nslock"
	"github.com/flashstor/flashstor/objstore/storage"
)

// advanceTimeout bounds one drive's part in raising a set's fence.
const advanceTimeout = 5 * time.Second

// startOwner starts this node's part in set ownership (package owner) over the agreed
// layout: its campaigns (none on a gateway), the lock API (served by Serve), and the
// routed locker the deployment takes its locks through.
func (n *Node) startOwner(a *Agreement) error {
	n.agreed = a
	o, err := owner.Start(owner.Config{
		Client: n.client, Node: n.cfg.Self, Nodes: n.top.Nodes, URL: n.top.Scheme + "://" + n.cfg.Self,
		Sets: len(a.Positions), Secret: n.cfg.Secret, LeaseTTL: n.cfg.OwnerLease,
		Advance: n.advance, SetOf: n.lockSet, HTTP: n.httpClient(), Log: n.log,
	})
	if err != nil {
		return err
	}
	if n.cfg.PeerCAs != nil {
		o.RequireClientCert(n.cfg.PeerCAs)
	}
	n.owner.Store(o)
	return nil
}

// lockSet is owner.Config.SetOf: the pool's placement once the deployment is open. Before
// (journal recovery at the start), every name is taken from every set's owner, as a
// bucket's is: a superset of the owner that places it, so still exclusive.
func (n *Node) lockSet(name string) (int, bool) {
	if p := n.pool.Load(); p != nil {
		return p.LockSet(name)
	}
	return 0, false
}

// advance is owner.Config.Advance: it raises the fence of every drive of set to epoch (a
// call carrying the epoch admits it, see package fence) and succeeds once a write quorum
// of them recorded it, without waiting for the rest: a paused node's drives would hold
// the takeover for advanceTimeout. The others keep trying in the background, bounded by
// advanceTimeout, and the first call of the new owner's era raises them anyway.
func (n *Node) advance(ctx context.Context, set int, epoch uint64) error {
	a := n.agreed
	pos := a.Positions[set]
	parity := a.Parity
	if parity < 0 || parity > len(pos)/2 {
		parity = len(pos) / 2
	}
	need := erasureset.WriteQuorum(len(pos)-parity, parity)
	ctx = storage.WithEpochs(context.WithoutCancel(ctx), storage.Epoch{Set: set, Epoch: epoch})
	results := make(chan error, len(pos))
	for _, e := range pos {
		go func() {
			d, err := n.drive(e)
			if err == nil {
				dctx, cancel := context.WithTimeout(ctx, advanceTimeout)
				_, err = d.DiskInfo(dctx)
				cancel()
			}
			results <- err
		}()
	}
	ok := 0
	var errs []error
	for range pos {
		err := <-results
		if err == nil {
			if ok++; ok == need {
				return nil
			}
			continue
		}
		errs = append(errs, err)
	}
	return fmt.Errorf("set %d: epoch %d recorded on %d drives of %d, %d needed: %w", set, epoch, ok, len(pos), need, errors.Join(errs...))
}

// drive returns the drive at list index e: this node's own (fenced), or a client of the
// node that serves it, made once.
func (n *Node) drive(e int) (storage.Drive, error) {
	if d, ok := n.local[e]; ok {
		return d, nil
	}
	n.remoteMu.Lock()
	defer n.remoteMu.Unlock()
	if d, ok := n.remotes[e]; ok {
		return d, nil
	}
	ep := n.top.Endpoints[e]
	d, err := newRemote(n, ep.Node, e)
	if err != nil {
		return nil, err
	}
	n.remotes[e] = d
	return d, nil
}

// watchSettings follows the bucket documents in etcd into the deployment's caches until
// the node closes.
func (n *Node) watchSettings(docs *etcdconfig.Buckets) {
	ctx, cancel := context.WithCancel(context.Background())
	n.stopWatch = cancel
	dep := n.Deployment
	n.watchers.Go(func() {
		docs.Watch(ctx, dep.BucketConfigChanged, etcdconfig.WatchConfig{
			OnError: func(err error) { n.log.Warn("bucket settings watch", "err", err) },
		})
	})
}

// Owner is the node's part in set ownership (set by Start): its Handler serves the lock
// API under owner.APIPrefix.
func (n *Node) Owner() *owner.Node { return n.owner.Load() }

// unfenced is a Locker whose grants carry no epoch (Config.Unfenced): the calls made under
// them are not fenced.
type unfenced struct{ erasureset.Locker }

// Grant takes the locks from l's Locker and returns ctx as it was, without their epochs.
func (l unfenced) Grant(ctx context.Context, writes, reads []string) (context.Context, nslock.Unlock, error) {
	_, unlock, err := l.Locker.Grant(ctx, writes, reads)
	return ctx, unlock, err
}
