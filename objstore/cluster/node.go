// Package cluster runs one node of a Flashstor cluster: it reads the argument list every
// node is given (package topology), serves the node's own drives to the others (package
// remote's Handler), starts the node's embedded etcd member or reaches an external etcd,
// registers the node under a lease, agrees with the others on one deployment format through
// etcd, and opens the deployment over its local drives and the other nodes' remote ones.
//
// Start-up, in order (Node.Start):
//  1. etcd: the first nodes of the list run an embedded member (EtcdMembers, ports
//     EtcdClientOffset and EtcdPeerOffset above the S3 port); Config.Etcd names an external
//     cluster instead. With an https:// list the members serve both ports over mutual TLS
//     (Config.EtcdTLS: the node's certificate, client certificates of the cluster's CAs
//     required from clients and peers), and every node's etcd client presents its own.
//  2. membership: /flashstor/v1/nodes/<host:port> under a lease (MemberKey).
//  3. format agreement: FormatKey is created once (create-if-absent transaction); a node
//     whose list differs is refused, saying what differs; local drives are formatted for
//     their position, and a drive of another deployment or position refused.
//  4. wait until every set has a read quorum of drives holding the agreed format, logging
//     every Config.WaitReport which drives and nodes it waits for.
//  5. ownership: the node's owner.Node campaigns for the sets (a gateway for none) and
//     serves the lock API; the deployment takes every lock through its routed Locker,
//     so writers of one key on different nodes are serialised by the key's set's owner.
//  6. deploy.Open over all drives in set order, the bucket documents in etcd
//     (etcdconfig.Buckets), their watch feeding the pool's caches (BucketConfigChanged).
//  7. the change relay (package feedrelay, Node.Feed) subscribes to the deployment's
//     feed, so that the mounts of other nodes see this node's changes before its calls
//     return; Serve serves it under feedrelay.Prefix.
//
// Every drive this node holds is fenced for its set (package fence), whoever calls it:
// this node's deployment and the other nodes through the drive API check the same newest
// epoch. A new owner raises the fence on a write quorum of its set's drives (advance)
// before it grants, so a replaced owner's commits fail with storage.ErrStaleEpoch (S3 503).
//
// Healing runs on every node that runs it; each object it repairs is locked through the
// set's owner and fenced like any write, so two nodes healing one set serialise per object
// and a replaced owner's heal cannot commit.
package cluster

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flashstor/flashstor/internal/httpserver"
	"github.com/flashstor/flashstor/objstore/cluster/etcdconfig"
	"github.com/flashstor/flashstor/objstore/cluster/feedrelay"
	"github.com/flashstor/flashstor/objstore/cluster/owner"
	"github.com/flashstor/flashstor/objstore/cluster/topology"
	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/flashstor/flashstor/objstore/pool"
	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/fence"
	"github.com/flashstor/flashstor/objstore/storage/local"
	"github.com/flashstor/flashstor/objstore/storage/remote"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/namespace"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// Config configures one node.
