// Package clustertest starts a whole Flashstor cluster inside one test process: N nodes on
// loopback, each with its own drives in temporary directories, its own listener serving its
// drives to the others (remote.Handler), its own embedded etcd member (the first three
// nodes) or etcd client, and its own object layer over its local drives and the others'
// remote ones. Nothing is shared between the nodes but the network.
package clustertest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flashstor/flashstor/internal/httpserver"
	"github.com/flashstor/flashstor/internal/testport"
	"github.com/flashstor/flashstor/objstore/cluster"
	"github.com/flashstor/flashstor/objstore/deploy"
)

// Options shape a cluster.
type Options struct {
	Nodes, DrivesPerNode int
	// Parity of the sets; 0 or negative: the default of the set size.
	Parity int
	// Etcd, if set, lists the client URLs of an etcd every node uses (under a namespace of
	// its own for each cluster), instead of embedded members: clusters start and stop
	// faster on one shared etcd (etcdtest).
	Etcd []string
	// Deploy is the template of every node's deployment.
	Deploy deploy.Config
	// TLS, if set, runs the node API over mutual TLS: the list names https:// nodes, every
	// listener serves with TLS.Server, every node presents TLS.Client's certificate and
	// accepts only client certificates chaining to TLS.PeerCAs; embedded etcd members
	// (without Etcd) serve over mutual TLS with TLS.Etcd.
	TLS *TLS
	// OwnerLease is every node's set ownership lease (cluster.Config.OwnerLease); 0: 2 s,
	// so that a stopped node's sets are taken over within seconds.
	OwnerLease time.Duration
}

// TLS is the mutual TLS of a cluster's node API (see tlsconf.Store's NodeServerConfig,
// NodeClientConfig and NodeCAs, which give these for a certs directory).
type TLS struct {
	Server, Client *tls.Config
	PeerCAs        *x509.CertPool
	// Etcd is the nodes' etcd TLS (cluster.Config.EtcdTLS), needed by embedded members.
	Etcd *cluster.EtcdTLS
}

// Node is one running node.
type Node struct {
	*cluster.Node
	// Addr is the node's host:port (its drive handler listens there; etcd one and two
	// ports above).
	Addr string
	srv  *httpserver.Server
}

// Cluster is a running cluster.
type Cluster struct {
	Nodes []*Node
	Args  []string
	o     Options
	ns    string // the etcd namespace of a cluster on a shared etcd
}

// namespaces numbers the clusters that share an etcd, so that each has its own keys.
var namespaces atomic.Int64

// Secret is the cluster secret of every test cluster.
var Secret = []byte("clustertest-secret-0123456789")

// Start starts the cluster and stops it when t ends. Every node starts at once, as
// operators start them; Start returns when all serve, or fails t after a minute.
func Start(t testing.TB, o Options) *Cluster {
	t.Helper()
	if o.Parity <= 0 {
		o.Parity = -1
	}
	if o.OwnerLease <= 0 {
		o.OwnerLease = 2 * time.Second
	}
	c := &Cluster{}
	ns := ""
	if len(o.Etcd) > 0 {
		ns = "/clustertest/" + strconv.FormatInt(namespaces.Add(1), 10)
	}
	lns := make([]net.Listener, o.Nodes)
	var etcdPorts [][]net.Listener
	for i := range lns {
		ln, hold := reserve(t)
		lns[i] = ln
		etcdPorts = append(etcdPorts, hold)
		addr := ln.Addr().String()
		c.Nodes = append(c.Nodes, &Node{Addr: addr})
		dir := t.TempDir()
		for d := 1; d <= o.DrivesPerNode; d++ {
			scheme := "http"
			if o.TLS != nil {
				scheme = "https"
			}
			c.Args = append(c.Args, fmt.Sprintf("%s://%s%s", scheme, addr, filepath.Join(dir, fmt.Sprintf("d%d", d))))
		}
	}
	c.o, c.ns = o, ns
	for i := range c.Nodes {
		c.Nodes[i].srv = c.serve(t, i, lns[i])
	}
	for _, hold := range etcdPorts {
		for _, l := range hold {
			l.Close()
		}
	}
	c.start(t, nil)
	return c
}

