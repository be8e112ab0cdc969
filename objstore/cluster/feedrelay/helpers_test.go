package feedrelay

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flashstor/flashstor/internal/httpserver"
	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/cluster/etcdtest"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/namespace"
)

var testSecret = []byte("feedrelay-test-secret-0123456789")

// testLayer is a node's feed: the real objstore.Feed, with what the pool adds for relays.
type testLayer struct{ objstore.Feed }

func (l *testLayer) PublishChange(ctx context.Context, e objstore.Event) { l.Publish(ctx, e) }

// recorder keeps the events a layer delivers.
type recorder struct {
	mu     sync.Mutex
	events []objstore.Event
}

func (r *recorder) add(e objstore.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recorder) get() []objstore.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]objstore.Event(nil), r.events...)
}

// namespaces gives each test's relays keys of their own on the shared etcd.
var namespaces atomic.Int64

// newEtcd returns a client of a fresh namespace of a test etcd.
func newEtcd(t testing.TB) *clientv3.Client {
	t.Helper()
	return inNamespace(etcdtest.Start(t).Client(t), newNamespace())
}

// newNamespace returns a namespace no other client of the test binary uses.
func newNamespace() string { return "/feedrelaytest/" + strconv.FormatInt(namespaces.Add(1), 10) }

// inNamespace confines c to the keys under ns, as a node's client is, and returns it.
func inNamespace(c *clientv3.Client, ns string) *clientv3.Client {
	c.KV, c.Lease, c.Watcher = namespace.NewKV(c.KV, ns), namespace.NewLease(c.Lease, ns), namespace.NewWatcher(c.Watcher, ns)
	return c
}

// node is one relay served on loopback with its layer.
type node struct {
	relay *Relay
	layer *testLayer
	addr  string
	seen  *recorder
	// stopSeeing cancels seen's subscription.
	stopSeeing func()
	srv        *httpserver.Server
}

// startNode serves a relay on a loopback port (through wrap, if set) and starts it.
func startNode(t testing.TB, c *clientv3.Client, cfg Config, wrap func(httpserver.Handler) httpserver.Handler) *node {
	t.Helper()
	return startNodeTLS(t, c, cfg, wrap, nil, nil)
}

// startNodeTLS is startNode serving TLS with srvTLS, the relay requiring client
// certificates of roots if set.
func startNodeTLS(t testing.TB, c *clientv3.Client, cfg Config, wrap func(httpserver.Handler) httpserver.Handler, srvTLS *tls.Config, roots *x509.CertPool) *node {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n := &node{layer: &testLayer{}, addr: ln.Addr().String(), seen: &recorder{}}
	cfg.Self, cfg.Secret = n.addr, testSecret
	if n.relay, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	if roots != nil {
		n.relay.RequireClientCert(roots)
	}
	var h httpserver.Handler = n.relay
	if wrap != nil {
		h = wrap(h)
	}
	if n.srv, err = httpserver.New(httpserver.Config{Handler: h, TLS: srvTLS}); err != nil {
		t.Fatal(err)
	}
	go n.srv.Serve(ln)
	t.Cleanup(func() { n.srv.Close() })
	n.stopSeeing = n.layer.Subscribe("", n.seen.add)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := n.relay.Start(ctx, n.layer, c); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.relay.Close)
	return n
}

// receive registers n as a receiver and waits until every sender knows it.
func (n *node) receive(t testing.TB, senders ...*node) {
	t.Helper()
	stop, err := n.relay.Receive(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	for _, s := range senders {
		waitFor(t, "sender "+s.addr+" knows receiver "+n.addr, func() bool {
			for _, r := range s.relay.Receivers() {
				if r == n.addr {
					return true
				}
			}
			return false
		})
	}
}

// waitFor polls cond (set-up steps and background effects, not the assertions of a wait
// that must not be needed).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	etcdtest.Eventually(t, what, cond)
}

// returnsWithinAMinute fails t if f has not returned after a minute (it is left running).
func returnsWithinAMinute(t *testing.T, what string, f func()) {
	t.Helper()
	returned := make(chan struct{})
	go func() {
		f()
		close(returned)
	}()
	select {
	case <-returned:
	case <-time.After(time.Minute):
		t.Fatalf("%s: still waiting after a minute", what)
	}
}

func put(bucket, key, body string) objstore.Event {
	return objstore.Event{Type: objstore.EventPut, Bucket: bucket, Key: key,
		Info: objstore.ObjectInfo{Bucket: bucket, Key: key, Size: int64(len(body)), ETag: "e-" + body,
			ModTime: time.Unix(1700000000, 0).UTC(), Metadata: map[string]string{"content-type": "text/plain"}}}
}
