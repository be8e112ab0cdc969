package remote

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/flashstor/flashstor/internal/httpserver"
	"github.com/flashstor/flashstor/objstore/storage"
)

// Options configure a Client.
type Options struct {
	// CallTimeout bounds each call that is not a stream (everything but createfile and
	// walk) unless its context ends earlier. Default 30 s.
	CallTimeout time.Duration
	// DialTimeout bounds connecting to the node: a node that is down is reported offline
	// after at most this long. Default 2 s.
	DialTimeout time.Duration
	// TLS, when set, is the client's TLS configuration for https nodes: the roots that
	// node certificates chain to and this node's client certificate
	// (tlsconf.Store.NodeClientConfig).
	TLS *tls.Config
	// Transport, when set, replaces the client's own pooled transport (tests); TLS is then
	// ignored.
	Transport http.RoundTripper
}

// Client is a drive on another node. It is safe for concurrent use.
type Client struct {
	base   string // "http://host:port"
	drive  string
	secret []byte
	opts   Options
	hc     *http.Client
}

var _ storage.Drive = (*Client)(nil)

// New returns the drive named drive on the node at base ("http://host:port" or https),
// signing requests with the cluster secret.
func New(base, drive string, secret []byte, opts Options) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("remote: bad node URL %q", base)
	}
	if drive == "" || strings.Contains(drive, "/") {
		return nil, fmt.Errorf("remote: bad drive name %q", drive)
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = 30 * time.Second
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 2 * time.Second
	}
	tr := opts.Transport
	if tr == nil {
		tr = NewTransport(opts)
	}
	return &Client{
		base:   u.Scheme + "://" + u.Host,
		drive:  drive,
		secret: append([]byte(nil), secret...),
		opts:   opts,
		hc:     &http.Client{Transport: tr},
	}, nil
}

// NewTransport returns the pooled transport of clients of the node API with opts's TLS and
// dial timeout (2 s if not set), for one node's drives or, shared, for all the nodes a
// node reaches (drives, locks, the change relay).
func NewTransport(opts Options) *http.Transport {
	dial := opts.DialTimeout
	if dial <= 0 {
		dial = 2 * time.Second
	}
	return &http.Transport{
		DialContext:         (&net.Dialer{Timeout: dial, KeepAlive: 15 * time.Second}).DialContext,
		TLSClientConfig:     opts.TLS,
		TLSHandshakeTimeout: dial,
		MaxIdleConnsPerHost: 64,
		// Shorter than the nodes' keep-alive (httpserver.DefaultIdleTimeout): a request is
		// not sent on a connection their server is closing, where a POST would fail
		// rather than be retried. Go's transport measures the idle time on the wall
		// clock, so a node that was stopped (SIGSTOP) past it dials anew instead of
		// failing its first calls and marking the drives offline.
		IdleConnTimeout:    httpserver.DefaultIdleTimeout / 2,
		DisableCompression: true,
	}
}

func (c *Client) String() string { return c.base + "/" + c.drive }

// do sends one call. For a 200 it returns the response, whose body the caller closes; every
// other answer is turned into an error.
// A body, when there is one, is sent chunked and signed (see body.go).
func (c *Client) do(ctx context.Context, op string, q url.Values, body *sentBody) (*http.Response, error) {
	path := Prefix + url.PathEscape(c.drive) + "/" + op
	if epochs := storage.Epochs(ctx); epochs != nil {
		// In the query, so that the node token's MAC covers it: a stripped epoch would
		// make the call unfenced.
		if q == nil {
			q = url.Values{}
		}
		q.Set(epochArg, formatEpochs(epochs))
	}
	raw := q.Encode()
	var r io.Reader
	if body != nil {
		r = body
	}
	req, err := http.NewRequestWithContext(ctx, ops[op], c.base+path+"?"+raw, r)
	if err != nil {
		return nil, fmt.Errorf("remote %s: %s: %w", c, op, err)
	}
	nonce := SignRequest(req, c.secret)
	if body != nil {
		// The body is read by Do, below: its mac is ready before the first byte goes.
		body.mac = bodyMAC(c.secret, nonce)
		req.Trailer = body.trailer
		req.ContentLength = -1
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.transportErr(ctx, op, err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	switch resp.StatusCode {
	case http.StatusConflict:
		return nil, codeErr(resp.Header.Get(errHeader), string(msg))
	case http.StatusUnauthorized:
		return nil, fmt.Errorf("remote %s: %s: node credentials refused (cluster secret or clock differ): %w", c, op, storage.ErrDriveOffline)
	default:
		return nil, fmt.Errorf("remote %s: %s: %s: %s: %w", c, op, resp.Status, bytes.TrimSpace(msg), storage.ErrFaulty)
	}
}

// transportErr classifies a failed round trip: a deadline is ErrTimeout, a cancel is the
// caller's, anything else means the node cannot be reached.
func (c *Client) transportErr(ctx context.Context, op string, err error) error {
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return fmt.Errorf("remote %s: %s: %w", c, op, ctx.Err())
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("remote %s: %s: %v: %w", c, op, err, storage.ErrTimeout)
	}
	return fmt.Errorf("remote %s: %s: %v: %w", c, op, err, storage.ErrDriveOffline)
}

// bounded applies CallTimeout to a non-streaming call.
func (c *Client) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.opts.CallTimeout)
}

