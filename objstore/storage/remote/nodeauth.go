package remote

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"net/http"
	"time"

	"github.com/flashstor/flashstor/internal/httpserver"
)

// SignRequest sets req's node token (header X-Flashstor-Node, see the package doc) under
// the cluster secret. Other node-to-node APIs (the lock API of package cluster/owner) sign
// and check their requests exactly as the drive protocol does. It returns the token's
// nonce, which a request body's mac covers (body.go).
func SignRequest(req *http.Request, secret []byte) (nonce string) {
	var nb [16]byte
	rand.Read(nb[:])
	nonce = hex.EncodeToString(nb[:])
	req.Header.Set(authHeader, sign(secret, req.Method, req.URL.EscapedPath(), req.URL.RawQuery, time.Now(), nonce))
	return nonce
}

// Verifier checks node tokens, refusing replays within the window (see the package doc).
type Verifier struct{ v *verifier }

// NewVerifier returns a verifier of tokens signed with secret (at least 16 bytes).
func NewVerifier(secret []byte) (*Verifier, error) {
	if len(secret) < 16 {
		return nil, errors.New("remote: cluster secret shorter than 16 bytes")
	}
	return &Verifier{v: newVerifier(secret)}, nil
}

func newVerifier(secret []byte) *verifier {
	return &verifier{secret: append([]byte(nil), secret...), now: time.Now, nonces: map[[16]byte]int64{}}
}

// Verify checks r's node token.
func (v *Verifier) Verify(r *http.Request) error {
	_, err := v.v.verify(r.Header.Get(authHeader), r.Method, r.URL.EscapedPath(), r.URL.RawQuery)
	return err
}

// AuthHeader is the request header that carries the node token.
const AuthHeader = authHeader

// VerifyToken checks a node token as an httpserver handler sees its request: token is the
// AuthHeader field, path and rawQuery as sent (not percent-decoded).
func (v *Verifier) VerifyToken(token, method, path, rawQuery string) error {
	_, err := v.v.verify(token, method, path, rawQuery)
	return err
}

// PeerCerts checks the client certificates of node-to-node requests as
// Handler.RequireClientCert does, for the other node APIs on the listener (the change
// relay of package cluster/feedrelay).
type PeerCerts struct{ c *certChecker }

// NewPeerCerts accepts client certificates for client authentication that chain to roots
// (the nodes' CA, tlsconf.Store.NodeCAs).
func NewPeerCerts(roots *x509.CertPool) *PeerCerts { return &PeerCerts{c: newCertChecker(roots)} }

// Check accepts a request that came over TLS with such a certificate.
func (p *PeerCerts) Check(r *httpserver.Request) error {
	st, ok := r.TLS()
	return p.c.check(st, ok)
}
