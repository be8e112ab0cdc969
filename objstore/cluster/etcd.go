package cluster

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/flashstor/flashstor/objstore/cluster/topology"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
)

// The embedded etcd's ports, derived from a member's S3 port so that every node computes
// the same cluster from the same list: client port = S3 port + EtcdClientOffset, peer port
// = S3 port + EtcdPeerOffset, on the host the list names.
const (
	EtcdClientOffset = 1
	EtcdPeerOffset   = 2
)

// EtcdMembers returns the nodes that run an embedded etcd member: the first one of the list
// for fewer than three nodes, the first three for fewer than seven, else the first five.
// (An odd number: a member more would not survive a failure more.)
func EtcdMembers(t *topology.Topology) []string {
	n := len(t.Nodes)
	switch {
	case n < 3:
		n = 1
	case n < 7:
		n = 3
	default:
		n = 5
	}
	return t.Nodes[:n]
}

// etcdURL returns http://host:(port+offset) for node host:port.
func etcdURL(node string, offset int) (url.URL, error) {
	host, port, err := net.SplitHostPort(node)
	if err != nil {
		return url.URL{}, err
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return url.URL{}, fmt.Errorf("node %s: bad port", node)
	}
	return url.URL{Scheme: "http", Host: net.JoinHostPort(host, strconv.Itoa(p+offset))}, nil
}

// EtcdClientURLs returns the client URLs of the embedded members of t.
func EtcdClientURLs(t *topology.Topology) ([]string, error) {
	var out []string
	for _, m := range EtcdMembers(t) {
		u, err := etcdURL(m, EtcdClientOffset)
		if err != nil {
			return nil, err
		}
		out = append(out, u.String())
	}
	return out, nil
}

// startEtcd starts this node's member of the embedded etcd cluster in dir. It returns once
// the member listens; it serves once a quorum of members runs (ReadyNotify).
func startEtcd(t *topology.Topology, self, dir string, tick time.Duration) (*embed.Etcd, error) {
	cfg := embed.NewConfig()
	if tick > 0 {
		cfg.TickMs = uint(max(1, tick.Milliseconds()))
		cfg.ElectionMs = 10 * cfg.TickMs
	}
	cfg.Dir = dir
	cfg.Name = self
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	// The token keeps members of clusters of different lists apart.
	cfg.InitialClusterToken = "flashstor-" + t.Hash[:16]
	var initial []string
	for _, m := range EtcdMembers(t) {
		peer, err := etcdURL(m, EtcdPeerOffset)
		if err != nil {
			return nil, err
		}
		initial = append(initial, m+"="+peer.String())
		if m == self {
			client, err := etcdURL(m, EtcdClientOffset)
			if err != nil {
				return nil, err
			}
			cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
			cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
		}
	}
	cfg.InitialCluster = strings.Join(initial, ",")
	cfg.ClusterState = embed.ClusterStateFlagNew // ignored once dir holds the member's data
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("starting the embedded etcd member %s in %s: %w", self, dir, err)
	}
	return e, nil
}

// newClient returns an etcd client of endpoints.
func newClient(endpoints []string) (*clientv3.Client, error) {
	c, err := clientv3.New(clientv3.Config{
		Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop(),
		DialKeepAliveTime: 5 * time.Second, DialKeepAliveTimeout: 5 * time.Second,
		// Nodes start in any order: a member not listening yet is retried after 100 ms,
		// not after gRPC's default first back-off of a second.
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 3 * time.Second},
			MinConnectTimeout: 2 * time.Second,
		})},
	})
	if err != nil {
		return nil, fmt.Errorf("etcd client of %s: %w", strings.Join(endpoints, ","), err)
	}
	return c, nil
}
