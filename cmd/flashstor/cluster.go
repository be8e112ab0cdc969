package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flashstor/flashstor/internal/httpserver"
	"github.com/flashstor/flashstor/internal/metrics/collect"
	"github.com/flashstor/flashstor/internal/tlsconf"
	"github.com/flashstor/flashstor/objstore/cluster"
	"github.com/flashstor/flashstor/objstore/cluster/topology"
	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/flashstor/flashstor/objstore/storage/remote"
	"github.com/flashstor/flashstor/s3frontend"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// isCluster reports whether the drive arguments are a cluster's URL list rather than local
// directories.
func isCluster(drives []string) bool {
	for _, d := range drives {
		if strings.Contains(d, "://") {
			return true
		}
	}
	return false
}

// clusterNode is this process's node of a cluster and the server it runs: the node API
// (remote drives under remote.Prefix, set owners' locks under owner.APIPrefix) from the
// start, since the other nodes need it to start, and S3 on the same listener once the
// deployment is open (503 before).
type clusterNode struct {
	node *cluster.Node
	srv  *s3frontend.Server
	// s3 is the S3 handler once the deployment is open, nil before.
	s3     atomic.Pointer[httpserver.Handler]
	served chan error
}

// ServeHTTP1 serves S3 once the deployment is open, 503 before.
func (c *clusterNode) ServeHTTP1(w httpserver.ResponseWriter, r *httpserver.Request) {
	h := c.s3.Load()
	if h == nil {
		w.Header().Set("Retry-After", "1")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(503)
		w.Write([]byte("the cluster node is starting: it waits for the other nodes\n"))
		return
	}
	(*h).ServeHTTP1(w, r)
}

// clusterSecret is the secret that signs node-to-node requests: FLASHSTORE_CLUSTER_SECRET,
// else one derived from the root credentials (the same on every node, which the nodes need
// anyway).
func clusterSecret(root rootCreds) []byte {
	if s := os.Getenv("FLASHSTORE_CLUSTER_SECRET"); s != "" {
		return []byte(s)
	}
	sum := sha256.Sum256([]byte("flashstor cluster secret\n" + root.user + "\n" + root.secret))
	return sum[:]
}

