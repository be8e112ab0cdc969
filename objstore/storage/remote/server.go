package remote

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"

	"github.com/flashstor/flashstor/internal/httpserver"
	"github.com/flashstor/flashstor/internal/httpwire"
	"github.com/flashstor/flashstor/objstore/storage"
)

// Handler serves a node's local drives to the other nodes. It is an httpserver.Handler,
// served by the epoll transport beside S3 (see Router), or by net/http through
// httpserver.NetHTTP.
type Handler struct {
	drives map[string]storage.Drive
	auth   *verifier
	log    *slog.Logger
	// peers, when set, requires a client certificate that chains to it (RequireClientCert).
	peers *certChecker
}

var _ httpserver.Handler = (*Handler)(nil)

// NewHandler serves drives, keyed by the name clients address them by, to requests signed
// with secret (at least 16 bytes).
func NewHandler(secret []byte, drives map[string]storage.Drive, log *slog.Logger) (*Handler, error) {
	if len(secret) < 16 {
		return nil, errors.New("remote: cluster secret shorter than 16 bytes")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{
		drives: drives,
		auth:   newVerifier(secret),
		log:    log,
	}, nil
}

// RequireClientCert makes the handler refuse (401, empty body) every request that did not
// arrive over TLS with a client certificate for client authentication that chains to
// roots: the nodes' CA (tlsconf.Store.NodeCAs), not the system's roots. The TLS server must
// ask for client certificates (tls.RequestClientCert, as tlsconf.Store.NodeServerConfig
// does): the handler verifies them itself, so that the S3 clients on the same listener
// need none. Call it before serving.
func (h *Handler) RequireClientCert(roots *x509.CertPool) {
	h.peers = newCertChecker(roots)
}

// ServeHTTP1 serves one call (see the package comment for the protocol).
func (h *Handler) ServeHTTP1(w httpserver.ResponseWriter, r *httpserver.Request) {
	if h.peers != nil {
		st, ok := r.TLS()
		if err := h.peers.check(st, ok); err != nil {
			h.refuse(w, r, err)
			return
		}
	}
	nonce, err := h.auth.verify(string(r.Header(authHeader)), r.Method, string(r.Path), string(r.RawQuery))
	if err != nil {
		h.refuse(w, r, err)
		return
	}
	c, err := parseCall(r.Method, string(r.Path))
	if err != nil {
		httpError(w, http.StatusNotFound, err.Error())
		return
	}
	d, ok := h.drives[c.drive]
	if !ok {
		httpError(w, http.StatusNotFound, "no such drive")
		return
	}
	q, err := url.ParseQuery(string(r.RawQuery))
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	ctx := r.Context()
	if v, ok := q[epochArg]; ok {
		if len(v) != 1 {
			httpError(w, http.StatusBadRequest, "epoch given more than once")
			return
		}
		epochs, err := parseEpochs(v[0])
		if err != nil {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
		ctx = storage.WithEpochs(ctx, epochs...)
	}
	body := &signedBody{r: r, mac: bodyMAC(h.auth.secret, nonce)}
	err = serve(ctx, w, r, body, d, c.op, q)
	var unsigned errUnsigned
	switch {
	case err == nil:
		return
	case errors.As(err, &unsigned) || body.bad:
		// The body does not carry the mac of its sender: nothing was written (the drive
		// saw the failure as its reader's and removed what it had started).
		h.refuse(w, r, err)
	case errors.As(err, new(errSent)):
	case errors.As(err, new(badRequest)), errors.As(err, new(*httpwire.Error)):
		httpError(w, http.StatusBadRequest, err.Error())
	default:
		w.Header().Set(errHeader, errCode(err))
		httpError(w, http.StatusConflict, err.Error())
	}
}

// refuse answers a request without valid node credentials: 401 and nothing else.
func (h *Handler) refuse(w httpserver.ResponseWriter, r *httpserver.Request, err error) {
	Refuse(w, r, h.log, "remote drive", err)
}

func httpError(w httpserver.ResponseWriter, status int, msg string) { PlainError(w, status, msg) }

type badRequest struct{ error }

func num(q url.Values, name string, allowMinus bool) (int64, error) {
	n, err := parseInt(q.Get(name), allowMinus)
	if err != nil {
		return 0, badRequest{fmt.Errorf("%s: %w", name, err)}
	}
	return n, nil
}

// small reads a body that is read whole (capped at MaxSmallBody), verified.
func small(b *signedBody) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(b, MaxSmallBody+1))
	switch {
	case b.bad:
		return nil, err
	case err != nil:
		return nil, badRequest{err}
	case len(data) > MaxSmallBody:
		return nil, badRequest{errors.New("body too large")}
	}
	return data, nil
}

func writeJSON(w httpserver.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(v)
}

func writeBytes(w httpserver.ResponseWriter, b []byte) error {
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, err := w.Write(b)
	return err
}

