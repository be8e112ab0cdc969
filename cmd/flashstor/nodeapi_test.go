package main

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/flashstor/flashstor/internal/httpserver"
	"github.com/flashstor/flashstor/internal/testpki"
	"github.com/flashstor/flashstor/internal/tlsconf/tlsconftest"
	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/local"
	"github.com/flashstor/flashstor/objstore/storage/remote"
	"github.com/flashstor/flashstor/s3frontend"
)

// The hook the cluster wiring uses: one TLS listener on the S3 server's transports, S3
// without client certificates, the node API with the cluster's.
func TestNodeAPIBesideS3(t *testing.T) {
	ca := testpki.NewCA(t, "cluster CA")
	certs := tlsconftest.NodeStore(t, ca, 2)
	d, err := local.Open(t.TempDir(), local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("a cluster secret of some length")
	node, err := remote.NewHandler(secret, map[string]storage.Drive{"d1": d}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s3 := httpserver.HandlerFunc(func(w httpserver.ResponseWriter, r *httpserver.Request) { io.WriteString(w, "s3") })
	for _, transport := range []string{s3frontend.TransportEpoll, s3frontend.TransportNetHTTP} {
		t.Run(transport, func(t *testing.T) {
			h, tlsCfg := withNodeAPI(s3, node, certs)
			srv, err := s3frontend.NewServer(s3frontend.ServerConfig{Handler: h, Transport: transport, TLS: tlsCfg})
			if err != nil {
				t.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go srv.Serve(ln)
			t.Cleanup(func() { srv.Close() })
			url := "https://" + ln.Addr().String()

			c, err := remote.New(url, "d1", secret, remote.Options{TLS: certs.NodeClientConfig()})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.ListVolumes(context.Background()); err != nil {
				t.Fatalf("node API with the cluster's certificate: %v", err)
			}
			bare, _ := remote.New(url, "d1", secret, remote.Options{TLS: &tls.Config{RootCAs: ca.Pool()}})
			if _, err := bare.ListVolumes(context.Background()); !errors.Is(err, storage.ErrDriveOffline) {
				t.Fatalf("node API without a client certificate: %v, want refused", err)
			}
			hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
			defer hc.CloseIdleConnections()
			resp, err := hc.Get(url + "/bucket/key")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(body) != "s3" {
				t.Fatalf("S3 request without a client certificate: %s %q", resp.Status, body)
			}
		})
	}
}
