// Package etcdtest starts a real etcd server, embedded in the test process, on loopback
// ports below the kernel's ephemeral range (internal/testport), for tests of the packages that keep cluster state in etcd.
// It is the real engine (go.etcd.io/etcd/server/v3/embed), not a stand-in.
package etcdtest

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/flashstor/flashstor/internal/testport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// Server is one running single-member etcd.
type Server struct {
	Etcd *embed.Etcd
	// Endpoints are its client URLs.
	Endpoints []string
}

// Start starts a single-member etcd in a temporary directory of t and stops it when t
// ends. It fails t if the server is not ready within 20 seconds.
func Start(t testing.TB) *Server {
	t.Helper()
	cfg := embed.NewConfig()
	cfg.Dir = t.TempDir()
	cfg.Name = "etcdtest"
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	// Below the ephemeral range (testport): etcd binds the two ports after they are
	// picked, and a port of that range can meanwhile become some connection's source port.
	port := testport.Pick(t, []string{"127.0.0.1"}, []int{0, 1})
	client, peer := loopbackURL(port), loopbackURL(port+1)
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
	cfg.InitialCluster = cfg.Name + "=" + peer.String()
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatalf("etcdtest: start: %v", err)
	}
	t.Cleanup(e.Close)
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		t.Fatalf("etcdtest: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("etcdtest: not ready after 20s")
	}
	return &Server{Etcd: e, Endpoints: []string{client.String()}}
}

// Client returns a client of s, closed when t ends.
func (s *Server) Client(t testing.TB) *clientv3.Client {
	t.Helper()
	return ClientOf(t, s.Endpoints)
}

// ClientOf returns a client of the etcd at endpoints (a Proxy's), closed when t ends.
func ClientOf(t testing.TB, endpoints []string) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatalf("etcdtest: client: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// loopbackURL returns the http URL of port on 127.0.0.1.
func loopbackURL(port int) url.URL {
	return url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", port)}
}
