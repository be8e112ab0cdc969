package remote_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flashstor/flashstor/internal/testport"
	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/health"
	"github.com/flashstor/flashstor/objstore/storage/remote"
	"github.com/flashstor/flashstor/objstore/storage/storagetest"
)

var secret = []byte("0123456789abcdef-cluster-secret")

// serve starts a handler for one new local drive on loopback, on the epoll transport, and
// returns its URL.
func serve(t testing.TB) string { return serveOn(t, epoll) }

// serveOn is serve on the given transport.
func serveOn(t testing.TB, transport string) string {
	t.Helper()
	h, _ := newDriveHandler(t)
	url, _ := startNode(t, h, nodeOpts{transport: transport})
	return url
}

func client(t testing.TB, url, drive string, key []byte) *remote.Client {
	t.Helper()
	c, err := remote.New(url, drive, key, remote.Options{CallTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The handler on the epoll transport, as nodes serve it.
func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Drive {
		return client(t, serve(t), "d1", secret)
	})
}

// The same handler behind net/http (--transport nethttp).
func TestConformanceNetHTTP(t *testing.T) {
	if testing.Short() {
		t.Skip("the epoll run covers the handler; this adds the net/http adapter")
	}
	storagetest.Run(t, func(t *testing.T) storage.Drive {
		return client(t, serveOn(t, nethttp), "d1", secret)
	})
}

// Through the health wrapper, as the object core will use it.
func TestConformanceWithHealth(t *testing.T) {
	if testing.Short() {
		t.Skip("the plain conformance run covers the wire; this adds the wrapper")
	}
	storagetest.Run(t, func(t *testing.T) storage.Drive {
		h := health.Wrap(client(t, serve(t), "d1", secret), health.Options{})
		t.Cleanup(func() { h.Close() })
		return h
	})
}

func TestWrongSecretGetsNothing(t *testing.T) {
	url := serve(t)
	c := client(t, url, "d1", []byte("another-cluster-secret-0123"))
	_, err := c.ReadFormat(context.Background())
	if !errors.Is(err, storage.ErrDriveOffline) || !strings.Contains(err.Error(), "credentials refused") {
		t.Fatalf("ReadFormat with the wrong secret: %v", err)
	}
	// A request with no token, and one with a malformed token, get 401 and an empty body.
	for _, tok := range []string{"", "v1:1:2:3", "v1:" + strings.Repeat("9", 13) + ":" + strings.Repeat("a", 32) + ":" + strings.Repeat("b", 64)} {
		req, _ := http.NewRequest("GET", url+remote.Prefix+"d1/readformat", nil)
		if tok != "" {
			req.Header.Set("X-Flashstor-Node", tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || len(body) != 0 {
			t.Fatalf("token %q: %s %q, want 401 and no body", tok, resp.Status, body)
		}
	}
}

// recorder keeps the last request's token so the test can replay it.
type recorder struct {
	rt   http.RoundTripper
	last *http.Request
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.last = req
	return r.rt.RoundTrip(req)
}

func TestReplayRefused(t *testing.T) {
	url := serve(t)
	rec := &recorder{rt: http.DefaultTransport}
	c, err := remote.New(url, "d1", secret, remote.Options{Transport: rec})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.MakeVolume(context.Background(), "bucket"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteVolume(context.Background(), "bucket", false); err != nil {
		t.Fatal(err)
	}
	// Replaying the signed DeleteVolume request byte for byte must not reach the drive.
	req, _ := http.NewRequest(rec.last.Method, rec.last.URL.String(), nil)
	req.Header = rec.last.Header.Clone()
	if err := c.MakeVolume(context.Background(), "bucket"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("replayed request: %s, want 401", resp.Status)
	}
	if _, err := c.StatVolume(context.Background(), "bucket"); err != nil {
		t.Fatalf("the replay deleted the volume: %v", err)
	}
	// A token for another path does not authorise this one.
	req2, _ := http.NewRequest("POST", url+remote.Prefix+"d1/deletevolume?force=1&vol=bucket", nil)
	req2.Header = rec.last.Header.Clone()
	resp, err = http.DefaultTransport.RoundTrip(req2)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("token moved to another request: %s, want 401", resp.Status)
	}
}

func TestNodeDownIsOffline(t *testing.T) {
	// Nothing listens there: connection refused. Below the ephemeral range (testport), so
	// that no connection's source port takes it meanwhile.
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(testport.Pick(t, []string{"127.0.0.1"}, []int{0})))
	c := client(t, "http://"+addr, "d1", secret)
	if _, err := c.DiskInfo(context.Background()); !errors.Is(err, storage.ErrDriveOffline) || !storage.IsDriveFault(err) {
		t.Fatalf("DiskInfo of a node that is down: %v, want ErrDriveOffline", err)
	}
}

func TestDeadlineIsTimeout(t *testing.T) {
	// A node that accepts and never answers.
	stall := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stall:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(stall) })
	c, err := remote.New(srv.URL, "d1", secret, remote.Options{CallTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReadFormat(context.Background()); !errors.Is(err, storage.ErrTimeout) {
		t.Fatalf("ReadFormat of a stalled node: %v, want ErrTimeout", err)
	}
}

func TestUnknownDriveAndOp(t *testing.T) {
	url := serve(t)
	if _, err := client(t, url, "d9", secret).ReadFormat(context.Background()); !errors.Is(err, storage.ErrFaulty) || !strings.Contains(err.Error(), "404") {
		t.Fatalf("unknown drive: %v", err)
	}
}
