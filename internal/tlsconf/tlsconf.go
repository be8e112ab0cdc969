// Package tlsconf loads the server's TLS certificates from a certs directory and serves
// them to crypto/tls, with reloading (on SIGHUP) that never drops a connection.
//
// Layout of the directory (the one MinIO operators know):
//
//	DIR/public.crt, DIR/private.key          the default certificate (chain) and its key
//	DIR/DOMAIN/public.crt, DIR/DOMAIN/private.key
//	                                         one per sub-folder, chosen by SNI
//	DIR/CAs/*                                 extra trusted roots (PEM), for our own clients;
//	                                         alone, the roots of the nodes' certificates
//
// A sub-folder's certificate answers for the folder's name and for every DNS name in the
// certificate (wildcards included); any other name gets the default certificate.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
)

// File and folder names inside the certs directory.
const (
	CertFile = "public.crt"
	KeyFile  = "private.key"
	CAsDir   = "CAs"
)

// Store holds the certificates of one certs directory. Its methods are safe for
// concurrent use.
type Store struct {
	dir string
	// cur is the set in use. A reload builds a new set and swaps the pointer: a handshake
	// sees either the old set or the new one, whole.
	cur atomic.Pointer[certSet]
}

// certSet is an immutable set of certificates.
type certSet struct {
	def *tls.Certificate
	// byName maps lower-case DNS names (exact, or "*.suffix" wildcards) to certificates.
	byName map[string]*tls.Certificate
	// roots is the system pool plus the certificates in CAs/.
	roots *x509.CertPool
	// nodeRoots holds the certificates in CAs/ alone; nodeRootsPEM the same, in PEM.
	nodeRoots    *x509.CertPool
	nodeRootsPEM []byte
}

// Load reads the certificates in dir. A missing, unreadable or malformed file, or a key
// that does not match its certificate, fails with an error that names the files.
func Load(dir string) (*Store, error) {
	s := &Store{dir: dir}
	set, err := loadSet(dir)
	if err != nil {
		return nil, err
	}
	s.cur.Store(set)
	return s, nil
}

// Reload reads the directory again and, if every file is good, switches to the new
// certificates for the handshakes that follow; connections already established keep
// theirs. On error nothing changes and the old certificates stay in use.
func (s *Store) Reload() error {
	set, err := loadSet(s.dir)
	if err != nil {
		return err
	}
	s.cur.Store(set)
	return nil
}

// GetCertificate chooses the certificate for a handshake by its server name (SNI), for
// tls.Config.GetCertificate.
func (s *Store) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	set := s.cur.Load()
	name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	if name != "" {
		if c := set.byName[name]; c != nil {
			return c, nil
		}
		if i := strings.IndexByte(name, '.'); i > 0 {
			if c := set.byName["*"+name[i:]]; c != nil {
				return c, nil
			}
		}
	}
	return set.def, nil
}

// RootCAs returns the roots our own clients (webhooks, peers) should trust: the system's
// and those in CAs/, as of the last successful Load or Reload.
func (s *Store) RootCAs() *x509.CertPool { return s.cur.Load().roots }

// NodeCAs returns the roots that the certificates of the cluster's nodes chain to: the
// certificates in CAs/ alone, never the system's (a certificate any public CA issued must
// not open the node API). Put the cluster's CA there on every node.
func (s *Store) NodeCAs() *x509.CertPool { return s.cur.Load().nodeRoots }

// NodeCAsPEM returns the certificates of NodeCAs in PEM, one block each, for a consumer
// that wants a file of trusted CAs (the embedded etcd's TrustedCAFile). The caller must
// not change the slice.
func (s *Store) NodeCAsPEM() []byte { return s.cur.Load().nodeRootsPEM }