// serve builds node i and serves its drives on ln.
func (c *Cluster) serve(t testing.TB, i int, ln net.Listener) *httpserver.Server {
	t.Helper()
	n := c.Nodes[i]
	dc := c.o.Deploy
	if dc.Log == nil {
		dc.Log = slog.New(slog.DiscardHandler)
	}
	cfg := cluster.Config{
		Args: c.Args, Self: n.Addr, Parity: c.o.Parity, Secret: Secret, Deploy: dc,
		Log: dc.Log, Version: "clustertest", WaitReport: time.Second, HardStop: true, EtcdTick: 20 * time.Millisecond,
		Etcd: c.o.Etcd, EtcdNamespace: c.ns, OwnerLease: c.o.OwnerLease,
	}
	hc := httpserver.Config{Logger: dc.Log}
	if c.o.TLS != nil {
		cfg.Remote.TLS, cfg.PeerCAs, hc.TLS, cfg.EtcdTLS = c.o.TLS.Client, c.o.TLS.PeerCAs, c.o.TLS.Server, c.o.TLS.Etcd
	}
	node, err := cluster.New(cfg)
	if err != nil {
		t.Fatalf("node %s: %v", n.Addr, err)
	}
	n.Node = node
	// The node API (drives and locks) on the epoll transport, as the binary serves it.
	hc.Handler = node.Serve(nil)
	srv, err := httpserver.New(hc)
	if err != nil {
		t.Fatalf("node %s: %v", n.Addr, err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return srv
}

// start starts the nodes (all when which is nil) at once and fails t unless all serve
// within a minute.
func (c *Cluster) start(t testing.TB, which []int) {
	t.Helper()
	if which == nil {
		for i := range c.Nodes {
			which = append(which, i)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	errs := make([]error, len(which))
	var wg sync.WaitGroup
	for j, i := range which {
		wg.Go(func() { errs[j] = c.Nodes[i].Start(ctx) })
	}
	wg.Wait()
	t.Cleanup(c.close)
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("starting the cluster: %v", err)
	}
}

// Stop stops node i as a crash would (its listener closed, its etcd member stopped at once):
// the others see its drives offline.
func (c *Cluster) Stop(i int) {
	c.Nodes[i].srv.Close()
	c.Nodes[i].Close()
}

// Restart stops every node (as a crash of the whole cluster would: etcd members stop at
// once) and starts them again on the same addresses and drives.
func (c *Cluster) Restart(t testing.TB) {
	t.Helper()
	c.close()
	for i, n := range c.Nodes {
		n.srv.Close()
		ln, err := net.Listen("tcp", n.Addr)
		if err != nil {
			t.Fatalf("listening again on %s: %v", n.Addr, err)
		}
		n.srv = c.serve(t, i, ln)
	}
	c.start(t, nil)
}

// close stops every node at once: one by one, the last ones would wait for an etcd
// quorum that is gone.
func (c *Cluster) close() {
	var wg sync.WaitGroup
	for _, n := range c.Nodes {
		wg.Go(n.Close)
	}
	wg.Wait()
}

// reserve returns a listener on a loopback port whose two next ports are free too (held
// by the returned listeners until the etcd members start), for the embedded etcd. The
// port is below the kernel's ephemeral range (testport), so that no outgoing connection
// takes one of the three between the holds' release and the members' binds, nor while a
// restarted cluster comes back on them.
func reserve(t testing.TB) (net.Listener, []net.Listener) {
	t.Helper()
	offsets := []int{0, cluster.EtcdClientOffset, cluster.EtcdPeerOffset}
	for range 100 {
		port := testport.Pick(t, []string{"127.0.0.1"}, offsets)
		var held []net.Listener
		for _, off := range offsets {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port+off))
			if err != nil {
				break
			}
			held = append(held, l)
		}
		if len(held) == len(offsets) {
			return held[0], held[1:]
		}
		for _, l := range held {
			l.Close()
		}
	}
	t.Fatal("clustertest: no loopback port with two free ports above it in 100 tries")
	return nil, nil
}
