package s3frontend

import (
	"crypto/tls"
	"testing"

	"github.com/flashstor/flashstor/internal/httpserver"
)

// Behind the router that puts the node API on the same listener, the S3 handler still
// learns that it is served over TLS (aws:SecureTransport).
func TestSecureTransportBehindRouter(t *testing.T) {
	for _, transport := range []string{TransportEpoll, TransportNetHTTP} {
		h := &Handler{}
		node := httpserver.HandlerFunc(func(httpserver.ResponseWriter, *httpserver.Request) {})
		routed := httpserver.Route("/flashstor/drive/", node, httpserver.Route("/other/", node, h))
		if _, err := NewServer(ServerConfig{Handler: routed, Transport: transport, TLS: &tls.Config{}}); err != nil {
			t.Fatal(err)
		}
		if !h.secure.Load() {
			t.Fatalf("%s: the S3 handler behind two routers does not know it is served over TLS", transport)
		}
	}
}