// startCluster listens on the address, serves the node API, joins the cluster and opens
// the deployment. The caller serves S3 with serveS3 and stops with shutdown.
//
// With --certs-dir (certs not nil) the list must name https:// nodes: the listener serves
// S3 with the certificates as a single server does and the node API (drives and locks)
// over mutual TLS, each node presenting its public.crt to the others and accepting only
// client certificates that chain to the certs dir's CAs/ (tlsconf.Store.NodeCAs). The
// embedded etcd runs over mutual TLS with the same certificate and CAs
// (cluster.NewEtcdTLS); an external --etcd with https:// URLs gets the same client
// certificate and must serve one that chains to CAs/.
func startCluster(ctx context.Context, cfg serverConfig, root rootCreds, certs *tlsconf.Store, dcfg deploy.Config, log *slog.Logger) (*clusterNode, error) {
	top, err := topology.Parse(cfg.drives)
	if err != nil {
		return nil, err
	}
	switch {
	case certs != nil && top.Scheme != "https":
		return nil, errors.New("server: with --certs-dir the cluster's list names its nodes with https://: the node API runs over mutual TLS")
	case certs == nil && top.Scheme == "https":
		return nil, errors.New("server: an https:// cluster list needs --certs-dir (the node certificate and the cluster's CA in CAs/)")
	}
	ncfg := cluster.Config{Remote: remote.Options{}}
	var serveTLS *tls.Config
	if certs != nil {
		ncfg.Remote.TLS, ncfg.PeerCAs, serveTLS = certs.NodeClientConfig(), certs.NodeCAs(), certs.NodeServerConfig()
		ncfg.EtcdTLS = cluster.NewEtcdTLS(cfg.certsDir, certs)
	}
	ips, err := topology.InterfaceIPs()
	if err != nil {
		return nil, err
	}
	self, member, err := top.Self(cfg.address, ips, func(h string) ([]net.IP, error) {
		return net.DefaultResolver.LookupIP(ctx, "ip", h)
	})
	if err != nil {
		return nil, err
	}
	if !member {
		log.Info("this node has no drives in the list: it is a gateway", "address", self)
	}
	var etcd []string
	if cfg.etcd != "" {
		etcd = strings.Split(cfg.etcd, ",")
	}
	for _, e := range etcd {
		switch {
		case strings.HasPrefix(e, "https://") && certs == nil:
			return nil, fmt.Errorf("server: --etcd %s over TLS needs --certs-dir (the node's client certificate)", e)
		case !strings.HasPrefix(e, "https://") && certs != nil:
			log.Warn("the external etcd is reached in the clear: its keys (IAM, bucket settings, the format) cross the network unencrypted", "etcd", e)
		}
	}
	ncfg.Args, ncfg.Self, ncfg.Parity, ncfg.Etcd, ncfg.EtcdDir = cfg.drives, self, cfg.parity, etcd, cfg.etcdDir
	ncfg.Secret, ncfg.Deploy, ncfg.Version, ncfg.Log = clusterSecret(root), dcfg, version, log
	if ncfg.EtcdLog, err = etcdLogger(cfg.etcdLog, self); err != nil {
		return nil, err
	}
	ncfg.UnorderedLocks = os.Getenv(envLocalLocks) != ""
	ncfg.Unfenced = os.Getenv(envNoFence) != ""
	if hold, err := holdCommit(log); err != nil {
		return nil, err
	} else if hold != nil {
		ncfg.Deploy.BeforeCommit = hold
	}
	node, err := cluster.New(ncfg)
	if err != nil {
		return nil, err
	}
	c := &clusterNode{node: node, served: make(chan error, 1)}
	handler := node.Serve(c)
	if d, err := nodeAPIDelay(); err != nil {
		node.Close()
		return nil, err
	} else if d > 0 {
		log.Warn("the node API answers every drive call late: a test's slow node", "env", envNodeAPIDelay, "delay", d)
		handler = httpserver.Route(remote.Prefix, delayed(node.Handler(), d), handler)
	}
	c.srv, err = s3frontend.NewServer(s3frontend.ServerConfig{
		Handler: handler, Transport: cfg.transport, HTTP: httpserver.Config{Logger: log}, TLS: serveTLS,
	})
	if err != nil {
		node.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.address)
	if err != nil {
		node.Close()
		return nil, fmt.Errorf("listening on %s: %w", cfg.address, err)
	}
	go func() { c.served <- c.srv.Serve(ln) }()
	if err := node.Start(ctx); err != nil {
		c.shutdown(context.Background())
		return nil, err
	}
	return c, nil
}

// etcdLogger returns the logger of the node's etcd member and client for --etcd-log
// level: JSON lines on stderr naming the node, nil for an empty level.
func etcdLogger(level, node string) (*zap.Logger, error) {
	if level == "" {
		return nil, nil
	}
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("server: --etcd-log %q: want debug, info, warn or error", level)
	}
	zc := zap.NewProductionConfig()
	zc.Level = zap.NewAtomicLevelAt(lvl)
	zc.Sampling = nil // an election's messages all count
	zc.OutputPaths, zc.ErrorOutputPaths = []string{"stderr"}, []string{"stderr"}
	zc.EncoderConfig.EncodeTime = zapcore.RFC3339NanoTimeEncoder
	l, err := zc.Build()
	if err != nil {
		return nil, fmt.Errorf("server: --etcd-log: %w", err)
	}
	return l.Named("etcd").With(zap.String("node", node)), nil
}

