package owner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/cluster/etcdwatch"
	"github.com/flashstor/flashstor/objstore/cluster/leasekeep"
	"github.com/flashstor/flashstor/objstore/nslock"
	"github.com/flashstor/flashstor/objstore/storage/remote"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// KeyPrefix is the etcd prefix of the sets' elections: set i's is KeyPrefix + "<i>/owner".
const KeyPrefix = "/flashstor/v1/sets/"

func electionPrefix(set int) string { return KeyPrefix + strconv.Itoa(set) + "/owner" }

// ErrNotOwner means the node asked does not own the set (any more). It wraps
// objstore.ErrWriteQuorum: the operation did nothing and may be retried (503 SlowDown).
var ErrNotOwner = fmt.Errorf("%w: not the erasure set's owner", objstore.ErrWriteQuorum)

// ErrNoOwner means no node owns the set now (an election in progress, etcd unreachable).
var ErrNoOwner = fmt.Errorf("%w: the erasure set has no owner", objstore.ErrWriteQuorum)

// Config describes a node's part in set ownership.
type Config struct {
	// Client reaches etcd.
	Client *clientv3.Client
	// Node is this node's name, unique in the cluster; Nodes every node's name in one
	// order shared by all (placement: set i prefers Nodes[i mod len(Nodes)]). A node not
	// in Nodes (a gateway) campaigns for nothing and only routes its locks.
	Node  string
	Nodes []string
	// URL is the base URL ("http://host:port") at which this node serves Handler.
	URL string
	// Sets is the number of erasure sets.
	Sets int
	// Secret is the cluster secret that signs node tokens (at least 16 bytes).
	Secret []byte
	// LeaseTTL is the ownership lease (default 10s; etcd counts whole seconds). A fifth of
	// it is the heartbeat of the owner cache's watch (etcdwatch.Config.Heartbeat).
	LeaseTTL time.Duration
	// TakeoverDelay is how long a node waits before it campaigns for a set it does not
	// prefer (default LeaseTTL).
	TakeoverDelay time.Duration
	// LockTTL is how long a remote grant lives without a refresh (default 30s).
	LockTTL time.Duration
	// Advance raises the fence of set's drives to epoch; it must return nil only once a
	// write quorum of them recorded it. A new owner grants nothing before it succeeds.
	Advance func(ctx context.Context, set int, epoch uint64) error
	// SetOf returns the set whose owner grants lock name, ok false for a bucket-level
	// name (granted by every set's owner, see the package doc).
	SetOf func(name string) (set int, ok bool)
	// HTTP is the client of other nodes' lock APIs (a pooled default if nil).
	HTTP *http.Client
	Log  *slog.Logger
}

// Node is one node's part in set ownership: its campaigns, the locks of the sets it owns,
// and the routed Locker of its object layer.
type Node struct {
	cfg    Config
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	auth   *remote.Verifier
	// locks holds the namespace locks of each set this node owns, by set.
	locks []nslock.Map

	mu sync.Mutex
	// terms holds the current ownership of each set this node owns. GUARDED_BY(mu).
	terms map[int]*term
	// grants holds the remote grants by id. GUARDED_BY(mu).
	grants map[string]*grant
	// session is the current session and lease its lease (LoseLease). GUARDED_BY(mu).
	session *concurrency.Session
	lease   *lease

	owners ownerCache
}

// term is one ownership of one set by this node.
type term struct {
	set   int
	epoch uint64
	lease *lease
	// ended is closed when the term ends; grants check it.
	ended chan struct{}
}

// live reports whether the term may still grant: not ended, its lease acknowledged
// recently enough.
func (t *term) live() bool {
	select {
	case <-t.ended:
		return false
	default:
	}
	return t.lease.live()
}

// lease is the node's etcd lease with the time up to which the node may trust it.
type lease struct {
	ttl time.Duration
	mu  sync.Mutex
	// trustedUntil is half a TTL after the last keep-alive acknowledgement arrived: the
	// lease cannot have expired at etcd before, as long as a round trip takes less than
	// half a TTL. GUARDED_BY(mu).
	trustedUntil time.Time
	// lost is set once the node knows the lease is gone: no acknowledgement counts after.
	// GUARDED_BY(mu).
	lost bool
}

func (l *lease) live() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return time.Now().Before(l.trustedUntil)
}

