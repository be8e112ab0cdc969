package remote_test

import (
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/flashstor/flashstor/internal/httpserver"
	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/local"
	"github.com/flashstor/flashstor/objstore/storage/remote"
)

// The transports a node can serve its handler on.
const (
	epoll   = "epoll"
	nethttp = "nethttp"
)

// nodeOpts say how startNode serves a handler.
type nodeOpts struct {
	transport string      // epoll (default) or nethttp
	tls       *tls.Config // serve HTTPS
	addr      string      // listen here (a restart on the same port); default a new port
}

// startNode serves h on loopback and returns its URL ("http://127.0.0.1:port" or https)
// and a function that stops it, closing every connection (also run when the test ends).
func startNode(t testing.TB, h httpserver.Handler, o nodeOpts) (string, func()) {
	t.Helper()
	if o.addr == "" {
		o.addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		t.Fatal(err)
	}
	scheme := "http"
	var stop func()
	switch o.transport {
	case "", epoll:
		srv, err := httpserver.New(httpserver.Config{Handler: h, TLS: o.tls})
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ln) }()
		stop = func() {
			srv.Close()
			if err := <-served; !errors.Is(err, httpserver.ErrServerClosed) {
				t.Errorf("Serve: %v", err)
			}
		}
	case nethttp:
		srv := &http.Server{Handler: httpserver.NetHTTP(h), TLSConfig: o.tls, ReadHeaderTimeout: 10 * time.Second}
		served := make(chan error, 1)
		if o.tls != nil {
			go func() { served <- srv.ServeTLS(ln, "", "") }()
		} else {
			go func() { served <- srv.Serve(ln) }()
		}
		stop = func() {
			srv.Close()
			<-served
		}
	default:
		t.Fatalf("unknown transport %q", o.transport)
	}
	if o.tls != nil {
		scheme = "https"
	}
	stopped := false
	once := func() {
		if !stopped {
			stopped = true
			stop()
		}
	}
	t.Cleanup(once)
	return scheme + "://" + ln.Addr().String(), once
}

// newDriveHandler returns a handler for one new local drive named d1, and the drive.
func newDriveHandler(t testing.TB) (*remote.Handler, storage.Drive) {
	t.Helper()
	d, err := local.Open(t.TempDir(), local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := remote.NewHandler(secret, map[string]storage.Drive{"d1": d}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return h, d
}

// TestTransportIdleShorterThanServer: the node API's clients drop an idle connection
// before the server's keep-alive ends, so that they never send a call (a POST, which Go
// does not retry) on a connection the server is closing; after a pause of the client's
// process past it, they dial anew (the fault suite's held-commit tests pause a node ~60 s).
func TestTransportIdleShorterThanServer(t *testing.T) {
	if got := remote.NewTransport(remote.Options{}).IdleConnTimeout; got <= 0 || got >= httpserver.DefaultIdleTimeout {
		t.Fatalf("client idle timeout %v, server keep-alive %v: want 0 < client < server", got, httpserver.DefaultIdleTimeout)
	}
}
