package cluster

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/flashstor/flashstor/internal/tlsconf"
	"github.com/flashstor/flashstor/objstore/cluster/topology"
	"go.etcd.io/etcd/client/pkg/v3/transport"
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

// EtcdTLS is the mutual TLS of a node's etcd traffic (--certs-dir): the embedded member
// serves its client and peer URLs over TLS with the node's certificate and requires a
// client certificate that chains to CAs, on both, from clients and peers alike; the
// node's etcd client (member or not, embedded etcd or external) presents Client's
// certificate.
type EtcdTLS struct {
	// CertFile and KeyFile are the node's certificate and key (PEM files), for server and
	// client authentication both. etcd reads them again at every handshake, so a renewed
	// pair is served without a restart.
	CertFile, KeyFile string
	// CAs holds, in PEM, the certificates of the CAs that the nodes' certificates chain
	// to (tlsconf.Store.NodeCAsPEM): etcd trusts them alone. Read at start.
	CAs []byte
	// Client is the TLS configuration of the node's etcd client: the roots the etcd
	// servers' certificates chain to and the node's certificate
	// (tlsconf.Store.NodeClientConfig).
	Client *tls.Config
}

// NewEtcdTLS returns the EtcdTLS of certs directory dir, loaded as certs: public.crt and
// private.key are the node's certificate (which must allow client authentication as well
// as server authentication), the CAs in CAs/ alone are trusted.
func NewEtcdTLS(dir string, certs *tlsconf.Store) *EtcdTLS {
	return &EtcdTLS{
		CertFile: filepath.Join(dir, tlsconf.CertFile), KeyFile: filepath.Join(dir, tlsconf.KeyFile),
		CAs: certs.NodeCAsPEM(), Client: certs.NodeClientConfig(),
	}
}

// caFile is the name of the file in the member's data directory holding EtcdTLS.CAs,
// written at every start: etcd takes its trusted CAs from one file.
const caFile = "flashstor-trusted-cas.pem"

// tlsInfo writes the trusted CAs into dir and returns the member's TLS for its client and
// peer URLs: the node's certificate, a client certificate of those CAs required.
func (c *EtcdTLS) tlsInfo(dir string) (transport.TLSInfo, error) {
	if len(c.CAs) == 0 {
		return transport.TLSInfo{}, errors.New("etcd over TLS: no CA to check the nodes' certificates against (put the cluster's CA in the certs directory's CAs/)")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return transport.TLSInfo{}, fmt.Errorf("etcd over TLS: %w", err)
	}
	path := filepath.Join(dir, caFile)
	if err := os.WriteFile(path, c.CAs, 0o600); err != nil {
		return transport.TLSInfo{}, fmt.Errorf("etcd over TLS: writing the trusted CAs: %w", err)
	}
	return transport.TLSInfo{CertFile: c.CertFile, KeyFile: c.KeyFile, TrustedCAFile: path, ClientCertAuth: true}, nil
}

// etcdURL returns scheme://host:(port+offset) for node host:port.
func etcdURL(scheme, node string, offset int) (url.URL, error) {
	host, port, err := net.SplitHostPort(node)
	if err != nil {
		return url.URL{}, err
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return url.URL{}, fmt.Errorf("node %s: bad port", node)
	}
	return url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(p+offset))}, nil
}

// EtcdClientURLs returns the client URLs of the embedded members of t: https:// (etcd
// over mutual TLS) when t's list names https:// nodes, else http://.
func EtcdClientURLs(t *topology.Topology) ([]string, error) {
	var out []string
	for _, m := range EtcdMembers(t) {
		u, err := etcdURL(t.Scheme, m, EtcdClientOffset)
		if err != nil {
			return nil, err
		}
		out = append(out, u.String())
	}
	return out, nil
}

// startEtcd starts this node's member of the embedded etcd cluster in dir. It returns once
// the member listens; it serves once a quorum of members runs (ReadyNotify). An https://
// list runs the member's client and peer URLs over mutual TLS with tc, which it needs.
func startEtcd(t *topology.Topology, self, dir string, tick time.Duration, tc *EtcdTLS, log *zap.Logger) (*embed.Etcd, error) {
	cfg := embed.NewConfig()
	if tick > 0 {
		cfg.TickMs = uint(max(1, tick.Milliseconds()))
		cfg.ElectionMs = 10 * cfg.TickMs
	}
	cfg.Dir = dir
	cfg.Name = self
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(log)
	// The token keeps members of clusters of different lists apart.
	cfg.InitialClusterToken = "flashstor-" + t.Hash[:16]
	if t.Scheme == "https" {
		if tc == nil {
			return nil, errors.New("an https:// list runs etcd over mutual TLS: the node's certificate is needed (--certs-dir)")
		}
		info, err := tc.tlsInfo(dir)
		if err != nil {
			return nil, err
		}
		cfg.ClientTLSInfo, cfg.PeerTLSInfo = info, info
	}
	var initial []string
	for _, m := range EtcdMembers(t) {
		peer, err := etcdURL(t.Scheme, m, EtcdPeerOffset)
		if err != nil {
			return nil, err
		}
		initial = append(initial, m+"="+peer.String())
		if m == self {
			client, err := etcdURL(t.Scheme, m, EtcdClientOffset)
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

// newClient returns an etcd client of endpoints. https:// endpoints need tc: the client
// presents the node's certificate; http:// ones are reached in the clear.
func newClient(endpoints []string, tc *EtcdTLS, log *zap.Logger) (*clientv3.Client, error) {
	var tlsCfg *tls.Config
	for _, e := range endpoints {
		if !strings.HasPrefix(e, "https://") {
			continue
		}
		if tc == nil {
			return nil, fmt.Errorf("etcd endpoint %s: an https:// etcd needs the node's client certificate (--certs-dir)", e)
		}
		tlsCfg = tc.Client
	}
	c, err := clientv3.New(clientv3.Config{
		Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: log, TLS: tlsCfg,
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
