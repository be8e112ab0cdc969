package remote

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"

	"github.com/flashstor/flashstor/objstore/storage"
)

// Handler serves a node's local drives to the other nodes.
type Handler struct {
	drives map[string]storage.Drive
	auth   *verifier
	log    *slog.Logger
}

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

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h.auth.verify(r.Header.Get(authHeader), r.Method, r.URL.EscapedPath(), r.URL.RawQuery); err != nil {
		h.log.Warn("remote drive: request refused", "remote", r.RemoteAddr, "err", err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	c, err := parseCall(r.Method, r.URL.Path)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	d, ok := h.drives[c.drive]
	if !ok {
		http.Error(w, "no such drive", http.StatusNotFound)
		return
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if h, ok := q[epochArg]; ok {
		if len(h) != 1 {
			http.Error(w, "epoch given more than once", http.StatusBadRequest)
			return
		}
		epochs, err := parseEpochs(h[0])
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r = r.WithContext(storage.WithEpochs(r.Context(), epochs...))
	}
	if err := serve(w, r, d, c.op, q); err != nil {
		var sent errSent
		if errors.As(err, &sent) {
			return
		}
		var bad badRequest
		if errors.As(err, &bad) {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set(errHeader, errCode(err))
		w.WriteHeader(http.StatusConflict)
		io.WriteString(w, err.Error())
	}
}

type badRequest struct{ error }

func num(q url.Values, name string, allowMinus bool) (int64, error) {
	n, err := parseInt(q.Get(name), allowMinus)
	if err != nil {
		return 0, badRequest{fmt.Errorf("%s: %w", name, err)}
	}
	return n, nil
}

func small(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxSmallBody+1))
	if err != nil {
		return nil, badRequest{err}
	}
	if len(b) > MaxSmallBody {
		return nil, badRequest{errors.New("body too large")}
	}
	return b, nil
}

func writeJSON(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(v)
}

func writeBytes(w http.ResponseWriter, b []byte) error {
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, err := w.Write(b)
	return err
}

// serve runs one op. Errors after the status line has been sent (a streamed response) cannot
// change the status; the client detects them as a short body.
func serve(w http.ResponseWriter, r *http.Request, d storage.Drive, op string, q url.Values) error {
	ctx := r.Context()
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
		b, err := small(r)
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
		size, err := num(q, "size", true)
		if err != nil {
			return err
		}
		return d.CreateFile(ctx, vol, path, size, &abortableBody{r: r})
	case "openfile":
		f, err := d.OpenFile(ctx, vol, path)
		if err != nil {
			return err
		}
		size := f.Size()
		f.Close()
		return writeBytes(w, strconv.AppendInt(nil, size, 10))
	case "readat":
		off, err := num(q, "off", false)
		if err != nil {
			return err
		}
		n, err := num(q, "len", false)
		if err != nil {
			return err
		}
		f, err := d.OpenFile(ctx, vol, path)
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
		// Data directories are immutable once written, so reading by path per call sees
		// the same bytes an open file would.
		_, err = io.Copy(w, io.NewSectionReader(f, off, n))
		if err != nil {
			return errSent{err}
		}
		return nil
	case "readfile":
		b, err := d.ReadFile(ctx, vol, path)
		if err != nil {
			return err
		}
		return writeBytes(w, b)
	case "writefile":
		b, err := small(r)
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
		b, err := small(r)
		if err != nil {
			return err
		}
		return d.CommitObject(ctx, vol, q.Get("key"), b, q.Get("svol"), q.Get("spath"))
	case "deleteobject":
		return d.DeleteObject(ctx, vol, q.Get("key"))
	case "renameobject":
		return d.RenameObject(ctx, vol, q.Get("key"), q.Get("dkey"))
	case "walk":
		return serveWalk(w, r, d, vol, storage.WalkOptions{
			Prefix:     q.Get("prefix"),
			StartAfter: q.Get("after"),
			Recursive:  q.Get("recursive") == "1",
			WithMeta:   q.Get("meta") == "1",
		})
	}
	return badRequest{fmt.Errorf("unknown op %q", op)}
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

func serveWalk(w http.ResponseWriter, r *http.Request, d storage.Drive, vol string, opts storage.WalkOptions) error {
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	err := d.Walk(r.Context(), vol, opts, func(e storage.Entry) error {
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

// abortableBody is a createfile body: the end of the stream is an error when the client
// announced, in its trailer, that its own reader failed.
type abortableBody struct {
	r *http.Request
}

func (b *abortableBody) Read(p []byte) (int, error) {
	n, err := b.r.Body.Read(p)
	if err == io.EOF {
		if msg := b.r.Trailer.Get(abortHeader); msg != "" {
			return n, fmt.Errorf("remote: the sender's reader failed: %s", msg)
		}
	}
	return n, err
}
