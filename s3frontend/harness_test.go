package s3frontend_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/flashstor/flashstor/internal/httpserver"
	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/s3frontend"
)

const (
	testAccessKey = "FLASHSTORTESTKEY"
	testSecretKey = "flashstor/test/secret+key"
	testRegion    = "us-east-1"
)

// transports lists the transports every integration test runs on.
var transports = []string{s3frontend.TransportEpoll, s3frontend.TransportNetHTTP}

// env is a running S3 server on a loopback port over a 4-drive object layer in a temporary
// directory.
type env struct {
	t         testing.TB
	transport string
	addr      string // 127.0.0.1:port
	url       string // http://127.0.0.1:port
	layer     *deploy.Deployment
	handler   *s3frontend.Handler
	srv       *s3frontend.Server
}

// envOptions changes how start builds the server.
type envOptions struct {
	domain string
	http   httpserver.Config
	drives int
	// wrapDrive, if set, wraps every drive (fault injection).
	wrapDrive func(storage.Drive) storage.Drive
	// handler, if set, changes the handler's configuration (metrics, audit).
	handler func(*s3frontend.Config)
	// dir, if set, holds the drives (two servers may share them); a temporary directory
	// when empty.
	dir string
	// deploy, if set, changes the deployment's configuration.
	deploy func(*deploy.Config)
}

// start runs a server for the test; it is shut down when the test ends.
func start(t testing.TB, transport string, mods ...func(*envOptions)) *env {
	t.Helper()
	o := envOptions{drives: 4}
	for _, m := range mods {
		m(&o)
	}
	dir := o.dir
	if dir == "" {
		dir = t.TempDir()
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	dc := deploy.Config{
		Drives:    []string{filepath.Join(dir, fmt.Sprintf("d{1...%d}", o.drives))},
		Parity:    -1,
		Log:       log,
		WrapDrive: o.wrapDrive,
	}
	if o.deploy != nil {
		o.deploy(&dc)
	}
	dep, err := deploy.Open(context.Background(), dc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dep.Close)
	hc := s3frontend.Config{
		Layer:        dep,
		DeploymentID: dep.Layout.DeploymentID,
		Credentials:  map[string]string{testAccessKey: testSecretKey},
		Region:       testRegion,
		Domain:       o.domain,
		Log:          log,
	}
	if o.handler != nil {
		o.handler(&hc)
	}
	h, err := s3frontend.New(hc)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := s3frontend.NewServer(s3frontend.ServerConfig{Handler: h, Transport: transport, HTTP: o.http})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, srv, false)
	return &env{t: t, transport: transport, addr: addr, url: "http://" + addr, layer: dep, handler: h, srv: srv}
}

// serve runs srv on a loopback port until the test ends, and returns its address. A
// Shutdown that does not finish in 5 s closes the server, and is an error when strict.
func serve(t testing.TB, srv *s3frontend.Server, strict bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			if strict {
				t.Errorf("Shutdown: %v", err)
			}
			srv.Close()
		}
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// eachTransport runs f as a subtest on a fresh server of every transport.
func eachTransport(t *testing.T, f func(t *testing.T, e *env), mods ...func(*envOptions)) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) { f(t, start(t, tr, mods...)) })
	}
}

// sdk returns an aws-sdk-go-v2 client with its defaults (integrity checksums on).
func (e *env) sdk(mods ...func(*s3.Options)) *s3.Client {
	return s3.New(s3.Options{
		Region:           testRegion,
		BaseEndpoint:     aws.String(e.url),
		UsePathStyle:     true,
		Credentials:      credentials.NewStaticCredentialsProvider(testAccessKey, testSecretKey, ""),
		RetryMaxAttempts: 1,
		// What config.LoadDefaultConfig sets: checksums on every request that supports one,
		// and validation of every response that carries one.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
		HTTPClient:                 &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
	}, mods...)
}

// minio returns a minio-go client.
func (e *env) minio() *minio.Client {
	c, err := minio.New(e.addr, &minio.Options{
		Creds:  miniocreds.NewStaticV4(testAccessKey, testSecretKey, ""),
		Region: testRegion,
		Secure: false,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// tWriter sends log lines to t.Log.
type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