type Config struct {
	// Args is the drive URL list, the same on every node ("{a...b}" ranges expand).
	Args []string
	// Self is this node as the list writes it (host:port); a node the list does not name
	// is a gateway (see topology.Topology.Self for finding it from a listen address).
	Self string
	// Parity of the sets; negative: format.DefaultParity of the set size.
	Parity int
	// Etcd lists the client URLs of an external etcd; empty: the embedded one.
	Etcd []string
	// EtcdNamespace, if set, prefixes every key this node reads and writes in etcd: several
	// deployments can share one external etcd.
	EtcdNamespace string
	// EtcdDir is the embedded member's data directory; empty: etcd in the system volume
	// of the node's first drive.
	EtcdDir string
	// Secret is the cluster secret that signs node-to-node requests (16 bytes or more).
	Secret []byte
	// Remote configures the clients of other nodes' drives.
	Remote remote.Options
	// Deploy is the template of the deployment (Log, options); Start sets Drives, Parity
	// and OpenDrive.
	Deploy deploy.Config
	// Version is this binary's version, registered with the node.
	Version string
	// HardStop makes Close stop the etcd member at once, without handing its leadership
	// over: for tests that stop a whole cluster at once, where the hand-over only waits for
	// members that are stopping too.
	HardStop bool
	// EtcdTick is the embedded etcd's heartbeat interval (its election timeout is ten
	// times as long); 0: etcd's default, 100 ms. Tests on loopback shorten it.
	EtcdTick time.Duration
	// EtcdLog receives the embedded etcd member's and the node's etcd client's logs; nil:
	// they are dropped (an operator's --etcd-log turns them on to see an election, a lease
	// expiry, a member lost).
	EtcdLog *zap.Logger
	// WaitReport is how often a node waiting for others says what it waits for (5 s).
	WaitReport time.Duration
	// OwnerLease is the etcd lease of the node's set ownerships (owner.Config.LeaseTTL,
	// 10 s by default): how long a dead owner's sets wait for another owner.
	OwnerLease time.Duration
	// UnorderedLocks makes the node take its object locks from its own namespace locks
	// instead of from the owners of the sets: writers of one key on different nodes are
	// then not ordered, and their commits carry no epoch. A test switch, never for use: the
	// fault suite shows with it that its linearizability check fails when writes are not
	// ordered across nodes.
	UnorderedLocks bool
	// Unfenced makes the drive calls of the node's object layer carry no epoch: its locks
	// are still granted by the sets' owners, but no drive checks that the owner which
	// granted them is still the owner when the calls arrive, so a commit held past a change
	// of owner lands. A test switch, never for use: the fault suite shows with it that its
	// fencing test fails without fencing (TestClusterFaultHeldCommitUnfencedLands).
	Unfenced bool
	// PeerCAs, when set, makes the node API (drives and locks) refuse every request
	// without a client certificate chaining to it: mutual TLS between nodes (--certs-dir,
	// tlsconf.Store.NodeCAs). Remote.TLS then carries this node's client certificate.
	PeerCAs *x509.CertPool
	// EtcdTLS is the node's etcd TLS: needed by an https:// list (the embedded members
	// serve over mutual TLS) and by https:// Etcd URLs (the client's certificate).
	EtcdTLS *EtcdTLS
	Log     *slog.Logger
}

// Node is one node of a cluster.
type Node struct {
	cfg   Config
	log   *slog.Logger
	top   *topology.Topology
	place *topology.Placement
	// localIdx lists this node's drives (indexes into top.Endpoints), local opens them.
	localIdx []int
	// local are this node's drives, each fenced for its set (package fence), served to
	// the other nodes and used by this node's own deployment alike.
	local map[int]storage.Drive
	// opened are the local drives as opened, closed last by Close (their redo logs).
	opened  []*local.Drive
	handler *remote.Handler
	// remotes are the clients of the other nodes' drives, by list index. GUARDED_BY(remoteMu).
	remoteMu sync.Mutex
	remotes  map[int]storage.Drive
	// agreed is the deployment's agreement (set by Start before the owner starts).
	agreed *Agreement
	// owner is the node's part in set ownership, set by Start.
	owner atomic.Pointer[owner.Node]
	// pool is the deployment's pool once open: the placement of lock names.
	pool atomic.Pointer[pool.Pool]
	// stopWatch ends the watch of the bucket settings; watchers waits for it.
	stopWatch func()
	watchers  sync.WaitGroup
	// feed relays changes between the nodes' mounts (package feedrelay).
	feed *feedrelay.Relay

	etcd   *embed.Etcd // nil unless this node runs a member
	client *clientv3.Client
	// lease is the membership key's lease (a clientv3.LeaseID), 0 before registering.
	lease     atomic.Int64
	closeOnce sync.Once
	// Deployment is the opened object layer, set by Start.
	Deployment *deploy.Deployment
}

// DriveName is the name under which a node serves the drive at index e of the list.
func DriveName(e int) string { return "e" + strconv.Itoa(e) }

