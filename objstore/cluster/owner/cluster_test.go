package owner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flashstor/flashstor/internal/httpserver"
	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/cluster/etcdtest"
	"github.com/flashstor/flashstor/objstore/erasureset"
	"github.com/flashstor/flashstor/objstore/nslock"
	"github.com/flashstor/flashstor/objstore/pool"
	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/fence"
	"github.com/flashstor/flashstor/objstore/storage/local"
	"github.com/flashstor/flashstor/objstore/storage/remote"
	clientv3 "go.etcd.io/etcd/client/v3"
)

var testSecret = []byte("owner-test-cluster-secret-0123456789")

// cluster is a few nodes in one process over one etcd and one set of fenced drives,
// shared as a remote drive's handler would share them: one fence.Drive per drive, whatever
// node calls it.
type cluster struct {
	etcd   *etcdtest.Server
	nodes  []*testNode
	drives [][]*fence.Drive // by set and position
	// remoteURL, when set, serves the drives to the nodes over the wire.
	remoteURL string
	// skipAdvance, when set for a drive "set/pos", leaves that drive out of fence raises
	// (offline at the takeover).
	skipAdvance atomic.Value // map[string]bool
	opts        clusterOpts
}

// clusterOpts are what a test may change in the nodes' sets.
type clusterOpts struct {
	// viaRemote: the nodes reach the drives through remote drives of one handler.
	viaRemote bool
	// now, if set, is every set's clock (erasureset.Config.Now).
	now func() time.Time
	// wrap, if set, wraps each drive where every node's calls reach it: as the nodes
	// call it, or as the remote drives' handler serves it.
	wrap func(d storage.Drive) storage.Drive
	// unlockedReads lets metadata reads reach the drives without an epoch: a put larger
	// than the inline limit reads its key before it stages, with no lock (a precheck).
	unlockedReads bool
}

type testNode struct {
	*Node
	pool *pool.Pool
	sets []*erasureset.Set
	srv  *httptest.Server
}

const (
	testSets      = 2
	testSetDrives = 4 // 2 data + 2 parity: write quorum 3
)

func newCluster(t testing.TB, names ...string) *cluster {
	t.Helper()
	return newClusterVia(t, false, names...)
}

// newClusterVia is newCluster whose nodes reach the drives through remote drives of one
// handler (the wire protocol, epochs in the epoch argument) when viaRemote.
func newClusterVia(t testing.TB, viaRemote bool, names ...string) *cluster {
	t.Helper()
	return newClusterWith(t, clusterOpts{viaRemote: viaRemote}, names...)
}

// newClusterWith is newCluster with opts.
func newClusterWith(t testing.TB, opts clusterOpts, names ...string) *cluster {
	t.Helper()
	viaRemote := opts.viaRemote
	c := &cluster{etcd: etcdtest.Start(t), opts: opts}
	c.skipAdvance.Store(map[string]bool{})
	for set := range testSets {
		var ds []*fence.Drive
		for range testSetDrives {
			d, err := local.Open(t.TempDir(), local.Options{})
			if err != nil {
				t.Fatal(err)
			}
			ds = append(ds, fence.Wrap(d, set))
		}
		c.drives = append(c.drives, ds)
	}
	if viaRemote {
		served := map[string]storage.Drive{}
		for set, ds := range c.drives {
			for pos, d := range ds {
				var drive storage.Drive = d
				if opts.wrap != nil {
					drive = opts.wrap(drive)
				}
				served[fmt.Sprintf("s%dd%d", set, pos)] = drive
			}
		}
		h, err := remote.NewHandler(testSecret, served, nil)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(httpserver.NetHTTP(h))
		t.Cleanup(srv.Close)
		c.remoteURL = srv.URL
	}
	for _, name := range names {
		if strings.HasPrefix(name, "-") {
			continue // in the placement, never started
		}
		c.nodes = append(c.nodes, c.startNode(t, name, names))
	}
	return c
}

// advance raises the fence of a write quorum of set's drives (those not skipped).
func (c *cluster) advance(ctx context.Context, set int, epoch uint64) error {
	skip := c.skipAdvance.Load().(map[string]bool)
	ctx = storage.WithEpochs(ctx, storage.Epoch{Set: set, Epoch: epoch})
	ok := 0
	for pos, d := range c.drives[set] {
		if skip[fmt.Sprintf("%d/%d", set, pos)] {
			continue
		}
		if _, err := d.DiskInfo(ctx); err == nil {
			ok++
		}
	}
	if ok < erasureset.WriteQuorum(testSetDrives-testSetDrives/2, testSetDrives/2) {
		return fmt.Errorf("fence raised on %d drives", ok)
	}
	return nil
}

