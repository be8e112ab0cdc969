package remote

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
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

// Verifier checks node tokens, refusing replays within the window (see the package doc),
// and, once RequireClientCert was called, the client certificate of the connection.
type Verifier struct {
	v     *verifier
	peers *certChecker
}

// RequireClientCert makes VerifyHTTP1 refuse every request that did not arrive over TLS
// with a client certificate chaining to roots, as Handler.RequireClientCert does for the
// drive API. Call it before serving.
func (v *Verifier) RequireClientCert(roots *x509.CertPool) { v.peers = newCertChecker(roots) }

// VerifyHTTP1 checks the node credentials of a request served by the epoll transport:
// the client certificate when one is required, then the node token.
func (v *Verifier) VerifyHTTP1(r *httpserver.Request) error {
	if v.peers != nil {
		st, ok := r.TLS()
		if err := v.peers.check(st, ok); err != nil {
			return err
		}
	}
	_, err := v.v.verify(string(r.Header(authHeader)), r.Method, string(r.Path), string(r.RawQuery))
	return err
}

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

// Refuse answers a node API request without valid node credentials: 401 and an empty
// body, so that a prober learns nothing; the reason goes to log, under the API's name.
// The drive API, the lock API (cluster/owner) and the feed relay all answer so.
func Refuse(w httpserver.ResponseWriter, r *httpserver.Request, log *slog.Logger, api string, err error) {
	log.Warn(api+": request refused", "remote", r.RemoteAddr.String(), "err", err)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusUnauthorized)
}

// PlainError answers a node API request with status and msg as a plain-text body.
func PlainError(w httpserver.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	io.WriteString(w, msg)
}