// serve runs one op. Errors after the status line has been sent (a streamed response) cannot
// change the status; the client detects them as a short body.
func serve(ctx context.Context, w httpserver.ResponseWriter, r *httpserver.Request, body *signedBody, d storage.Drive, op string, q url.Values) error {
	vol, path := q.Get("vol"), q.Get("path")
	switch op {
	case "diskinfo":
		info, err := d.DiskInfo(ctx)
		if err != nil {
			return err
		}
		return writeJSON(w, info)
	case "readformat":
		b, err := d.ReadFormat(ctx)
		if err != nil {
			return err
		}
		return writeBytes(w, b)
	case "writeformat":
		b, err := small(body)
		if err != nil {
			return err
		}
		return d.WriteFormat(ctx, b)
	case "makevolume":
		return d.MakeVolume(ctx, vol)
	case "statvolume":
		t, err := d.StatVolume(ctx, vol)
		if err != nil {
			return err
		}
		return writeBytes(w, strconv.AppendInt(nil, t.UnixNano(), 10))
	case "listvolumes":
		v, err := d.ListVolumes(ctx)
		if err != nil {
			return err
		}
		return writeJSON(w, v)
	case "deletevolume":
		return d.DeleteVolume(ctx, vol, q.Get("force") == "1")
	case "createfile":
		return createFile(ctx, body, d, q)
	case "openfile":
		f, err := d.OpenFile(ctx, vol, path)
		if err != nil {
			return err
		}
		size := f.Size()
		f.Close()
		return writeBytes(w, strconv.AppendInt(nil, size, 10))
	case "readat":
		return readAt(ctx, w, d, q)
	case "readfile":
		b, err := d.ReadFile(ctx, vol, path)
		if err != nil {
			return err
		}
		return writeBytes(w, b)
	case "writefile":
		b, err := small(body)
		if err != nil {
			return err
		}
		return d.WriteFile(ctx, vol, path, b)
	case "renamefile":
		return d.RenameFile(ctx, q.Get("svol"), q.Get("spath"), q.Get("dvol"), q.Get("dpath"))
	case "delete":
		return d.Delete(ctx, vol, path, q.Get("recursive") == "1")
	case "listdir":
		v, err := d.ListDir(ctx, vol, path)
		if err != nil {
			return err
		}
		return writeJSON(w, v)
	case "readmeta":
		b, err := d.ReadMeta(ctx, vol, q.Get("key"))
		if err != nil {
			return err
		}
		return writeBytes(w, b)
	case "commit":
		b, err := small(body)
		if err != nil {
			return err
		}
		return d.CommitObject(ctx, vol, q.Get("key"), b, q.Get("svol"), q.Get("spath"))
	case "deleteobject":
		return d.DeleteObject(ctx, vol, q.Get("key"))
	case "renameobject":
		return d.RenameObject(ctx, vol, q.Get("key"), q.Get("dkey"))
	case "walk":
		return serveWalk(ctx, w, d, vol, storage.WalkOptions{
			Prefix:     q.Get("prefix"),
			StartAfter: q.Get("after"),
			Recursive:  q.Get("recursive") == "1",
			WithMeta:   q.Get("meta") == "1",
		})
	}
	return badRequest{fmt.Errorf("unknown op %q", op)}
}

// createFile streams the body to the drive through the drive's own fixed buffer. The
// body's end is where its mac is checked: a body that fails it (or that its sender
// aborted) is an error of the drive's reader, so the drive removes the partial file. A
// drive that returned without reading to the end never saw the mac: its file is removed
// here.
func createFile(ctx context.Context, body *signedBody, d storage.Drive, q url.Values) error {
	size, err := num(q, "size", true)
	if err != nil {
		return err
	}
	vol, path := q.Get("vol"), q.Get("path")
	if err := d.CreateFile(ctx, vol, path, size, body); err != nil {
		return err
	}
	if !body.verified {
		d.Delete(ctx, vol, path, false)
		return errUnsigned{errors.New("the drive stopped reading before the body's mac")}
	}
	return nil
}

// readAt streams up to len bytes from off through the transport's pooled buffer.
func readAt(ctx context.Context, w httpserver.ResponseWriter, d storage.Drive, q url.Values) error {
	off, err := num(q, "off", false)
	if err != nil {
		return err
	}
	n, err := num(q, "len", false)
	if err != nil {
		return err
	}
	f, err := d.OpenFile(ctx, q.Get("vol"), q.Get("path"))
	if err != nil {
		return err
	}
	defer f.Close()
	if off >= f.Size() {
		n = 0
	} else {
		n = min(n, f.Size()-off)
	}
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	w.WriteHeader(http.StatusOK)
	// Data directories are immutable once written, so reading by path per call sees the
	// same bytes an open file would.
	if _, err := w.ReadFrom(io.NewSectionReader(f, off, n)); err != nil {
		return errSent{err}
	}
	return nil
}

// errSent is an error after the response started: nothing more can be said.
type errSent struct{ error }

// walkLine is one line of a walk response.
type walkLine struct {
	Key      string `json:"k,omitempty"`
	IsPrefix bool   `json:"p,omitempty"`
	Meta     []byte `json:"m,omitempty"`
	ErrCode  string `json:"e,omitempty"`
	ErrMsg   string `json:"em,omitempty"`
	End      bool   `json:"end,omitempty"`
}

func serveWalk(ctx context.Context, w httpserver.ResponseWriter, d storage.Drive, vol string, opts storage.WalkOptions) error {
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	err := d.Walk(ctx, vol, opts, func(e storage.Entry) error {
		l := walkLine{Key: e.Key, IsPrefix: e.IsPrefix, Meta: e.Meta}
		if e.MetaErr != nil {
			l.ErrCode, l.ErrMsg = errCode(e.MetaErr), e.MetaErr.Error()
		}
		return enc.Encode(l)
	})
	end := walkLine{End: true}
	if err != nil {
		end.ErrCode, end.ErrMsg = errCode(err), err.Error()
	}
	if err := enc.Encode(end); err != nil {
		return errSent{err}
	}
	return nil
}
