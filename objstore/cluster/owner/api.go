package owner

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/flashstor/flashstor/internal/httpserver"
	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/storage/remote"
)

// APIPrefix is the path prefix of the lock API, version 1.
const APIPrefix = "/flashstor/lock/v1/"

// Limits of the lock API.
const (
	MinLockTTL = time.Second
	MaxLockTTL = 10 * time.Minute
	MaxNames   = 64
	MaxNameLen = 4096
)

const lockErrHeader = "X-Flashstor-Lock-Error"

// Handler returns the node's lock API (see the package doc), served by the epoll
// transport beside S3 and the drive API (httpserver.Route under APIPrefix), or by net/http
// through httpserver.NetHTTP.
func (n *Node) Handler() httpserver.Handler { return httpserver.HandlerFunc(n.serveHTTP1) }

// RequireClientCert makes the lock API refuse every request without a client certificate
// chaining to roots (mutual TLS between nodes, --certs-dir), as the drive API does. Call
// it before serving.
func (n *Node) RequireClientCert(roots *x509.CertPool) { n.auth.RequireClientCert(roots) }

func (n *Node) serveHTTP1(w httpserver.ResponseWriter, r *httpserver.Request) {
	if err := n.auth.VerifyHTTP1(r); err != nil {
		remote.Refuse(w, r, n.cfg.Log, "lock API", err)
		return
	}
	if r.Method != http.MethodPost {
		httpError(w, http.StatusMethodNotAllowed, "lock API calls are POST")
		return
	}
	q, err := url.ParseQuery(string(r.RawQuery))
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	switch string(r.Path) {
	case APIPrefix + "acquire":
		req, err := parseAcquire(q, n.cfg.Sets)
		if err != nil {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
		id, epoch, err := n.grantRemote(r.Context(), req.set, req.writes, req.reads, req.ttl)
		switch {
		case errors.Is(err, ErrNotOwner):
			w.Header().Set(lockErrHeader, "not-owner")
			httpError(w, http.StatusConflict, err.Error())
		case err != nil:
			// The caller gave up waiting: nobody reads this answer.
			httpError(w, http.StatusServiceUnavailable, err.Error())
		default:
			b, _ := json.Marshal(grantReply{ID: id, Epoch: epoch})
			w.Header().Set("Content-Type", "application/json")
			w.Write(b)
		}
	case APIPrefix + "refresh":
		if !n.refresh(q.Get("id")) {
			httpError(w, http.StatusNotFound, "no such grant")
		}
	case APIPrefix + "release":
		n.release(q.Get("id"))
	default:
		httpError(w, http.StatusNotFound, "unknown lock API call")
	}
}

func httpError(w httpserver.ResponseWriter, status int, msg string) {
	remote.PlainError(w, status, msg+"\n")
}

type grantReply struct {
	ID    string `json:"id"`
	Epoch uint64 `json:"epoch,string"`
}

type acquireRequest struct {
	set           int
	ttl           time.Duration
	writes, reads []string
}

// parseAcquire decodes an acquire call's arguments.
func parseAcquire(q url.Values, sets int) (acquireRequest, error) {
	set, err := strconv.Atoi(q.Get("set"))
	if err != nil || set < 0 || set >= sets {
		return acquireRequest{}, fmt.Errorf("bad set %q", q.Get("set"))
	}
	// Compared in milliseconds: a product in nanoseconds could overflow back into range.
	ms, err := strconv.ParseInt(q.Get("ttl"), 10, 64)
	if err != nil || ms < MinLockTTL.Milliseconds() || ms > MaxLockTTL.Milliseconds() {
		return acquireRequest{}, fmt.Errorf("bad ttl %q (ms, %v to %v)", q.Get("ttl"), MinLockTTL, MaxLockTTL)
	}
	req := acquireRequest{set: set, ttl: time.Duration(ms) * time.Millisecond, writes: q["w"], reads: q["r"]}
	all := len(req.writes) + len(req.reads)
	if all == 0 || all > MaxNames {
		return acquireRequest{}, fmt.Errorf("%d names (1 to %d)", all, MaxNames)
	}
	for _, names := range [][]string{req.writes, req.reads} {
		for _, name := range names {
			if name == "" || len(name) > MaxNameLen {
				return acquireRequest{}, fmt.Errorf("bad name of %d bytes", len(name))
			}
		}
	}
	return req, nil
}

// call sends one lock API call to the node at base and returns the body of a 200.
func (n *Node) call(ctx context.Context, base, op string, q url.Values) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+APIPrefix+op+"?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	remote.SignRequest(req, n.cfg.Secret)
	resp, err := n.cfg.HTTP.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, fmt.Errorf("%w: lock %s at %s: %w", ErrNoOwner, op, base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("%w: lock %s at %s: %w", ErrNoOwner, op, base, err)
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		return body, nil
	case resp.StatusCode == http.StatusConflict && resp.Header.Get(lockErrHeader) == "not-owner":
		return nil, fmt.Errorf("%w: %s", ErrNotOwner, bytes.TrimSpace(body))
	case resp.StatusCode == http.StatusNotFound && op == "refresh":
		return nil, errGrantGone
	default:
		return nil, fmt.Errorf("%w: lock %s at %s: %s: %s", objstore.ErrWriteQuorum, op, base, resp.Status, bytes.TrimSpace(body))
	}
}

var errGrantGone = errors.New("owner: the grant is gone")

// acquireRemote asks the owner at base for set's locks.
func (n *Node) acquireRemote(ctx context.Context, base string, set int, writes, reads []string) (grantReply, error) {
	q := url.Values{"set": {strconv.Itoa(set)}, "ttl": {strconv.FormatInt(n.cfg.LockTTL.Milliseconds(), 10)}}
	if len(writes) > 0 {
		q["w"] = writes
	}
	if len(reads) > 0 {
		q["r"] = reads
	}
	body, err := n.call(ctx, base, "acquire", q)
	if err != nil {
		return grantReply{}, err
	}
	var g grantReply
	if err := json.Unmarshal(body, &g); err != nil || g.ID == "" {
		return grantReply{}, fmt.Errorf("%w: lock acquire at %s: bad answer %q", objstore.ErrWriteQuorum, base, body)
	}
	return g, nil
}
