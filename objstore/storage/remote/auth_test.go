package remote_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/local"
	"github.com/flashstor/flashstor/objstore/storage/remote"
)

// rewriter changes each request on its way to the node, as a man in the middle would.
type rewriter func(*http.Request) *http.Request

func (f rewriter) RoundTrip(req *http.Request) (*http.Response, error) {
	return http.DefaultTransport.RoundTrip(f(req))
}

// flipper flips the bits of one byte of a body in transit.
type flipper struct {
	r    io.Reader
	at   int64
	seen int64
}

func (f *flipper) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if i := f.at - f.seen; i >= 0 && i < int64(n) {
		p[i] ^= 0xff
	}
	f.seen += int64(n)
	return n, err
}

// watched is a drive that reports what each CreateFile returned.
type watched struct {
	storage.Drive
	created chan error
}

func (w *watched) CreateFile(ctx context.Context, vol, path string, size int64, r io.Reader) error {
	err := w.Drive.CreateFile(ctx, vol, path, size, r)
	w.created <- err
	return err
}

// startWatched serves one local drive, watched, on the epoll transport.
func startWatched(t *testing.T) (string, *watched) {
	t.Helper()
	d, err := local.Open(t.TempDir(), local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w := &watched{Drive: d, created: make(chan error, 4)}
	h, err := remote.NewHandler(secret, map[string]storage.Drive{"d1": w}, nil)
	if err != nil {
		t.Fatal(err)
	}
	url, _ := startNode(t, h, nodeOpts{})
	return url, w
}

// created waits (bounded) for the drive's CreateFile to return.
func (w *watched) result(t *testing.T) error {
	t.Helper()
	select {
	case err := <-w.created:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("the drive's CreateFile did not return in 10 s")
		return nil
	}
}

func mustBeAbsent(t *testing.T, d storage.Drive, path string) {
	t.Helper()
	if _, err := d.OpenFile(context.Background(), storage.SysVolume, path); !errors.Is(err, storage.ErrFileNotFound) {
		t.Fatalf("%s after a refused body: %v, want ErrFileNotFound", path, err)
	}
}

// A body changed in transit, or sent without its mac, is refused before the drive keeps
// anything: the request gets 401, createfile leaves no file, commit changes nothing.
func TestBodyMacRefused(t *testing.T) {
	const size = 3 << 20
	data := bytes.Repeat([]byte("shard-bytes-"), size/12)
	for _, tt := range []struct {
		name string
		mod  rewriter
	}{
		{"byte flipped", func(req *http.Request) *http.Request {
			if req.Body != nil {
				req.Body = io.NopCloser(&flipper{r: req.Body, at: 7})
			}
			return req
		}},
		{"no mac trailer", func(req *http.Request) *http.Request {
			req.Trailer = http.Header{}
			return req
		}},
		{"mac of another body", func(req *http.Request) *http.Request {
			if req.Body != nil {
				req.Body = io.NopCloser(io.MultiReader(req.Body, strings.NewReader("x")))
			}
			return req
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			url, d := startWatched(t)
			c, err := remote.New(url, "d1", secret, remote.Options{Transport: tt.mod})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			err = c.CreateFile(ctx, storage.SysVolume, "tmp/f", -1, bytes.NewReader(data))
			if !errors.Is(err, storage.ErrDriveOffline) || !strings.Contains(err.Error(), "credentials refused") {
				t.Fatalf("CreateFile with a bad body: %v, want credentials refused", err)
			}
			if derr := d.result(t); derr == nil {
				t.Fatal("the drive's CreateFile succeeded on a bad body")
			}
			mustBeAbsent(t, d, "tmp/f")
			if err := c.MakeVolume(ctx, "bucket"); err != nil { // no body: nothing to refuse
				t.Fatal(err)
			}
			if err := c.CommitObject(ctx, "bucket", "k", []byte(`{"meta":1}`), "", ""); !errors.Is(err, storage.ErrDriveOffline) {
				t.Fatalf("CommitObject with a bad body: %v, want credentials refused", err)
			}
			if _, err := d.ReadMeta(ctx, "bucket", "k"); !errors.Is(err, storage.ErrFileNotFound) {
				t.Fatalf("the refused commit left metadata: %v", err)
			}
		})
	}
}

// cutter fails a body after n bytes below the client's signing reader: the transport
// drops the connection mid-body, as a node that dies mid-write does.
type cutter struct {
	r io.Reader
	n int64
}

func (c *cutter) Read(p []byte) (int, error) {
	if c.n <= 0 {
		return 0, errors.New("cut")
	}
	p = p[:min(int64(len(p)), c.n)]
	n, err := c.r.Read(p)
	c.n -= int64(n)
	return n, err
}

// A body cut short (the connection dropped mid-body) leaves no file on the drive, and the
// writer's own failing reader (the abort trailer) neither.
func TestBodyCutShortLeavesNothing(t *testing.T) {
	url, d := startWatched(t)
	cut := rewriter(func(req *http.Request) *http.Request {
		req.Body = io.NopCloser(&cutter{r: req.Body, n: 1 << 20})
		return req
	})
	c, err := remote.New(url, "d1", secret, remote.Options{Transport: cut})
	if err != nil {
		t.Fatal(err)
	}
	err = c.CreateFile(context.Background(), storage.SysVolume, "tmp/cut", 4<<20, io.LimitReader(&pattern{}, 4<<20))
	if err == nil {
		t.Fatal("CreateFile with its connection cut succeeded")
	}
	if derr := d.result(t); derr == nil {
		t.Fatal("the drive kept a body cut short")
	}
	mustBeAbsent(t, d, "tmp/cut")

	c = client(t, url, "d1", secret)
	err = c.CreateFile(context.Background(), storage.SysVolume, "tmp/abort", 4<<20, io.MultiReader(io.LimitReader(&pattern{}, 1<<20), &cutter{}))
	if err == nil || !strings.Contains(err.Error(), "cut") {
		t.Fatalf("CreateFile with a failing reader: %v, want its reader's error", err)
	}
	if derr := d.result(t); derr == nil || !strings.Contains(derr.Error(), "sender's reader failed") {
		t.Fatalf("the drive's CreateFile on an aborted body: %v", derr)
	}
	mustBeAbsent(t, d, "tmp/abort")
}