func (c *cluster) startNode(t testing.TB, name string, names []string) *testNode {
	t.Helper()
	return c.startNodeWith(t, name, names, c.etcd.Client(t))
}

// startNodeWith is startNode with the node's etcd client.
func (c *cluster) startNodeWith(t testing.TB, name string, names []string, client *clientv3.Client) *testNode {
	t.Helper()
	tn := &testNode{}
	tn.srv = httptest.NewUnstartedServer(nil)
	var p atomic.Pointer[pool.Pool]
	n, err := Start(Config{
		Client:        client,
		Node:          name,
		Nodes:         names,
		URL:           "http://" + tn.srv.Listener.Addr().String(),
		Sets:          testSets,
		Secret:        testSecret,
		LeaseTTL:      2 * time.Second,
		TakeoverDelay: 100 * time.Millisecond,
		LockTTL:       time.Second,
		Advance:       c.advance,
		SetOf:         func(name string) (int, bool) { return p.Load().LockSet(name) },
	})
	if err != nil {
		t.Fatal(err)
	}
	tn.Node = n
	tn.srv.Config.Handler = httpserver.NetHTTP(n.Handler())
	tn.srv.Start()
	t.Cleanup(func() {
		n.Close()
		tn.srv.Close()
	})
	locker := n.Locker()
	for set := range testSets {
		ds := make([]storage.Drive, testSetDrives)
		for i, d := range c.drives[set] {
			var drive storage.Drive = d
			if c.remoteURL != "" {
				rd, err := remote.New(c.remoteURL, fmt.Sprintf("s%dd%d", set, i), testSecret, remote.Options{})
				if err != nil {
					t.Fatal(err)
				}
				drive = rd
			}
			if c.opts.wrap != nil && c.remoteURL == "" {
				drive = c.opts.wrap(drive)
			}
			ds[i] = epochChecked{Drive: drive, set: set, t: t, unlockedReads: c.opts.unlockedReads}
		}
		s, err := erasureset.New(erasureset.Config{Index: set, Drives: ds, Parity: testSetDrives / 2, Locks: locker,
			SharedDrives: true, Now: c.opts.now})
		if err != nil {
			t.Fatal(err)
		}
		tn.sets = append(tn.sets, s)
	}
	pl, err := pool.New(pool.Config{Sets: tn.sets, PlacementKey: [16]byte{1, 2, 3}, Locks: locker})
	if err != nil {
		t.Fatal(err)
	}
	p.Store(pl)
	tn.pool = pl
	return tn
}

