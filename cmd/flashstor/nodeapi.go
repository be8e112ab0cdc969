package main

import (
	"crypto/tls"

	"github.com/flashstor/flashstor/internal/httpserver"
	"github.com/flashstor/flashstor/internal/tlsconf"
	"github.com/flashstor/flashstor/objstore/storage/remote"
)

// withNodeAPI puts a node's drive handler beside the S3 handler on the one listener:
// requests under remote.Prefix go to node, every other one to s3 (the health endpoints
// under /flashstor/health/ included). It returns the handler and TLS configuration to
// serve. Without a node handler (a single-node server) it changes nothing. With
// --certs-dir, the listener asks every client for a certificate (S3 clients need none and
// keep the TLS they had) and the node API refuses any request without a certificate
// chaining to the certs dir's CAs/; without it, the node API relies on the cluster
// secret's tokens and body macs alone.
func withNodeAPI(s3 httpserver.Handler, node *remote.Handler, certs *tlsconf.Store) (httpserver.Handler, *tls.Config) {
	switch {
	case node == nil:
		return s3, serverTLS(certs)
	case certs == nil:
		return httpserver.Route(remote.Prefix, node, s3), nil
	}
	node.RequireClientCert(certs.NodeCAs())
	return httpserver.Route(remote.Prefix, node, s3), certs.NodeServerConfig()
}
