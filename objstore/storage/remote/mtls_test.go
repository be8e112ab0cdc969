package remote_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/flashstor/flashstor/internal/httpserver"
	"github.com/flashstor/flashstor/internal/testpki"
	"github.com/flashstor/flashstor/internal/tlsconf/tlsconftest"
	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/remote"
)

// s3Stub stands for the S3 handler beside the node API on one listener.
var s3Stub = httpserver.HandlerFunc(func(w httpserver.ResponseWriter, r *httpserver.Request) {
	io.WriteString(w, "s3:"+string(r.Path))
})

// With --certs-dir, one TLS listener serves S3 and the node API: a node presenting a
// certificate of the cluster's CA reaches its drives; a peer without a certificate, or
// with one of another CA, gets 401 and nothing else, even with the cluster secret; S3
// clients need no certificate and never reach the node handler.
func TestMutualTLS(t *testing.T) {
	ca := testpki.NewCA(t, "cluster CA")
	store := tlsconftest.NodeStore(t, ca, 2)
	other := testpki.NewCA(t, "another CA").Issue(t, 3)
	for _, transport := range []string{epoll, nethttp} {
		t.Run(transport, func(t *testing.T) {
			h, _ := newDriveHandler(t)
			h.RequireClientCert(store.NodeCAs())
			url, _ := startNode(t, httpserver.Route(remote.Prefix, h, s3Stub), nodeOpts{transport: transport, tls: store.NodeServerConfig()})
			ctx := context.Background()

			node, err := remote.New(url, "d1", secret, remote.Options{TLS: store.NodeClientConfig()})
			if err != nil {
				t.Fatal(err)
			}
			if err := node.MakeVolume(ctx, "bucket"); err != nil {
				t.Fatalf("a node with the cluster's certificate: %v", err)
			}
			for name, cfg := range map[string]*tls.Config{
				"no certificate":           {RootCAs: ca.Pool()},
				"another CA's certificate": {RootCAs: ca.Pool(), Certificates: []tls.Certificate{other.TLS}},
			} {
				peer, err := remote.New(url, "d1", secret, remote.Options{TLS: cfg})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := peer.StatVolume(ctx, "bucket"); !errors.Is(err, storage.ErrDriveOffline) || !strings.Contains(err.Error(), "credentials refused") {
					t.Fatalf("%s: %v, want credentials refused", name, err)
				}
				// Raw: 401 and an empty body.
				hc := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
				resp, err := hc.Get(url + remote.Prefix + "d1/listvolumes")
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				hc.CloseIdleConnections()
				if resp.StatusCode != http.StatusUnauthorized || len(body) != 0 {
					t.Fatalf("%s: %s %q, want 401 and nothing", name, resp.Status, body)
				}
			}
			// An S3 client without a certificate: served by S3, whatever the path.
			hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
			defer hc.CloseIdleConnections()
			for _, path := range []string{"/bucket/key", "/flashstor/health/live", "/%66lashstor/drive/v1/d1/listvolumes"} {
				resp, err := hc.Get(url + path)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || string(body) != "s3:"+path {
					t.Fatalf("S3 request %s: %s %q", path, resp.Status, body)
				}
			}
		})
	}
}

// Over plain TCP, a handler that requires client certificates answers nothing.
func TestClientCertRequiredOverTCP(t *testing.T) {
	h, _ := newDriveHandler(t)
	h.RequireClientCert(testpki.NewCA(t, "cluster CA").Pool())
	url, _ := startNode(t, h, nodeOpts{})
	if _, err := client(t, url, "d1", secret).ListVolumes(context.Background()); !errors.Is(err, storage.ErrDriveOffline) {
		t.Fatalf("node API over TCP with certificates required: %v, want refused", err)
	}
}
