package remote

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"
	"time"
)

// maxVerifiedCerts bounds the cache of verified client certificates (a cluster has a few
// nodes, each with one certificate at a time).
const maxVerifiedCerts = 1024

// certChecker verifies the client certificates of node API requests against the nodes'
// CA, and remembers those that verified, so that a keep-alive connection's requests do not
// each pay for a chain verification.
type certChecker struct {
	roots *x509.CertPool

	mu sync.Mutex
	// ok maps the SHA-256 of a leaf that verified to when its chain stops being valid.
	// GUARDED_BY(mu).
	ok map[[sha256.Size]byte]time.Time
}

func newCertChecker(roots *x509.CertPool) *certChecker {
	return &certChecker{roots: roots, ok: map[[sha256.Size]byte]time.Time{}}
}

// check accepts a connection whose client presented a certificate for client
// authentication that chains to the roots. crypto/tls has already checked that the client
// holds the certificate's key (its CertificateVerify), whatever the ClientAuth mode.
func (c *certChecker) check(st tls.ConnectionState, isTLS bool) error {
	switch {
	case !isTLS:
		return errors.New("node API over plain TCP, client certificate required")
	case len(st.PeerCertificates) == 0:
		return errors.New("no client certificate")
	}
	leaf := st.PeerCertificates[0]
	key := sha256.Sum256(leaf.Raw)
	now := time.Now()
	c.mu.Lock()
	until, seen := c.ok[key]
	c.mu.Unlock()
	if seen && now.Before(until) {
		return nil
	}
	inter := x509.NewCertPool()
	for _, ic := range st.PeerCertificates[1:] {
		inter.AddCert(ic)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots: c.roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return fmt.Errorf("client certificate %q: %w", leaf.Subject.CommonName, err)
	}
	until = leaf.NotAfter
	for _, cert := range chains[0] {
		if cert.NotAfter.Before(until) {
			until = cert.NotAfter
		}
	}
	c.mu.Lock()
	if len(c.ok) >= maxVerifiedCerts {
		clear(c.ok)
	}
	c.ok[key] = until
	c.mu.Unlock()
	return nil
}