// distrust makes the lease untrusted at once: the node knows it is gone.
func (l *lease) distrust() {
	l.mu.Lock()
	l.trustedUntil, l.lost = time.Time{}, true
	l.mu.Unlock()
}

func (l *lease) acked(at time.Time) {
	l.mu.Lock()
	if !l.lost {
		l.trustedUntil = at.Add(l.ttl / 2)
	}
	l.mu.Unlock()
}

// Start starts the node's campaigns. Close stops them.
func Start(cfg Config) (*Node, error) {
	switch {
	case cfg.Client == nil:
		return nil, errors.New("owner: no etcd client")
	case cfg.Sets <= 0:
		return nil, errors.New("owner: no erasure sets")
	case cfg.Advance == nil || cfg.SetOf == nil:
		return nil, errors.New("owner: Advance and SetOf are required")
	case cfg.Node == "" || len(cfg.Nodes) == 0:
		return nil, errors.New("owner: Node and Nodes are required")
	}
	auth, err := remote.NewVerifier(cfg.Secret)
	if err != nil {
		return nil, err
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 10 * time.Second
	}
	cfg.LeaseTTL = max(cfg.LeaseTTL.Round(time.Second), time.Second)
	if cfg.TakeoverDelay <= 0 {
		cfg.TakeoverDelay = cfg.LeaseTTL
	}
	if cfg.LockTTL <= 0 {
		cfg.LockTTL = 30 * time.Second
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second}}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &Node{
		cfg: cfg, ctx: ctx, cancel: cancel, auth: auth,
		locks:  make([]nslock.Map, cfg.Sets),
		terms:  make(map[int]*term),
		grants: make(map[string]*grant),
	}
	n.owners.init()
	// A node not in Nodes (a gateway: no drives) owns nothing: it only routes its
	// requests' locks to the owners.
	if containsNode(cfg.Nodes, cfg.Node) {
		n.wg.Add(1)
		go func() { defer n.wg.Done(); n.run() }()
	}
	n.wg.Add(2)
	go func() { defer n.wg.Done(); n.reap() }()
	go func() { defer n.wg.Done(); n.owners.watch(ctx, cfg.Client, cfg.LeaseTTL/5, cfg.Log) }()
	return n, nil
}

func containsNode(nodes []string, node string) bool {
	for _, m := range nodes {
		if m == node {
			return true
		}
	}
	return false
}

// Close ends the node's terms (resigning them, so that others take over at once), releases
// its grants and stops its goroutines.
func (n *Node) Close() {
	n.cancel()
	n.wg.Wait()
}

// prefers reports whether set's placement names this node first.
func (n *Node) prefers(set int) bool { return n.cfg.Nodes[set%len(n.cfg.Nodes)] == n.cfg.Node }

