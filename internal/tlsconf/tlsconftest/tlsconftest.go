// Package tlsconftest lays out certificates directories (--certs-dir) for tests, with
// certificates of a testpki.CA.
package tlsconftest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/flashstor/flashstor/internal/testpki"
	"github.com/flashstor/flashstor/internal/tlsconf"
)

// NodeStore loads a new NodeDir.
func NodeStore(tb testing.TB, ca *testpki.CA, serial int64) *tlsconf.Store {
	tb.Helper()
	store, err := tlsconf.Load(NodeDir(tb, ca, serial))
	if err != nil {
		tb.Fatal(err)
	}
	return store
}

// NodeDir lays out a new directory as an operator lays out --certs-dir for a cluster
// node: a certificate of ca with the given serial (for 127.0.0.1, server and client
// authentication) as public.crt and private.key, and ca itself in CAs/.
func NodeDir(tb testing.TB, ca *testpki.CA, serial int64) string {
	tb.Helper()
	dir := tb.TempDir()
	ca.Issue(tb, serial).Write(tb, dir, tlsconf.CertFile, tlsconf.KeyFile)
	if err := os.MkdirAll(filepath.Join(dir, tlsconf.CAsDir), 0o700); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, tlsconf.CAsDir, "ca.crt"), ca.PEM, 0o600); err != nil {
		tb.Fatal(err)
	}
	return dir
}
