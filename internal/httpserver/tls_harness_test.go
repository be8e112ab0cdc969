package httpserver

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flashstor/flashstor/internal/testpki"
)

// testPKI is a certificate authority made by the test and a server certificate it signed
// for 127.0.0.1. Clients trust the CA and nothing else.
type testPKI struct {
	caPEM []byte
	cert  tls.Certificate
	pool  *x509.CertPool
	// handshakes counts the server handshakes that reached certificate selection.
	handshakes atomic.Int64
}

func newTestPKI(tb testing.TB) *testPKI {
	tb.Helper()
	ca := testpki.NewCA(tb, "httpserver test CA")
	return &testPKI{caPEM: ca.PEM, cert: ca.Issue(tb, 2).TLS, pool: ca.Pool()}
}

// serverConfig is what internal/tlsconf hands the server: certificates through
// GetCertificate, HTTP/1.1 by ALPN. MinVersion is left zero: the server enforces TLS 1.2.
func (p *testPKI) serverConfig() *tls.Config {
	return &tls.Config{
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			p.handshakes.Add(1)
			return &p.cert, nil
		},
		NextProtos: []string{"http/1.1"},
	}
}

// clientConfig trusts the test CA only.
func (p *testPKI) clientConfig() *tls.Config {
	return &tls.Config{RootCAs: p.pool, ServerName: "127.0.0.1"}
}

// startEpollTLS runs an epoll Server with TLS for h until the test ends.
func startEpollTLS(tb testing.TB, h Handler, mod func(*Config)) (*Server, string, *testPKI) {
	tb.Helper()
	pki := newTestPKI(tb)
	s, addr := startEpoll(tb, h, func(c *Config) {
		c.TLS = pki.serverConfig()
		if mod != nil {
			mod(c)
		}
	})
	return s, addr, pki
}

// newTLSClient is newClient trusting the test CA.
func newTLSClient(tb testing.TB, pki *testPKI) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true, TLSClientConfig: pki.clientConfig(),
		ForceAttemptHTTP2: false}
	tb.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}
}

// dialTLS is dialRaw over TLS, with the handshake done.
func dialTLS(t *testing.T, addr string, pki *testPKI) *rawConn {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, pki.clientConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return &rawConn{t: t, Conn: c, br: bufio.NewReader(c)}
}