// New reads the list, places the drives, opens this node's own drives and builds the
// handler that serves them. Serve Handler before Start: the other nodes need it to start.
func New(cfg Config) (*Node, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.WaitReport <= 0 {
		cfg.WaitReport = 5 * time.Second
	}
	top, err := topology.Parse(cfg.Args)
	if err != nil {
		return nil, err
	}
	place, err := top.Place(cfg.Parity)
	if err != nil {
		return nil, err
	}
	if cfg.Remote.Transport == nil {
		// One pool of connections to the other nodes for all their drives.
		cfg.Remote.Transport = remote.NewTransport(cfg.Remote)
	}
	n := &Node{cfg: cfg, log: cfg.Log.With("node", cfg.Self), top: top, place: place,
		local: make(map[int]storage.Drive), remotes: make(map[int]storage.Drive)}
	n.localIdx = top.Local(cfg.Self)
	setOf := make(map[int]int)
	for s, set := range place.Sets {
		for _, e := range set {
			setOf[e] = s
		}
	}
	served := make(map[string]storage.Drive)
	if cfg.Deploy.DriveOptions.Commits == nil {
		// The node's drives on one file system share their journal commits.
		cfg.Deploy.DriveOptions.Commits = local.NewCommitGroups()
	}
	for _, e := range n.localIdx {
		d, err := local.Open(top.Endpoints[e].Path, cfg.Deploy.DriveOptions)
		if err != nil {
			for _, d := range n.opened {
				d.Close()
			}
			return nil, fmt.Errorf("opening drive %s: %w", top.Endpoints[e].Path, err)
		}
		n.opened = append(n.opened, d)
		// One fence per drive, whoever calls: this node's own requests and the other
		// nodes' through the handler are checked against the same newest epoch.
		fd := fence.Wrap(d, setOf[e])
		n.local[e] = fd
		served[DriveName(e)] = fd
	}
	if n.handler, err = remote.NewHandler(cfg.Secret, served, cfg.Log); err != nil {
		return nil, err
	}
	if n.feed, err = feedrelay.New(feedrelay.Config{Self: cfg.Self, Scheme: top.Scheme, Secret: cfg.Secret, Transport: cfg.Remote.Transport, Log: n.log}); err != nil {
		return nil, err
	}
	if cfg.PeerCAs != nil {
		n.handler.RequireClientCert(cfg.PeerCAs)
		n.feed.RequireClientCert(cfg.PeerCAs)
	}
	return n, nil
}

// newRemote returns a client of drive e served by node.
func newRemote(n *Node, node string, e int) (storage.Drive, error) {
	return remote.New(n.top.Scheme+"://"+node, DriveName(e), n.cfg.Secret, n.cfg.Remote)
}

// httpClient is the client of the other nodes' lock APIs: the same pooled transport (and
// TLS) as their drives'.
func (n *Node) httpClient() *http.Client { return &http.Client{Transport: n.cfg.Remote.Transport} }

