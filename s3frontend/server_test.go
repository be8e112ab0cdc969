package s3frontend_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/flashstor/flashstor/s3frontend"
)

func TestServerListenAndServe(t *testing.T) {
	e := start(t, s3frontend.TransportEpoll) // for its handler
	for _, tr := range transports {
		srv, err := s3frontend.NewServer(s3frontend.ServerConfig{Handler: e.handler, Transport: tr})
		if err != nil {
			t.Fatal(err)
		}
		if srv.Transport() != tr || srv.Addr() != nil {
			t.Fatalf("%s: transport %q, addr %v before Serve", tr, srv.Transport(), srv.Addr())
		}
		done := make(chan error, 1)
		go func() { done <- srv.ListenAndServe("127.0.0.1:0") }()
		for i := 0; i < 200 && srv.Addr() == nil; i++ {
			time.Sleep(10 * time.Millisecond)
		}
		if srv.Addr() == nil {
			t.Fatalf("%s: no address after 2 s", tr)
		}
		resp, err := http.Get("http://" + srv.Addr().String() + "/flashstor/health/ready")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: ready %d", tr, resp.StatusCode)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("%s: Shutdown: %v", tr, err)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s: ListenAndServe returned %v after Shutdown", tr, err)
		}
	}
	if _, err := s3frontend.NewServer(s3frontend.ServerConfig{Handler: e.handler, Transport: "carrier-pigeon"}); err == nil {
		t.Error("unknown transport accepted")
	}
	if _, err := s3frontend.New(s3frontend.Config{Credentials: map[string]string{"a": "b"}}); err == nil {
		t.Error("New without a layer accepted")
	}
	if _, err := s3frontend.New(s3frontend.Config{Layer: e.layer}); err == nil {
		t.Error("New without credentials accepted")
	}
}