// simple runs a call whose answer is read whole (bounded by MaxSmallBody).
func (c *Client) simple(ctx context.Context, op string, q url.Values, body []byte) ([]byte, error) {
	ctx, cancel := c.bounded(ctx)
	defer cancel()
	var sb *sentBody
	if body != nil {
		sb = newSentBody(bytes.NewReader(body))
	}
	resp, err := c.do(ctx, op, q, sb)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxSmallBody+1))
	if err != nil {
		return nil, c.transportErr(ctx, op, err)
	}
	if len(b) > MaxSmallBody {
		return nil, fmt.Errorf("remote %s: %s: answer too large: %w", c, op, storage.ErrFaulty)
	}
	return b, nil
}

func (c *Client) simpleJSON(ctx context.Context, op string, q url.Values, v any) error {
	b, err := c.simple(ctx, op, q, nil)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("remote %s: %s: %v: %w", c, op, err, storage.ErrFaulty)
	}
	return nil
}

func vals(kv ...string) url.Values {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	return q
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func (c *Client) DiskInfo(ctx context.Context) (storage.DiskInfo, error) {
	var info storage.DiskInfo
	err := c.simpleJSON(ctx, "diskinfo", nil, &info)
	return info, err
}

func (c *Client) ReadFormat(ctx context.Context) ([]byte, error) {
	return c.simple(ctx, "readformat", nil, nil)
}

func (c *Client) WriteFormat(ctx context.Context, format []byte) error {
	_, err := c.simple(ctx, "writeformat", nil, nonNil(format))
	return err
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func (c *Client) MakeVolume(ctx context.Context, volume string) error {
	_, err := c.simple(ctx, "makevolume", vals("vol", volume), nil)
	return err
}

func (c *Client) StatVolume(ctx context.Context, volume string) (time.Time, error) {
	b, err := c.simple(ctx, "statvolume", vals("vol", volume), nil)
	if err != nil {
		return time.Time{}, err
	}
	ns, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("remote %s: statvolume: %v: %w", c, err, storage.ErrFaulty)
	}
	return time.Unix(0, ns), nil
}

func (c *Client) ListVolumes(ctx context.Context) ([]string, error) {
	var v []string
	err := c.simpleJSON(ctx, "listvolumes", nil, &v)
	return v, err
}

func (c *Client) DeleteVolume(ctx context.Context, volume string, force bool) error {
	_, err := c.simple(ctx, "deletevolume", vals("vol", volume, "force", flag(force)), nil)
	return err
}

func (c *Client) CreateFile(ctx context.Context, volume, path string, size int64, r io.Reader) error {
	ar := newSentBody(r)
	resp, err := c.do(ctx, "createfile", vals("vol", volume, "path", path, "size", strconv.FormatInt(size, 10)), ar)
	if ar.err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		return fmt.Errorf("remote %s: createfile %s/%s: %w", c, volume, path, ar.err)
	}
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

func (c *Client) OpenFile(ctx context.Context, volume, path string) (storage.File, error) {
	b, err := c.simple(ctx, "openfile", vals("vol", volume, "path", path), nil)
	if err != nil {
		return nil, err
	}
	size, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || size < 0 {
		return nil, fmt.Errorf("remote %s: openfile: bad size %q: %w", c, b, storage.ErrFaulty)
	}
	return &file{c: c, vol: volume, path: path, size: size}, nil
}

// file is an open remote file. It holds no connection: each ReadAt is one readat call (the
// data it reads is immutable once written, see the handler).
type file struct {
	c         *Client
	vol, path string
	size      int64
}

func (f *file) Size() int64  { return f.size }
func (f *file) Close() error { return nil }

func (f *file) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("remote: ReadAt at negative offset %d", off)
	}
	if len(p) == 0 {
		return 0, nil
	}
	ctx, cancel := f.c.bounded(context.Background())
	defer cancel()
	resp, err := f.c.do(ctx, "readat", vals("vol", f.vol, "path", f.path, "off", strconv.FormatInt(off, 10), "len", strconv.Itoa(len(p))), nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.ReadFull(resp.Body, p)
	switch {
	case err == nil:
		return n, nil
	case (err == io.ErrUnexpectedEOF || err == io.EOF) && resp.ContentLength == int64(n):
		return n, io.EOF // the file ends before p is full
	}
	return n, f.c.transportErr(ctx, "readat", err)
}