// run keeps a session alive and campaigns under it, starting a new one when it is lost.
func (n *Node) run() {
	for n.ctx.Err() == nil {
		if err := n.serveSession(); err != nil && n.ctx.Err() == nil {
			n.cfg.Log.Warn("owner: session ended", "node", n.cfg.Node, "err", err)
		}
		select {
		case <-n.ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// serveSession grants a lease, campaigns for every set under it, and returns when the
// lease is lost or the node closes.
func (n *Node) serveSession() error {
	ttl := int64(n.cfg.LeaseTTL / time.Second)
	sent := time.Now()
	// Bounded, like every request of the session's: a member that stopped answering
	// holds it until gRPC gives up on the connection; run's next attempt goes elsewhere.
	gctx, cancel := context.WithTimeout(n.ctx, n.cfg.LeaseTTL)
	g, err := n.cfg.Client.Grant(gctx, ttl)
	cancel()
	if err != nil {
		return fmt.Errorf("granting a lease: %w", err)
	}
	l := &lease{ttl: time.Duration(g.TTL) * time.Second}
	l.acked(sent)
	sctx, stop := context.WithCancel(n.ctx)
	defer stop()
	s, err := concurrency.NewSession(n.cfg.Client, concurrency.WithLease(g.ID), concurrency.WithContext(sctx))
	if err != nil {
		return fmt.Errorf("session: %w", err)
	}
	n.mu.Lock()
	n.session, n.lease = s, l
	n.mu.Unlock()
	var wg sync.WaitGroup
	for set := range n.cfg.Sets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.campaign(sctx, s, l, set)
		}()
	}
	// Until the lease is gone (revoked, expired) or the node closes; through a member that
	// stopped answering too.
	err = leasekeep.Keep(sctx, n.cfg.Client, g.ID, l.ttl, l.acked, n.cfg.Log.With("node", n.cfg.Node))
	stop()
	wg.Wait()
	// Revoke: the elections' keys go at once, so that others take over without waiting
	// for the TTL (a lease already gone makes this fail, harmlessly).
	rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n.cfg.Client.Revoke(rctx, g.ID)
	return fmt.Errorf("lease lost or node closing: %w", err)
}

// campaign wins set's election under s and holds the set until ctx ends.
func (n *Node) campaign(ctx context.Context, s *concurrency.Session, l *lease, set int) {
	if !n.prefers(set) {
		select {
		case <-ctx.Done():
			return
		case <-time.After(n.cfg.TakeoverDelay):
		}
	}
	e := concurrency.NewElection(s, electionPrefix(set))
	val, _ := json.Marshal(ownerInfo{Node: n.cfg.Node, URL: n.cfg.URL})
	// A campaign fails without its session ending when etcd loses one of its requests:
	// the put of the candidate's key went out on the connection to a member that then
	// stopped answering (a paused node) and is not retried, since it may have been
	// applied. Campaigning again is safe (the key is the session's: a put that did land
	// is found and kept); giving up would leave the set without this candidate for as
	// long as the session lives, and without any owner if every candidate gave up.
	if !retry(ctx, func() error { return e.Campaign(ctx, string(val)) }, func(err error) {
		n.cfg.Log.Warn("owner: campaigning again", "set", set, "err", err)
	}) {
		return // ctx ended: the session is gone or the node closes
	}
	epoch := uint64(e.Rev())
	// Raise the fence before the first grant; retried until it reaches a write quorum
	// or the term ends.
	if !retry(ctx, func() error { return n.cfg.Advance(ctx, set, epoch) }, func(err error) {
		n.cfg.Log.Warn("owner: raising the fence", "set", set, "epoch", epoch, "err", err)
	}) {
		return
	}
	t := &term{set: set, epoch: epoch, lease: l, ended: make(chan struct{})}
	n.mu.Lock()
	n.terms[set] = t
	n.mu.Unlock()
	n.cfg.Log.Info("owner: set owned", "node", n.cfg.Node, "set", set, "epoch", epoch)
	<-ctx.Done()
	n.endTerm(t)
}

// retry calls f until it succeeds (true) or ctx ends (false), reporting each failure
// while ctx lives to failed and waiting a little longer after each (2 s at most).
func retry(ctx context.Context, f func() error, failed func(error)) bool {
	for attempt := 1; ; attempt++ {
		err := f()
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		failed(err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(min(time.Duration(attempt)*100*time.Millisecond, 2*time.Second)):
		}
	}
}

// endTerm stops t granting and releases the remote grants made under it.
func (n *Node) endTerm(t *term) {
	n.mu.Lock()
	close(t.ended)
	if n.terms[t.set] == t {
		delete(n.terms, t.set)
	}
	var gone []*grant
	for id, g := range n.grants {
		if g.term == t {
			gone = append(gone, g)
			delete(n.grants, id)
		}
	}
	n.mu.Unlock()
	for _, g := range gone {
		g.unlock()
	}
}

// liveTerm returns the term under which this node may grant set's locks now.
func (n *Node) liveTerm(set int) (*term, error) {
	n.mu.Lock()
	t := n.terms[set]
	n.mu.Unlock()
	if t == nil || !t.live() {
		return nil, fmt.Errorf("%w: node %s, set %d", ErrNotOwner, n.cfg.Node, set)
	}
	return t, nil
}

// Owns returns the epoch of this node's live term of set, if it has one.
func (n *Node) Owns(set int) (epoch uint64, ok bool) {
	t, err := n.liveTerm(set)
	if err != nil {
		return 0, false
	}
	return t.epoch, true
}

// leaseID returns the lease of the node's current session, 0 if none.
func (n *Node) leaseID() clientv3.LeaseID {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.session == nil {
		return 0
	}
	return n.session.Lease()
}

// LoseLease revokes the node's current lease, as etcd does when the lease expires: its
// terms end and other nodes take its sets over. The node then campaigns again under a new
// lease. For tests and for an operator's forced hand-over.
func (n *Node) LoseLease(ctx context.Context) error {
	n.mu.Lock()
	s, l := n.session, n.lease
	n.mu.Unlock()
	if s == nil {
		return errors.New("owner: no session")
	}
	// Stop granting before the others can take over.
	l.distrust()
	_, err := n.cfg.Client.Revoke(ctx, s.Lease())
	return err
}

// ownerInfo is the value of an election key.
type ownerInfo struct {
	Node  string `json:"node"`
	URL   string `json:"url"`
	epoch uint64
}

// ownerCache remembers each set's owner; a watch on KeyPrefix forgets a set's entry when
// its election changes.
type ownerCache struct {
	mu sync.Mutex
	// bySet GUARDED_BY(mu).
	bySet map[int]ownerInfo
}

func (c *ownerCache) init() { c.bySet = make(map[int]ownerInfo) }

func (c *ownerCache) forget(set int) {
	c.mu.Lock()
	delete(c.bySet, set)
	c.mu.Unlock()
}

// lookupTimeout bounds one look-up of a set's owner in etcd.
const lookupTimeout = 2 * time.Second

// lookup returns set's owner, from the cache or etcd.
func (c *ownerCache) lookup(ctx context.Context, cli *clientv3.Client, set int) (ownerInfo, error) {
	c.mu.Lock()
	o, ok := c.bySet[set]
	c.mu.Unlock()
	if ok {
		return o, nil
	}
	// Bounded: a member that stopped answering (a paused node) holds a request sent to it
	// until gRPC's keep-alive gives up on the connection (10 to 15 s); the caller's next
	// attempt goes to another member.
	lctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	resp, err := cli.Get(lctx, electionPrefix(set)+"/", clientv3.WithFirstCreate()...)
	if err != nil {
		return ownerInfo{}, fmt.Errorf("%w: set %d: %w", ErrNoOwner, set, err)
	}
	if len(resp.Kvs) == 0 {
		return ownerInfo{}, fmt.Errorf("%w: set %d", ErrNoOwner, set)
	}
	if err := json.Unmarshal(resp.Kvs[0].Value, &o); err != nil {
		return ownerInfo{}, fmt.Errorf("%w: set %d: bad election value: %w", ErrNoOwner, set, err)
	}
	o.epoch = uint64(resp.Kvs[0].CreateRevision)
	c.remember(set, o)
	return o, nil
}

// remember caches o as set's owner.
func (c *ownerCache) remember(set int, o ownerInfo) {
	c.mu.Lock()
	c.bySet[set] = o
	c.mu.Unlock()
}

// watch forgets the entry of every set whose election changes, and every entry when the
// watch (re)starts or breaks, until ctx ends. A watch that hears nothing for three
// heartbeats (its etcd member silent) breaks, and the next one goes to another member
// (package etcdwatch).
func (c *ownerCache) watch(ctx context.Context, cli *clientv3.Client, heartbeat time.Duration, log *slog.Logger) {
	etcdwatch.Watch(ctx, cli, KeyPrefix, etcdwatch.Config{
		OnKey: func(key string, _ int64) {
			rest := strings.TrimPrefix(key, KeyPrefix)
			if i := strings.IndexByte(rest, '/'); i > 0 {
				if set, err := strconv.Atoi(rest[:i]); err == nil {
					c.forget(set)
				}
			}
		},
		// What changed before the watch started, or while it was broken (etcd lost, a
		// compaction, a silent member), is unknown: nothing cached can be trusted.
		OnReset: func() {
			c.mu.Lock()
			clear(c.bySet)
			c.mu.Unlock()
		},
		OnError:   func(err error) { log.Warn("owner: the owners' watch", "err", err) },
		Retry:     heartbeat,
		Heartbeat: heartbeat,
	}, clientv3.WithPrefix())
}

// WaitOwners returns once every set has an owner in etcd (a node that won its election;
// it grants once it has raised its set's fence), or with the error of the last look-up
// when ctx ends. A node that starts serving waits for it, so that its first requests do
// not fail for want of an owner while the elections of a starting cluster run.
func (n *Node) WaitOwners(ctx context.Context) error {
	for {
		var err error
		for set := range n.cfg.Sets {
			if _, err = n.owners.lookup(ctx, n.cfg.Client, set); err != nil {
				break
			}
		}
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the sets' owners: %w", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
