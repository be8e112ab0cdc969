package clustertest_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flashstor/flashstor/internal/testpki"
	"github.com/flashstor/flashstor/internal/tlsconf"
	"github.com/flashstor/flashstor/internal/tlsconf/tlsconftest"
	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/cluster"
	"github.com/flashstor/flashstor/objstore/cluster/clustertest"
	"github.com/flashstor/flashstor/objstore/cluster/etcdtest"
	"github.com/flashstor/flashstor/objstore/cluster/owner"
	"github.com/flashstor/flashstor/objstore/storage/remote"
)

// TestMutualTLS: a cluster whose node API (drives and locks) runs over mutual TLS writes
// through one node and reads through another, the locks taken from the owner over TLS;
// a client without a certificate of the cluster's CA, even holding the cluster secret's
// tokens, gets 401 from both APIs, and a plain-HTTP client gets no answer at all.
func TestMutualTLS(t *testing.T) {
	ca := testpki.NewCA(t, "cluster CA")
	certs := tlsconftest.NodeStore(t, ca, 2)
	etcd := etcdtest.Start(t)
	c := clustertest.Start(t, clustertest.Options{Nodes: 3, DrivesPerNode: 2, Etcd: etcd.Endpoints,
		TLS: &clustertest.TLS{Server: certs.NodeServerConfig(), Client: certs.NodeClientConfig(), PeerCAs: certs.NodeCAs()}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	writeRead(ctx, t, c, 2, 1, bytes.Repeat([]byte("over mutual TLS "), 50000))

	// Clients that trust the nodes' certificates: one without a client certificate, one
	// with a certificate of another CA.
	other := testpki.NewCA(t, "another CA").Issue(t, 3)
	for name, cert := range map[string][]tls.Certificate{"no client certificate": nil, "another CA's certificate": {other.TLS}} {
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: certs.NodeCAs(), Certificates: cert}}}
		for _, path := range []string{owner.APIPrefix + "acquire?set=0&ttl=1000&w=bkt%2Fk", remote.Prefix + "e0/diskinfo"} {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+c.Nodes[0].Addr+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			remote.SignRequest(req, clustertest.Secret)
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatalf("%s, %s: %v", name, path, err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("%s, %s: %s, want 401", name, path, resp.Status)
			}
		}
		hc.CloseIdleConnections()
	}
	plain := &http.Client{Timeout: 5 * time.Second}
	if resp, err := plain.Post("http://"+c.Nodes[0].Addr+owner.APIPrefix+"release?id=x", "", nil); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("plain HTTP to a TLS node: %s", resp.Status)
		}
	}
}

// TestEtcdMutualTLS: a cluster on an https:// list whose embedded etcd members (the first
// three of four nodes; the fourth is only their client) serve their client and peer URLs
// over mutual TLS writes through the non-member and reads through a member; the first
// member's etcd ports give nothing to a client in plain HTTP, over TLS without a client
// certificate, or with another CA's, and serve one with the cluster's certificate
// (etcdtest.CheckMutualTLS).
func TestEtcdMutualTLS(t *testing.T) {
	ca := testpki.NewCA(t, "cluster CA")
	dir := tlsconftest.NodeDir(t, ca, 2)
	certs, err := tlsconf.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	c := clustertest.Start(t, clustertest.Options{Nodes: 4, DrivesPerNode: 1, TLS: &clustertest.TLS{
		Server: certs.NodeServerConfig(), Client: certs.NodeClientConfig(), PeerCAs: certs.NodeCAs(), Etcd: cluster.NewEtcdTLS(dir, certs)}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	writeRead(ctx, t, c, 3, 0, bytes.Repeat([]byte("etcd over mutual TLS "), 1000))
	urls, err := cluster.EtcdClientURLs(c.Nodes[0].Topology())
	if err != nil {
		t.Fatal(err)
	}
	if len(urls) != 3 || !strings.HasPrefix(urls[0], "https://") {
		t.Fatalf("etcd client URLs %v: want three https:// members", urls)
	}
	host, port, _ := net.SplitHostPort(c.Nodes[0].Addr)
	p, _ := strconv.Atoi(port)
	peer := "https://" + net.JoinHostPort(host, strconv.Itoa(p+cluster.EtcdPeerOffset))
	other := testpki.NewCA(t, "another CA").Issue(t, 3)
	etcdtest.CheckMutualTLS(t, urls[0], peer, ca.Pool(), other.TLS, certs.NodeClientConfig(), cluster.FormatKey)
}

// writeRead makes bucket bkt and writes body as bkt/k through node from, and reads it back
// through node to.
func writeRead(ctx context.Context, t *testing.T, c *clustertest.Cluster, from, to int, body []byte) {
	t.Helper()
	if err := c.Nodes[from].Deployment.MakeBucket(ctx, "bkt", objstore.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Nodes[from].Deployment.PutObject(ctx, "bkt", "k", bytes.NewReader(body), int64(len(body)), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, _, err := readAll(ctx, c.Nodes[to].Deployment, "bkt", "k"); err != nil || !bytes.Equal(got, body) {
		t.Fatalf("bkt/k written through node %d, read through node %d: %d bytes, %v", from, to, len(got), err)
	}
}