func (c *Client) ReadFile(ctx context.Context, volume, path string) ([]byte, error) {
	return c.simple(ctx, "readfile", vals("vol", volume, "path", path), nil)
}

func (c *Client) WriteFile(ctx context.Context, volume, path string, data []byte) error {
	_, err := c.simple(ctx, "writefile", vals("vol", volume, "path", path), nonNil(data))
	return err
}

func (c *Client) RenameFile(ctx context.Context, srcVolume, srcPath, dstVolume, dstPath string) error {
	_, err := c.simple(ctx, "renamefile", vals("svol", srcVolume, "spath", srcPath, "dvol", dstVolume, "dpath", dstPath), nil)
	return err
}

func (c *Client) Delete(ctx context.Context, volume, path string, recursive bool) error {
	_, err := c.simple(ctx, "delete", vals("vol", volume, "path", path, "recursive", flag(recursive)), nil)
	return err
}

func (c *Client) ListDir(ctx context.Context, volume, dir string) ([]string, error) {
	var v []string
	err := c.simpleJSON(ctx, "listdir", vals("vol", volume, "path", dir), &v)
	return v, err
}

func (c *Client) ReadMeta(ctx context.Context, bucket, key string) ([]byte, error) {
	return c.simple(ctx, "readmeta", vals("vol", bucket, "key", key), nil)
}

func (c *Client) CommitObject(ctx context.Context, bucket, key string, meta []byte, srcVolume, srcDir string) error {
	_, err := c.simple(ctx, "commit", vals("vol", bucket, "key", key, "svol", srcVolume, "spath", srcDir), nonNil(meta))
	return err
}

func (c *Client) DeleteObject(ctx context.Context, bucket, key string) error {
	_, err := c.simple(ctx, "deleteobject", vals("vol", bucket, "key", key), nil)
	return err
}

func (c *Client) RenameObject(ctx context.Context, bucket, srcKey, dstKey string) error {
	_, err := c.simple(ctx, "renameobject", vals("vol", bucket, "key", srcKey, "dkey", dstKey), nil)
	return err
}

func (c *Client) Walk(ctx context.Context, bucket string, opts storage.WalkOptions, fn func(storage.Entry) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the server's walk when fn stops early
	resp, err := c.do(ctx, "walk", vals("vol", bucket, "prefix", opts.Prefix, "after", opts.StartAfter,
		"recursive", flag(opts.Recursive), "meta", flag(opts.WithMeta)), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(bufio.NewReader(resp.Body))
	for {
		var l walkLine
		if err := dec.Decode(&l); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return c.transportErr(ctx, "walk", fmt.Errorf("walk answer cut: %w", err))
		}
		if l.End {
			if l.ErrCode != "" {
				return codeErr(l.ErrCode, l.ErrMsg)
			}
			return nil
		}
		e := storage.Entry{Key: l.Key, IsPrefix: l.IsPrefix, Meta: l.Meta}
		if l.ErrCode != "" {
			e.MetaErr = codeErr(l.ErrCode, l.ErrMsg)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
}
