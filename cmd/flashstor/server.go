package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/flashstor/flashstor/internal/metrics"
	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/flashstor/flashstor/s3frontend"
	"github.com/flashstor/flashstor/s3frontend/httpserver"
)

// Demo credentials, used only when FLASHSTORE_ROOT_USER and FLASHSTORE_ROOT_PASSWORD are
// both unset, with a warning: fine for a server on loopback, not for anything else.
const (
	demoUser     = "flashstoradmin"
	demoPassword = "flashstoradmin"
)

// serverConfig is what the server flags set.
type serverConfig struct {
	address   string
	domain    string
	region    string
	transport string
	parity    int
	mount     string
	drives    []string
	// shutdownGrace bounds how long requests in flight may take to finish at shutdown.
	shutdownGrace time.Duration
	// certsDir holds the TLS certificates; empty: plain HTTP.
	certsDir string
	// auditFile and auditWebhook are where the audit log goes; both empty: no audit log.
	auditFile, auditWebhook string
	// metricsAuth is the bearer token /metrics requires; empty: open.
	metricsAuth string
}

func parseServerFlags(args []string, stderr io.Writer) (serverConfig, error) {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg serverConfig
	fs.StringVar(&cfg.address, "address", "127.0.0.1:9000", "S3 endpoint address `HOST:PORT`")
	fs.StringVar(&cfg.domain, "domain", "", "domain for virtual-host style requests (<bucket>.`DOMAIN`)")
	fs.StringVar(&cfg.region, "region", "us-east-1", "region requests are signed for")
	fs.StringVar(&cfg.transport, "transport", s3frontend.TransportEpoll, "HTTP transport: epoll or nethttp")
	fs.IntVar(&cfg.parity, "parity", -1, "parity drives per erasure set for new objects (default: by set size)")
	fs.StringVar(&cfg.mount, "mount", "", "also mount the buckets at `DIR` (FUSE)")
	fs.DurationVar(&cfg.shutdownGrace, "shutdown-grace", 30*time.Second, "time requests in flight get to finish at shutdown")
	fs.StringVar(&cfg.certsDir, "certs-dir", "", "serve HTTPS with public.crt and private.key in `DIR` (SNI sub-folders, CAs/); SIGHUP reloads them")
	fs.StringVar(&cfg.auditFile, "audit-file", "", "append one JSON audit record per request to `FILE`; SIGHUP reopens it (rotation)")
	fs.StringVar(&cfg.auditWebhook, "audit-webhook", "", "POST audit records as NDJSON batches to `URL` (bearer token from FLASHSTORE_AUDIT_WEBHOOK_TOKEN)")
	fs.StringVar(&cfg.metricsAuth, "metrics-auth", os.Getenv("FLASHSTORE_METRICS_AUTH"), "bearer `TOKEN` that GET /metrics requires (default $FLASHSTORE_METRICS_AUTH; empty: open)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: flashstor server [FLAGS] DRIVE...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	cfg.drives = fs.Args()
	if len(cfg.drives) == 0 {
		fs.Usage()
		return cfg, errors.New("server: no drives given")
	}
	return cfg, nil
}

// rootCredentials returns the root credentials from the environment, or the demo ones with a
// warning when none are set.
func rootCredentials(log *slog.Logger) (map[string]string, string, error) {
	user, pass := os.Getenv("FLASHSTORE_ROOT_USER"), os.Getenv("FLASHSTORE_ROOT_PASSWORD")
	switch {
	case user == "" && pass == "":
		log.Warn("FLASHSTORE_ROOT_USER and FLASHSTORE_ROOT_PASSWORD are not set: using the demo credentials; set them for anything but a local trial",
			"user", demoUser)
		return map[string]string{demoUser: demoPassword}, demoUser, nil
	case user == "" || pass == "":
		return nil, "", errors.New("set both FLASHSTORE_ROOT_USER and FLASHSTORE_ROOT_PASSWORD, or neither")
	case len(pass) < 8:
		return nil, "", errors.New("FLASHSTORE_ROOT_PASSWORD must be at least 8 characters")
	}
	return map[string]string{user: pass}, user, nil
}

func runServer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseServerFlags(args, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	creds, user, err := rootCredentials(log)
	if err != nil {
		return err
	}
	// What needs root happens first: certificates, drives, audit file, port, mount. Then
	// the process drops to the run user, if one is set, before serving anything.
	certs, err := loadCerts(cfg)
	if err != nil {
		return err
	}
	m := metrics.New()
	dep, err := deploy.Open(ctx, deploy.Config{Drives: cfg.drives, Parity: cfg.parity, Log: log, OnBitrot: m.BitrotDetected})
	if err != nil {
		return err
	}
	defer dep.Close()
	alog, err := openAudit(cfg, certs, log)
	if err != nil {
		return err
	}
	if alog != nil {
		defer alog.Close() // after the server stopped: every record of the last requests is written
	}

	handler, err := s3frontend.New(s3frontend.Config{
		Layer: dep, Credentials: creds, Region: cfg.region, Domain: cfg.domain, Log: log,
		Metrics: m, MetricsToken: cfg.metricsAuth, Audit: alog,
	})
	if err != nil {
		return err
	}
	srv, err := s3frontend.NewServer(s3frontend.ServerConfig{
		Handler: handler, Transport: cfg.transport, HTTP: httpserver.Config{Logger: log}, TLS: serverTLS(certs),
	})
	if err != nil {
		return err
	}
	if err := registerCollectors(m, srv, dep, alog); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.address)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.address, err)
	}
	unmount, err := mountIfAsked(ctx, cfg, dep, m, log)
	if err != nil {
		ln.Close()
		return err
	}
	defer unmount()
	if err := dropPrivileges(cfg, dep, log); err != nil {
		ln.Close()
		return err
	}

	hup, stopHangup := notifyHangup()
	defer stopHangup()
	bgCtx, stopBackground := context.WithCancel(context.Background())
	var background sync.WaitGroup
	background.Go(func() { dep.RunHealing(bgCtx, deploy.HealingOptions{Report: healReporter(m)}) })
	background.Go(func() { reloadOnHangup(bgCtx, hup, certs, alog, log) })
	defer func() { stopBackground(); background.Wait() }()

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	printWelcome(stdout, cfg, ln.Addr().String(), user, creds[user], dep)

	select {
	case err := <-served:
		return fmt.Errorf("serving S3: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing requests in flight", "grace", cfg.shutdownGrace)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown did not finish in time; closing", "err", err)
		srv.Close()
	}
	return nil
}