// NodeServerConfig is ServerConfig for a listener that serves S3 and the node API: it also
// asks every client for a certificate, but neither requires nor verifies one, so S3
// clients need none; the node API verifies what it got against NodeCAs
// (remote.Handler.RequireClientCert). crypto/tls still checks that a client holds the key of
// the certificate it sends.
func (s *Store) NodeServerConfig() *tls.Config {
	c := s.ServerConfig()
	c.ClientAuth = tls.RequestClientCert
	return c
}

// NodeClientConfig is the TLS configuration of this node's requests to the other nodes:
// it presents the default certificate (public.crt, which must then allow client
// authentication as well as server authentication; the current one after a reload) and
// trusts NodeCAs as of this call.
func (s *Store) NodeClientConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		RootCAs:    s.NodeCAs(),
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return s.cur.Load().def, nil
		},
	}
}

// ServerConfig returns a TLS configuration for the S3 endpoint: TLS 1.2 at least (1.3 is
// chosen whenever the client has it), TLS 1.2 cipher suites limited to ECDHE with AEADs,
// and the certificates of this store, reloadable. Each call returns a new Config.
func (s *Store) ServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: s.GetCertificate,
		CipherSuites: []uint16{ // TLS 1.3 suites are not configurable, and all are modern
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		NextProtos: []string{"http/1.1"},
	}
}

func loadSet(dir string) (*certSet, error) {
	def, err := loadPair(dir)
	if err != nil {
		return nil, err
	}
	set := &certSet{def: def, byName: make(map[string]*tls.Certificate)}
	// The default certificate answers for its own names, unless a folder claims them.
	addNames(set.byName, def, "")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("tlsconf: read certs directory: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() || e.Name() == CAsDir {
			continue
		}
		sub := filepath.Join(dir, e.Name())
		if !exists(filepath.Join(sub, CertFile)) && !exists(filepath.Join(sub, KeyFile)) {
			continue // a folder that is not a domain's
		}
		c, err := loadPair(sub)
		if err != nil {
			return nil, err
		}
		addNames(set.byName, c, e.Name())
	}
	if set.roots, set.nodeRoots, set.nodeRootsPEM, err = loadRoots(filepath.Join(dir, CAsDir)); err != nil {
		return nil, err
	}
	return set, nil
}

// loadPair loads dir/public.crt and dir/private.key.
func loadPair(dir string) (*tls.Certificate, error) {
	certPath, keyPath := filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile)
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, fmt.Errorf("tlsconf: certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("tlsconf: private key: %w", err)
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("tlsconf: key pair %s and %s: %w", certPath, keyPath, err)
	}
	if c.Leaf == nil { // set by X509KeyPair since Go 1.23; parsed here for older rules
		if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return nil, fmt.Errorf("tlsconf: certificate %s: %w", certPath, err)
		}
	}
	return &c, nil
}

// addNames maps c's DNS names, and folder if not empty, to c in m.
func addNames(m map[string]*tls.Certificate, c *tls.Certificate, folder string) {
	for _, n := range c.Leaf.DNSNames {
		m[strings.ToLower(n)] = c
	}
	if folder != "" {
		m[strings.ToLower(folder)] = c
	}
}

// loadRoots returns the system roots plus every certificate in the PEM files of dir
// (which may be missing), and those certificates alone, as a pool and in PEM.
func loadRoots(dir string) (all, own *x509.CertPool, ownPEM []byte, err error) {
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool() // no system roots on this machine: ours only
	}
	own = x509.NewCertPool()
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return pool, own, ownPEM, nil
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("tlsconf: read CA directory: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("tlsconf: CA file: %w", err)
		}
		n := 0
		for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
			if block.Type != "CERTIFICATE" {
				continue
			}
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("tlsconf: CA file %s: certificate %d: %w", path, n+1, err)
			}
			pool.AddCert(cert)
			own.AddCert(cert)
			ownPEM = append(ownPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: block.Bytes})...)
			n++
		}
		if n == 0 {
			return nil, nil, nil, fmt.Errorf("tlsconf: CA file %s: no PEM certificate in it", path)
		}
	}
	return pool, own, ownPEM, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
