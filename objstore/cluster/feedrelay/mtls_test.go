package feedrelay

import (
	"context"
	"crypto/tls"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/flashstor/flashstor/internal/testpki"
	"github.com/flashstor/flashstor/internal/tlsconf"
	"github.com/flashstor/flashstor/internal/tlsconf/tlsconftest"
	"github.com/flashstor/flashstor/objstore/storage/remote"
)

// With --certs-dir the relay speaks TLS with the node's certificate, and a receiver that
// requires client certificates refuses (401, empty body) a signed request without one or
// with one of another CA.
func TestMutualTLS(t *testing.T) {
	ca := testpki.NewCA(t, "cluster CA")
	store, err := tlsconf.Load(tlsconftest.NodeDir(t, ca, 2))
	if err != nil {
		t.Fatal(err)
	}
	c := newEtcd(t)
	tr := &http.Transport{TLSClientConfig: store.NodeClientConfig()}
	t.Cleanup(tr.CloseIdleConnections)
	a := startNode(t, c, Config{Scheme: "https", Transport: tr}, nil)
	b := startNodeTLS(t, c, Config{}, nil, store.NodeServerConfig(), store.NodeCAs())
	b.receive(t, a)
	a.layer.Publish(context.Background(), put("bkt", "k", "x"))
	if got := b.seen.get(); len(got) != 1 || got[0].Key != "k" {
		t.Fatalf("B saw %+v, want the put", got)
	}
	other := testpki.NewCA(t, "another CA").Issue(t, 3)
	for name, cfg := range map[string]*tls.Config{
		"no certificate":           {RootCAs: ca.Pool()},
		"another CA's certificate": {RootCAs: ca.Pool(), Certificates: []tls.Certificate{other.TLS}},
	} {
		t.Run(name, func(t *testing.T) {
			body := `{"events":[{"t":"delete","b":"bkt","k":"k"}]}`
			req, err := http.NewRequest("POST", "https://"+b.addr+EventsPath+"?from=x%3A1&sum="+sumHex(body), strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			remote.SignRequest(req, testSecret)
			client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || resp.ContentLength != 0 {
				t.Fatalf("status %d, length %d; want 401 and nothing else", resp.StatusCode, resp.ContentLength)
			}
		})
	}
	if got := len(b.seen.get()); got != 1 {
		t.Fatalf("B ran %d events, want only the put sent with the node's certificate", got)
	}
}