// printWelcome tells the user how to reach the server.
func printWelcome(w io.Writer, cfg serverConfig, addr, user, secret string, dep *deploy.Deployment) {
	info := dep.StorageInfo(context.Background())
	fmt.Fprintf(w, "Flashstor %s: %d drives, %d erasure set(s) of %d+%d\n",
		version, len(info.Drives), info.ErasureSets, info.DataShards, info.Parity)
	for _, h := range dep.SetHealth() {
		for _, d := range h.LeftOut {
			fmt.Fprintf(w, "  Left out:     %s (set %d; see the log for why): healing brings it back when it can\n", d, h.Set)
		}
	}
	scheme := "http"
	if cfg.certsDir != "" {
		scheme = "https"
	}
	fmt.Fprintf(w, "  S3 endpoint:  %s://%s  (region %s, transport %s)\n", scheme, addr, cfg.region, cfg.transport)
	metricsNote := ""
	if cfg.metricsAuth != "" {
		metricsNote = "  (Authorization: Bearer TOKEN)"
	}
	fmt.Fprintf(w, "  Metrics:      %s://%s/metrics%s\n", scheme, addr, metricsNote)
	if cfg.auditFile != "" || cfg.auditWebhook != "" {
		fmt.Fprintf(w, "  Audit log:    %s%s\n", cfg.auditFile, cfg.auditWebhook)
	}
	fmt.Fprintf(w, "  Access key:   %s\n  Secret key:   %s\n", user, secret)
	if cfg.mount != "" {
		fmt.Fprintf(w, "  Mounted at:   %s\n", cfg.mount)
	}
	fmt.Fprintf(w, "  Try:          AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s aws --endpoint-url %s://%s s3 mb s3://demo\n", user, secret, scheme, addr)
	fmt.Fprintln(w, "  Stop with Ctrl-C (SIGINT) or SIGTERM: requests in flight finish, the mount is unmounted.")
}