// waitOwner waits (bounded) until node owns set and returns the epoch.
func waitOwner(t testing.TB, n *testNode, set int) uint64 {
	t.Helper()
	// A bound, not a timing: a node takes a free set within a lease grant or two, which
	// on two loaded cores under -race took over 10 s once (CI run 71).
	for range 600 {
		if e, ok := n.Owns(set); ok {
			return e
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("node %s does not own set %d after 30s", n.cfg.Node, set)
	return 0
}

// keyIn returns a key that set holds.
func keyIn(t testing.TB, p *pool.Pool, set int, prefix string) string {
	t.Helper()
	for i := range 1000 {
		k := fmt.Sprintf("%s-%d", prefix, i)
		if p.SetIndex(k) == set {
			return k
		}
	}
	t.Fatalf("no key in set %d", set)
	return ""
}

func put(t *testing.T, l objstore.ObjectLayer, bucket, key, body string) {
	t.Helper()
	if _, err := l.PutObject(context.Background(), bucket, key, strings.NewReader(body), int64(len(body)), objstore.PutOptions{}); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func get(t *testing.T, l objstore.ObjectLayer, bucket, key string) string {
	t.Helper()
	h, err := l.OpenObject(context.Background(), bucket, key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer h.Close()
	var b bytes.Buffer
	if _, err := h.WriteRange(context.Background(), &b, 0, h.Info().Size); err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return b.String()
}

// Each set goes to its preferred node; a write through either node takes its locks from
// the owners (locally or over the lock API) and is read back through the other.
func TestPlacementAndWritesThroughEveryNode(t *testing.T) {
	c := newCluster(t, "a", "b")
	a, b := c.nodes[0], c.nodes[1]
	waitOwner(t, a, 0)
	waitOwner(t, b, 1)
	if err := a.pool.MakeBucket(context.Background(), "bkt", objstore.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	for set := range testSets {
		for i, n := range []*testNode{a, b} {
			k := keyIn(t, a.pool, set, fmt.Sprintf("via%d", i))
			put(t, n.pool, "bkt", k, "body of "+k)
			if got := get(t, c.nodes[1-i].pool, "bkt", k); got != "body of "+k {
				t.Fatalf("%s read through the other node: %q", k, got)
			}
		}
	}
	// The other object operations, every one under its lock's epoch (epochChecked).
	ctx := context.Background()
	k0, k1 := keyIn(t, a.pool, 0, "m"), keyIn(t, a.pool, 1, "m")
	put(t, b.pool, "bkt", k0, "moved")
	if _, err := b.pool.UpdateObjectMetadata(ctx, "bkt", k0, objstore.MetadataPatch{Set: map[string]string{"x-amz-meta-a": "1"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.pool.StatObject(ctx, "bkt", k0); err != nil {
		t.Fatal(err)
	}
	if _, err := a.pool.RenameObject(ctx, "bkt", k0, k1, objstore.RenameOptions{}); err != nil {
		t.Fatalf("rename across sets: %v", err)
	}
	if got := get(t, b.pool, "bkt", k1); got != "moved" {
		t.Fatalf("renamed object reads %q", got)
	}
	if err := b.pool.DeleteObject(ctx, "bkt", k1); err != nil {
		t.Fatal(err)
	}
	// A multipart upload of set 1's key, its part through a (a remote grant from b), and a
	// heal, whose locks are routed as well: one drive's copy is removed and rebuilt.
	id, err := a.pool.NewMultipartUpload(ctx, "bkt", k1, objstore.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	part, err := a.pool.PutObjectPart(ctx, "bkt", k1, id, 1, strings.NewReader("one part"), 8, objstore.PartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.pool.CompleteMultipartUpload(ctx, "bkt", k1, id, []objstore.CompletePart{{Number: 1, ETag: part.ETag}}, objstore.CompleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.drives[1][0].Unwrap().DeleteObject(ctx, "bkt", k1); err != nil {
		t.Fatal(err)
	}
	if res, err := a.sets[1].HealObject(ctx, "bkt", k1, true); err != nil || len(res.Healed) != 1 {
		t.Fatalf("heal: %+v, %v; want one drive healed", res, err)
	}
	if got := get(t, a.pool, "bkt", k1); got != "one part" {
		t.Fatalf("multipart object reads %q", got)
	}
	// DeleteBucket takes the bucket's write lock from both owners and sees both sets'
	// objects.
	if err := b.pool.DeleteBucket(context.Background(), "bkt"); err == nil {
		t.Fatal("a bucket holding objects was deleted")
	}
	if a.Grants() != 0 || b.Grants() != 0 {
		t.Fatalf("grants left after the calls: %d, %d", a.Grants(), b.Grants())
	}
}

// When the owner's lease is lost, the other node takes the set with a higher epoch, raises
// the fence, and writes go on through both nodes.
func TestFailoverOnLostLease(t *testing.T) {
	c := newCluster(t, "a", "b")
	a, b := c.nodes[0], c.nodes[1]
	e1 := waitOwner(t, a, 0)
	waitOwner(t, b, 1)
	if err := a.pool.MakeBucket(context.Background(), "bkt", objstore.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	k := keyIn(t, a.pool, 0, "k")
	put(t, b.pool, "bkt", k, "before")
	if err := a.LoseLease(context.Background()); err != nil {
		t.Fatal(err)
	}
	e2 := waitOwner(t, b, 0)
	if e2 <= e1 {
		t.Fatalf("new owner's epoch %d is not above the old one's %d", e2, e1)
	}
	if _, ok := a.Owns(0); ok {
		t.Fatal("the node whose lease was revoked still owns set 0")
	}
	for pos, d := range c.drives[0] {
		if n, err := d.Newest(context.Background()); err != nil || n != e2 {
			t.Fatalf("drive %d of set 0: fence at %d, %v; want %d", pos, n, err, e2)
		}
	}
	put(t, a.pool, "bkt", k, "after") // a is now a client of b for set 0
	if got := get(t, b.pool, "bkt", k); got != "after" {
		t.Fatalf("read %q after the failover", got)
	}
}

// A candidate whose campaign request is lost with its connection (the etcd member it went
// to stopped answering, as a paused node's does) campaigns again: when the owner leaves,
// it takes the set over. It used to give up until its session ended, and the set stayed
// without an owner while the candidate lived.
// A node whose lease's keep-alive stream goes silent (the etcd member it went to stopped
// answering and its connection stays open, as a paused node's does) keeps its lease
// through the other members: it does not lose its sets to another node's pause.
func TestLeaseOutlivesASilentMember(t *testing.T) {
	c := newCluster(t)
	silent := c.etcd.Proxy(t)
	// The session's keep-alive stream starts on the only endpoint the client has, then the
	// client learns of the others.
	client := etcdtest.ClientOf(t, silent.Endpoints)
	a := c.startNodeWith(t, "a", []string{"a"}, client)
	c.nodes = append(c.nodes, a)
	epoch := waitOwner(t, a, 0)
	lease := a.leaseID()
	c.etcd.Spread(t, client, 2)
	silent.Freeze(true)
	defer silent.Freeze(false)
	time.Sleep(2 * a.cfg.LeaseTTL) // the lease expires after one TTL without a refresh
	if got := a.leaseID(); got != lease {
		t.Fatalf("the node's lease changed from %x to %x while one member of three was silent", lease, got)
	}
	if got := waitOwner(t, a, 0); got != epoch {
		t.Fatalf("set 0 owned at epoch %d, want %d: the term did not survive", got, epoch)
	}
}

// A node whose owner cache's watch goes silent (the etcd member it went to stopped
// answering and its connection stays open, as a paused node's does) forgets a set's old
// owner within seconds of a change of owner made meanwhile, and looks the new one up: the
// watch breaks after three heartbeats, the cache is cleared, and the watch comes back
// through another member.
// It used to serve the old owner until gRPC dropped the connection (for ever with the test
// client, which has no keep-alive).
func TestOwnerCacheLeavesASilentMember(t *testing.T) {
	c := newCluster(t, "a", "b")
	a, b := c.nodes[0], c.nodes[1]
	waitOwner(t, a, 0)
	silent := c.etcd.Proxy(t)
	client := etcdtest.ClientOf(t, silent.Endpoints)
	// A gateway: it campaigns for nothing, and looks the owners up through the cache.
	g := c.startNodeWith(t, "g", []string{"a", "b"}, client)
	// The client reaches etcd before it learns of the other members: etcd's client must
	// not be given endpoints while it starts (a data race in it).
	ctx := context.Background()
	o, err := g.owners.lookup(ctx, client, 0)
	if err != nil || o.Node != "a" {
		t.Fatalf("the gateway's owner of set 0: %+v, %v; want a", o, err)
	}
	c.etcd.Spread(t, client, 2)
	silent.Freeze(true)
	defer silent.Freeze(false)
	// From the freeze on, the cache's watch hears nothing: what the cache holds now it
	// keeps until the watch breaks. It holds what the look-up found (whatever the watch
	// told it meanwhile: its start, the elections' last changes).
	g.owners.remember(0, o)
	if err := a.LoseLease(ctx); err != nil {
		t.Fatal(err)
	}
	e2 := waitOwner(t, b, 0)
	changed := time.Now()
	stale, _ := g.owners.peek(0)
	t.Logf("when set 0 changed owner, the gateway's cache named %q", stale.Node)
	// The heartbeat is a fifth of the 2 s lease: the watch breaks and the cache forgets
	// about 1.6 s after the freeze.
	const bound = 8 * time.Second
	deadline := time.Now().Add(bound)
	for o, ok := g.owners.peek(0); ok && o.Node == "a"; o, ok = g.owners.peek(0) {
		if time.Now().After(deadline) {
			t.Fatalf("%v after set 0 changed owner, the gateway's cache still names a", bound)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("the gateway's cache forgot a %v after the change", time.Since(changed).Round(time.Millisecond))
	// A look-up that goes to the silent member fails after 2 s; the next goes to another.
	for i := 0; ; i++ {
		o, err := g.owners.lookup(ctx, client, 0)
		if err == nil && o.Node == "b" && o.epoch == e2 {
			break
		}
		if i == 10 {
			t.Fatalf("the gateway's owner of set 0: %+v (%v); want b at epoch %d", o, err, e2)
		}
	}
}

// peek returns c's entry of set, if it has one.
func (c *ownerCache) peek(set int) (ownerInfo, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o, ok := c.bySet[set]
	return o, ok
}

func TestCampaignAgainAfterALostRequest(t *testing.T) {
	c := newCluster(t)
	names := []string{"a", "b"}
	px := c.etcd.Proxy(t)
	// The put of b's candidate key for set 0: the key and b's value in one request.
	lost := px.DropFirst(func(p []byte) bool {
		return bytes.Contains(p, []byte(electionPrefix(0)+"/")) && bytes.Contains(p, []byte(`{"node":"b"`))
	})
	a := c.startNode(t, "a", names)
	b := c.startNodeWith(t, "b", names, etcdtest.ClientOf(t, px.Endpoints))
	c.nodes = append(c.nodes, a, b)
	e1 := waitOwner(t, a, 0)
	select {
	case <-lost:
	case <-time.After(10 * time.Second):
		t.Fatal("b's campaign for set 0 did not reach etcd within 10 s")
	}
	a.Close() // resigns: b, the only candidate left, must take set 0
	if e2 := waitOwner(t, b, 0); e2 <= e1 {
		t.Fatalf("b took set 0 at epoch %d, not above a's %d", e2, e1)
	}
}

// A lock holder of a replaced owner (a paused process that resumes) commits after the new
// owner took over: the drives refuse it, the write fails with 503's error, and nothing it
// wrote is served, even though one drive missed the new owner's fence raise.
func TestStaleOwnerIsFenced(t *testing.T) {
	t.Run("direct", func(t *testing.T) { testStaleOwnerIsFenced(t, false) })
	t.Run("remote", func(t *testing.T) { testStaleOwnerIsFenced(t, true) })
}

func testStaleOwnerIsFenced(t *testing.T, viaRemote bool) {
	c := newClusterVia(t, viaRemote, "a", "b")
	a, b := c.nodes[0], c.nodes[1]
	e1 := waitOwner(t, a, 0)
	waitOwner(t, b, 1)
	ctx := context.Background()
	if err := a.pool.MakeBucket(ctx, "bkt", objstore.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	k := keyIn(t, a.pool, 0, "hot")
	put(t, a.pool, "bkt", k, "original")

	// The holder takes the key's lock from a, then "pauses".
	name := erasureset.LockName("bkt", k)
	staleCtx, staleUnlock, err := a.Locker().Grant(ctx, []string{name}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer staleUnlock()
	if e, _ := storage.EpochOf(staleCtx, 0); e != e1 {
		t.Fatalf("grant under epoch %d, want %d", e, e1)
	}
	// Drive 3 of set 0 is offline while b takes over: its fence stays at e1.
	c.skipAdvance.Store(map[string]bool{"0/3": true})
	if err := a.LoseLease(ctx); err != nil {
		t.Fatal(err)
	}
	e2 := waitOwner(t, b, 0)
	if n, err := c.drives[0][3].Newest(ctx); err != nil || n != e1 {
		t.Fatalf("drive 3 of set 0: fence at %d, %v; want the old epoch %d", n, err, e1)
	}

	// The paused holder resumes and commits under its old grant.
	body := "stale write"
	_, err = a.sets[0].PutObject(ctx, "bkt", k, strings.NewReader(body), int64(len(body)), objstore.PutOptions{},
		func(context.Context) (context.Context, nslock.Unlock, error) { return staleCtx, func() {}, nil })
	if err == nil {
		t.Fatal("the stale owner's write succeeded")
	}
	if !errorsIs(err, storage.ErrStaleEpoch) || !errorsIs(err, objstore.ErrWriteQuorum) {
		t.Fatalf("stale write: %v; want ErrStaleEpoch within ErrWriteQuorum (503)", err)
	}
	if got := get(t, b.pool, "bkt", k); got != "original" {
		t.Fatalf("after the refused stale write, read %q", got)
	}
	// Nothing of the stale write stays on any drive, the one left at e1 included.
	for pos, d := range c.drives[0] {
		meta, err := d.Unwrap().ReadMeta(ctx, "bkt", k)
		if err != nil || bytes.Contains(meta, []byte(body)) {
			t.Fatalf("drive %d: %v, meta holds the stale body: %v", pos, err, bytes.Contains(meta, []byte(body)))
		}
	}
	// A new write goes through the new owner and wins.
	put(t, a.pool, "bkt", k, "new")
	if got := get(t, b.pool, "bkt", k); got != "new" {
		t.Fatalf("read %q", got)
	}
	if e, _ := storage.EpochOf(mustGrant(t, b.Locker(), name), 0); e != e2 {
		t.Fatalf("b grants under %d, want %d", e, e2)
	}
}

func mustGrant(t *testing.T, l *Locker, name string) context.Context {
	t.Helper()
	ctx, unlock, err := l.Grant(context.Background(), nil, []string{name})
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	return ctx
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }

// epochChecked fails the test when a call that changes what reads serve reaches a drive
// without an epoch for the drive's set: in a cluster every such call is made under a lock
// and must carry its grant's epoch, or fencing cannot see it.
type epochChecked struct {
	storage.Drive
	set           int
	t             testing.TB
	unlockedReads bool // ReadMeta is not checked (clusterOpts.unlockedReads)
}

func (d epochChecked) check(ctx context.Context, call string) {
	if _, ok := storage.EpochOf(ctx, d.set); !ok {
		d.t.Errorf("%s reached a drive of set %d without its epoch", call, d.set)
	}
}

func (d epochChecked) CommitObject(ctx context.Context, bucket, key string, meta []byte, srcVolume, srcDir string) error {
	d.check(ctx, "CommitObject "+bucket+"/"+key)
	return d.Drive.CommitObject(ctx, bucket, key, meta, srcVolume, srcDir)
}

func (d epochChecked) DeleteObject(ctx context.Context, bucket, key string) error {
	d.check(ctx, "DeleteObject "+bucket+"/"+key)
	return d.Drive.DeleteObject(ctx, bucket, key)
}

func (d epochChecked) RenameObject(ctx context.Context, bucket, srcKey, dstKey string) error {
	d.check(ctx, "RenameObject "+bucket+"/"+srcKey)
	return d.Drive.RenameObject(ctx, bucket, srcKey, dstKey)
}

func (d epochChecked) ReadMeta(ctx context.Context, bucket, key string) ([]byte, error) {
	if !d.unlockedReads {
		d.check(ctx, "ReadMeta "+bucket+"/"+key)
	}
	return d.Drive.ReadMeta(ctx, bucket, key)
}

// A set whose preferred node never comes up is taken, after the takeover delay, by another
// node, which then serves both sets.
func TestAbsentPreferredNode(t *testing.T) {
	c := newCluster(t, "-a", "b") // set 0 prefers "-a", which is never started
	b := c.nodes[0]
	waitOwner(t, b, 0)
	waitOwner(t, b, 1)
	if err := b.pool.MakeBucket(context.Background(), "bkt", objstore.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	k := keyIn(t, b.pool, 0, "k")
	put(t, b.pool, "bkt", k, "served by the stand-in")
	if got := get(t, b.pool, "bkt", k); got != "served by the stand-in" {
		t.Fatalf("read %q", got)
	}
}

// A lease revoked from outside (as etcd does when it expires) ends the owner's terms when
// its keep-alive learns it; the set goes to the other node, and the node that lost it
// starts a new session and campaigns again.
func TestExternalRevoke(t *testing.T) {
	c := newCluster(t, "a", "b")
	a, b := c.nodes[0], c.nodes[1]
	e1 := waitOwner(t, a, 0)
	a.mu.Lock()
	old := a.session.Lease()
	a.mu.Unlock()
	if _, err := c.etcd.Client(t).Revoke(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	if e2 := waitOwner(t, b, 0); e2 <= e1 {
		t.Fatalf("epoch %d after %d", e2, e1)
	}
	for i := 0; ; i++ {
		a.mu.Lock()
		renewed := a.session.Lease() != old
		a.mu.Unlock()
		_, owns := a.Owns(0)
		if renewed && !owns {
			break
		}
		if i == 200 {
			t.Fatalf("after 10s: new session %v, still owns set 0 %v", renewed, owns)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