// feedStats reads the node's change relay for the metrics.
func (c *clusterNode) feedStats() collect.FeedRelayStats {
	f := c.node.Feed()
	s := f.Stats()
	return collect.FeedRelayStats{Sent: s.Sent, Batches: s.Batches, Received: s.Received, Late: s.Late, Back: s.Back, Lost: s.Lost,
		TimedOut: s.TimedOut, WatchStarts: s.WatchStarts, Receivers: len(f.Receivers())}
}

// serveS3 starts answering S3 requests with h.
func (c *clusterNode) serveS3(h httpserver.Handler) { c.s3.Store(&h) }

// shutdown stops serving, letting requests in flight finish until ctx ends, and leaves the
// cluster.
func (c *clusterNode) shutdown(ctx context.Context) error {
	err := c.srv.Shutdown(ctx)
	if err != nil {
		c.srv.Close()
	}
	c.node.Close()
	return err
}

// envNodeAPIDelay names the test hook that makes a node slow: every call the other nodes
// make to its drives (the node API) waits that long (a Go duration) before it is served.
// The fault suite's slow node uses it where the kernel has no tc netem.
const envNodeAPIDelay = "FLASHSTOR_TEST_NODE_API_DELAY"

// envLocalLocks names the test switch that makes a node take its object locks locally
// instead of from the owner of the object's set: writers of one key through different nodes
// are then not ordered. It exists to show that the fault suite's linearizability check
// fails when they are not (TestClusterLinearizabilityCatchesUnorderedWriters);
// cluster.Config.UnorderedLocks.
const envLocalLocks = "FLASHSTOR_TEST_LOCAL_LOCKS"

// envNoFence names the test switch that makes a node's drive calls carry no ownership
// epoch (its locks still come from the sets' owners): a commit it holds past a change of
// owner is then not fenced. It exists to show that the fault suite's fencing test fails
// without fencing (TestClusterFaultHeldCommitUnfencedLands); cluster.Config.Unfenced.
const envNoFence = "FLASHSTOR_TEST_NO_FENCE"

// envHoldCommit names the test hook that holds a PUT between its lock grant and its
// commit: "KEY=DURATION" makes the first PUT of KEY (in any bucket) that reaches its commit
// on this node log "holding the commit" and wait DURATION before committing. The fault
// suite stops the node during the wait (SIGSTOP) to check that the commit is fenced once
// another node owns the set.
const envHoldCommit = "FLASHSTOR_TEST_HOLD_COMMIT"

// holdCommit reads envHoldCommit: nil when it is not set.
func holdCommit(log *slog.Logger) (func(bucket, key string), error) {
	v := os.Getenv(envHoldCommit)
	if v == "" {
		return nil, nil
	}
	i := strings.LastIndexByte(v, '=')
	var d time.Duration
	err := errors.New("no '='")
	if i > 0 {
		d, err = time.ParseDuration(v[i+1:])
	}
	if err != nil || d <= 0 {
		return nil, fmt.Errorf("%s=%q: want KEY=DURATION, such as held/k=3s", envHoldCommit, v)
	}
	key := v[:i]
	log.Warn("the first PUT of a key waits between its lock and its commit: a test hook", "env", envHoldCommit, "key", key, "hold", d)
	var once sync.Once
	return func(bucket, k string) {
		if k != key {
			return
		}
		once.Do(func() {
			log.Warn("holding the commit", "bucket", bucket, "key", k, "hold", d)
			time.Sleep(d)
			log.Warn("committing after the hold", "bucket", bucket, "key", k)
		})
	}, nil
}

// nodeAPIDelay reads envNodeAPIDelay: 0 when it is not set.
func nodeAPIDelay() (time.Duration, error) {
	v := os.Getenv(envNodeAPIDelay)
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s=%q: want a duration such as 50ms", envNodeAPIDelay, v)
	}
	return d, nil
}

// delayed serves h's requests after d.
func delayed(h httpserver.Handler, d time.Duration) httpserver.Handler {
	return httpserver.HandlerFunc(func(w httpserver.ResponseWriter, r *httpserver.Request) {
		time.Sleep(d)
		h.ServeHTTP1(w, r)
	})
}
