package feedrelay

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"

	"github.com/flashstor/flashstor/internal/httpserver"
	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/storage/remote"
)

var _ httpserver.Handler = (*Relay)(nil)

// ServeHTTP1 receives a batch of another node's changes and runs them through this node's
// subscribers before it answers (see the package doc for the protocol).
func (r *Relay) ServeHTTP1(w httpserver.ResponseWriter, req *httpserver.Request) {
	if err := r.auth.VerifyHTTP1(req); err != nil {
		r.refuse(w, req, err)
		return
	}
	if string(req.Path) != EventsPath || req.Method != http.MethodPost {
		httpError(w, http.StatusNotFound, "unknown feed relay call")
		return
	}
	q, err := url.ParseQuery(string(req.RawQuery))
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	from, sumHex := q.Get("from"), q.Get("sum")
	want, err := hex.DecodeString(sumHex)
	if len(q["from"]) != 1 || from == "" || len(q["sum"]) != 1 || err != nil || len(want) != sha256.Size {
		httpError(w, http.StatusBadRequest, "want one from and one sum (hex SHA-256)")
		return
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, MaxBody+1))
	switch {
	case err != nil:
		httpError(w, http.StatusBadRequest, err.Error())
		return
	case len(body) > MaxBody:
		httpError(w, http.StatusBadRequest, "body over the limit")
		return
	}
	if got := sha256.Sum256(body); subtle.ConstantTimeCompare(got[:], want) != 1 {
		r.refuse(w, req, errBodySum)
		return
	}
	events, resync, err := Decode(bytesReader(body))
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	box := r.layer.Load()
	if box == nil {
		httpError(w, http.StatusServiceUnavailable, "the node is not serving yet")
		return
	}
	ctx := objstore.WithOrigin(req.Context(), origin{from: from})
	if resync {
		r.log.Warn("feed relay: a node lost changes on their way here; dropping every cache", "from", from)
		box.l.PublishChange(ctx, objstore.Event{Type: objstore.EventResync})
	}
	for _, e := range events {
		box.l.PublishChange(ctx, e)
	}
	r.received.Add(int64(len(events)))
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// RequireClientCert makes the relay refuse (401, empty body) every request that did not
// arrive over TLS with a client certificate chaining to roots, as the drive handler's
// RequireClientCert does (--certs-dir). Call it before serving.
func (r *Relay) RequireClientCert(roots *x509.CertPool) { r.auth.RequireClientCert(roots) }

type errString string

func (e errString) Error() string { return string(e) }

const errBodySum = errString("feedrelay: the body does not match the signed sum")

func (r *Relay) refuse(w httpserver.ResponseWriter, req *httpserver.Request, err error) {
	remote.Refuse(w, req, r.log, "feed relay", err)
}

func httpError(w httpserver.ResponseWriter, status int, msg string) {
	remote.PlainError(w, status, msg)
}