// Serve returns the handler of this node's listener: the drive API under remote.Prefix,
// the lock API under owner.APIPrefix (503 until the node has started its ownership), the
// change relay under feedrelay.Prefix (503 until the deployment is open), and next for
// every other request (S3; nil: 404).
func (n *Node) Serve(next httpserver.Handler) httpserver.Handler {
	if next == nil {
		next = httpserver.HandlerFunc(func(w httpserver.ResponseWriter, _ *httpserver.Request) { w.WriteHeader(http.StatusNotFound) })
	}
	locks := httpserver.HandlerFunc(func(w httpserver.ResponseWriter, r *httpserver.Request) {
		o := n.owner.Load()
		if o == nil {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		o.Handler().ServeHTTP1(w, r)
	})
	return httpserver.Route(remote.Prefix, n.handler, httpserver.Route(owner.APIPrefix, locks, httpserver.Route(feedrelay.Prefix, n.feed, next)))
}

// Handler serves this node's drives to the other nodes (under remote.Prefix).
func (n *Node) Handler() *remote.Handler { return n.handler }

// Feed is the node's change relay (Serve serves it): call its Receive before mounting
// (see package feedrelay).
func (n *Node) Feed() *feedrelay.Relay { return n.feed }

// Topology is the parsed list.
func (n *Node) Topology() *topology.Topology { return n.top }

// Gateway reports whether this node has no drives of its own.
func (n *Node) Gateway() bool { return len(n.localIdx) == 0 }

// etcdLog returns the logger of the node's etcd member and client.
func (n *Node) etcdLog() *zap.Logger {
	if n.cfg.EtcdLog == nil {
		return zap.NewNop()
	}
	return n.cfg.EtcdLog
}

// Client is the node's etcd client (set by Start).
func (n *Node) Client() *clientv3.Client { return n.client }

// Start joins the cluster and opens the deployment (see the package doc). It returns when
// the node can serve, or when ctx ends.
func (n *Node) Start(ctx context.Context) error {
	endpoints := n.cfg.Etcd
	if len(endpoints) == 0 {
		var err error
		if endpoints, err = EtcdClientURLs(n.top); err != nil {
			return err
		}
		if err := n.startMember(); err != nil {
			return err
		}
	}
	c, err := newClient(endpoints, n.cfg.EtcdTLS, n.etcdLog().Named("client"))
	if err != nil {
		return err
	}
	if ns := n.cfg.EtcdNamespace; ns != "" {
		c.KV, c.Lease, c.Watcher = namespace.NewKV(c.KV, ns), namespace.NewLease(c.Lease, ns), namespace.NewWatcher(c.Watcher, ns)
	}
	n.client = c
	a, err := retry(ctx, n, "etcd (a quorum of its members: "+fmt.Sprint(endpoints)+")", func(ctx context.Context) (*Agreement, error) {
		if err := n.register(ctx); err != nil {
			return nil, err
		}
		return n.agree(ctx, c)
	})
	if err != nil {
		return err
	}
	if err := n.checkLocal(ctx, a); err != nil {
		return err
	}
	if err := n.waitQuorum(ctx, a); err != nil {
		return err
	}
	if err := n.startOwner(a); err != nil {
		return err
	}
	docs := etcdconfig.NewBuckets(c)
	dcfg := n.cfg.Deploy
	dcfg.Drives, dcfg.Parity = nil, a.Parity
	dcfg.Locks, dcfg.BucketDocs = n.owner.Load().Locker(), docs
	// Every node renames and heals the objects of every set: a set's collector runs on its
	// owner, which watches its locks (erasureset.Config.SharedDrives).
	dcfg.SharedDrives = true
	if n.cfg.Unfenced {
		n.log.Warn("drive calls carry no ownership epoch: a replaced owner's writes are NOT fenced (a test switch)")
		dcfg.Locks = unfenced{dcfg.Locks}
	}
	if n.cfg.UnorderedLocks {
		n.log.Warn("object locks taken on this node only, not from the sets' owners: writers across nodes are NOT ordered (a test switch)")
		dcfg.Locks = nil
	}
	for _, e := range n.place.Order() {
		dcfg.Drives = append(dcfg.Drives, a.Args[e])
	}
	dcfg.OpenDrive = n.openDrive
	dcfg.Log = n.log
	dep, err := deploy.Open(ctx, dcfg)
	if err != nil {
		return err
	}
	if dep.Layout.DeploymentID != a.DeploymentID {
		dep.Close()
		return fmt.Errorf("the drives assembled deployment %s, etcd holds %s", dep.Layout.DeploymentID, a.DeploymentID)
	}
	if err := n.feed.Start(ctx, dep, n.client); err != nil {
		dep.Close()
		return err
	}
	n.Deployment = dep
	n.pool.Store(dep.Pool)
	n.watchSettings(docs)
	// A set whose preferred node is down gets its owner after the takeover delay (the
	// lease): wait that long at most, then serve what has an owner (503 for the rest).
	lease := n.cfg.OwnerLease
	if lease <= 0 {
		lease = 10 * time.Second
	}
	wctx, cancel := context.WithTimeout(ctx, 3*lease)
	err = n.owner.Load().WaitOwners(wctx)
	cancel()
	if err != nil {
		n.log.Warn("serving before every erasure set has an owner: writes to the others fail (503) until they have one", "err", err)
	}
	n.log.Info("cluster node serving", "deployment", a.DeploymentID, "nodes", len(n.top.Nodes), "drives", len(n.top.Endpoints), "local_drives", len(n.localIdx))
	return nil
}

// startMember starts this node's embedded etcd member if the list makes it one.
func (n *Node) startMember() error {
	for _, m := range EtcdMembers(n.top) {
		if m != n.cfg.Self {
			continue
		}
		dir := n.cfg.EtcdDir
		if dir == "" {
			if n.Gateway() {
				return fmt.Errorf("node %s runs an etcd member but has no drive to keep its data on: give it an etcd data directory", n.cfg.Self)
			}
			dir = filepath.Join(n.top.Endpoints[n.localIdx[0]].Path, storage.SysVolume, "etcd")
		}
		e, err := startEtcd(n.top, n.cfg.Self, dir, n.cfg.EtcdTick, n.cfg.EtcdTLS, n.etcdLog())
		if err != nil {
			return err
		}
		n.etcd = e
	}
	return nil
}

// openDrive opens the drive of list URL arg: this node's own, or a remote one.
func (n *Node) openDrive(arg string) (storage.Drive, error) {
	for e, ep := range n.top.Endpoints {
		if ep.URL(n.top.Scheme) != arg {
			continue
		}
		return n.drive(e)
	}
	return nil, fmt.Errorf("drive %s is not in the list", arg)
}

// Close leaves the cluster: closes the deployment, revokes the membership lease, stops the
// etcd member. Calls after the first do nothing.
func (n *Node) Close() { n.closeOnce.Do(n.close) }

func (n *Node) close() {
	n.feed.Close()
	if n.stopWatch != nil {
		n.stopWatch()
		n.watchers.Wait()
	}
	if n.Deployment != nil {
		n.Deployment.Close()
	}
	// Resigning hands the node's sets over at once rather than after the lease.
	if o := n.owner.Load(); o != nil {
		o.Close()
	}
	if n.client != nil {
		if lease := clientv3.LeaseID(n.lease.Load()); lease != 0 && !n.cfg.HardStop {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			n.client.Revoke(ctx, lease)
			cancel()
		}
		n.client.Close()
	}
	if tr, ok := n.cfg.Remote.Transport.(interface{ CloseIdleConnections() }); ok {
		tr.CloseIdleConnections()
	}
	if n.etcd != nil {
		if n.cfg.HardStop {
			n.etcd.Server.HardStop()
		}
		n.etcd.Close()
	}
	for _, d := range n.opened {
		if err := d.Close(); err != nil {
			n.log.Warn("closing a drive", "drive", d.String(), "err", err)
		}
	}
}

// retry calls f with a per-attempt deadline until it succeeds, fails for good, or ctx
// ends, logging every WaitReport that it waits for what.
func retry[T any](ctx context.Context, n *Node, what string, f func(context.Context) (T, error)) (T, error) {
	last := time.Now()
	for {
		actx, cancel := context.WithTimeout(ctx, n.cfg.WaitReport)
		v, err := f(actx)
		cancel()
		var perm *permanent
		switch {
		case err == nil:
			return v, nil
		case errors.As(err, &perm):
			return v, perm.err
		case ctx.Err() != nil:
			return v, fmt.Errorf("waiting for %s: %w (last: %v)", what, ctx.Err(), err)
		}
		if time.Since(last) >= n.cfg.WaitReport {
			n.log.Warn("waiting for "+what, "err", err)
			last = time.Now()
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// permanent marks an error that waiting does not cure.
type permanent struct{ err error }

func (p *permanent) Error() string { return p.err.Error() }
