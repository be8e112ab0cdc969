package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/flashstor/flashstor/fusefs"
	"github.com/flashstor/flashstor/iam/iamapi"
	"github.com/flashstor/flashstor/iam/identity"
	"github.com/flashstor/flashstor/iam/identity/etcdstore"
	"github.com/flashstor/flashstor/iam/sts"
	"github.com/flashstor/flashstor/internal/httpserver"
	"github.com/flashstor/flashstor/internal/metrics"
	"github.com/flashstor/flashstor/internal/metrics/collect"
	"github.com/flashstor/flashstor/objstore/cluster/etcdconfig"
	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/flashstor/flashstor/s3frontend"
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
	// mountDevices lets device nodes in the mount be opened (fusefs.Options.Devices).
	mountDevices bool
	// mountDurability is the mount's durability contract (fusefs.Options.Durability).
	mountDurability fusefs.Durability
	// mountFlushInterval bounds the fsync mode's unsynced window (fusefs.Options.FlushInterval).
	mountFlushInterval time.Duration
	// driveRedoLog gives every local drive a redo log of its small commits
	// (local.Options.RedoLog).
	driveRedoLog bool
	// shutdownGrace bounds how long requests in flight may take to finish at shutdown.
	shutdownGrace time.Duration
	// certsDir holds the TLS certificates; empty: plain HTTP.
	certsDir string
	// auditFile and auditWebhook are where the audit log goes; both empty: no audit log.
	auditFile, auditWebhook string
	// metricsAuth is the bearer token /metrics requires; empty: open.
	metricsAuth string
	// metricsDrivePaths adds each drive's path to its series (by default: set and index).
	metricsDrivePaths bool
	// multipartExpiry is the age at which incomplete multipart uploads are removed (0:
	// never); multipartExpiryInterval the time between two passes of that expiry.
	multipartExpiry, multipartExpiryInterval time.Duration
	// lifecycleInterval is the time between two passes of the lifecycle scanner (0: the
	// buckets' lifecycle rules are not applied); lifecycleDay the length of a lifecycle
	// day (24h; tests shorten it through FLASHSTORE_LIFECYCLE_DAY).
	lifecycleInterval, lifecycleDay time.Duration
	// formatCheckInterval is how often every drive's format record is checked while
	// running, to take out of service a drive unmounted, wiped, swapped or damaged.
	formatCheckInterval time.Duration
	// etcd lists the client URLs of an external etcd for a cluster (comma-separated);
	// empty: the first nodes of the list run it embedded. etcdDir is the embedded member's
	// data directory (default: in the system volume of the node's first drive).
	etcd, etcdDir string
	// etcdLog is the level from which the embedded etcd member's and the etcd client's
	// logs go to stderr (JSON lines); empty: not logged.
	etcdLog string
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
	fs.Func("mount-durability", "when a file written through the mount survives a machine crash: `close` (close returns once it is on disk, the default) or fsync (a local disk's contract: close makes it visible at once, fsync/fdatasync of a file of the mount makes it durable, and everything is synced within 1 s)", func(s string) error {
		d, err := fusefs.ParseDurability(s)
		cfg.mountDurability = d
		return err
	})
	fs.DurationVar(&cfg.mountFlushInterval, "mount-flush-interval", fusefs.DefaultFlushInterval, "with --mount-durability=fsync, sync the drives this often: the most a machine crash can lose of what was closed but not fsync'd")
	fs.BoolVar(&cfg.driveRedoLog, "drive-redo-log", true, "commit small objects durably through a redo log on each local drive (one write and one fdatasync a drive instead of a synced metadata file and a journal commit; redone at start after a crash; up to 64 MiB a drive)")
	fs.BoolVar(&cfg.mountDevices, "mount-devices", false, "let device nodes in the mount be opened (mount option dev; root only): whoever can write a bucket can then plant a node of any device")
	fs.DurationVar(&cfg.shutdownGrace, "shutdown-grace", 30*time.Second, "time requests in flight get to finish at shutdown")
	fs.StringVar(&cfg.certsDir, "certs-dir", "", "serve HTTPS with public.crt and private.key in `DIR` (SNI sub-folders, CAs/); SIGHUP reloads them")
	fs.StringVar(&cfg.auditFile, "audit-file", "", "append one JSON audit record per request to `FILE`; SIGHUP reopens it (rotation)")
	fs.StringVar(&cfg.auditWebhook, "audit-webhook", "", "POST audit records as NDJSON batches to `URL` (bearer token from FLASHSTORE_AUDIT_WEBHOOK_TOKEN)")
	fs.StringVar(&cfg.metricsAuth, "metrics-auth", os.Getenv("FLASHSTORE_METRICS_AUTH"), "bearer `TOKEN` that GET /metrics requires (default $FLASHSTORE_METRICS_AUTH; empty: open)")
	fs.BoolVar(&cfg.metricsDrivePaths, "metrics-drive-paths", false, "label drive metrics with the drives' paths too (by default only set and index: a path tells how the machine is laid out)")
	fs.DurationVar(&cfg.multipartExpiry, "multipart-expiry", 24*time.Hour, "remove incomplete multipart uploads initiated longer ago than this, with their parts (0: never)")
	fs.DurationVar(&cfg.multipartExpiryInterval, "multipart-expiry-interval", time.Hour, "time between two passes of the multipart upload expiry")
	fs.DurationVar(&cfg.lifecycleInterval, "lifecycle-interval", time.Hour, "time between two passes applying the buckets' lifecycle rules (0: not applied)")
	fs.DurationVar(&cfg.formatCheckInterval, "format-check-interval", time.Minute, "how often every drive's format record is checked, to notice a drive unmounted, wiped, swapped or damaged while running")
	fs.StringVar(&cfg.etcd, "etcd", "", "cluster: use the external etcd at `URL,...` instead of the embedded one (the first 1, 3 or 5 nodes of the list run it, on their S3 port + 1 for clients and + 2 for peers; over mutual TLS with --certs-dir); https:// URLs get --certs-dir's certificate")
	fs.StringVar(&cfg.etcdLog, "etcd-log", "", "cluster: write the embedded etcd member's and the etcd client's logs from `LEVEL` (debug, info, warn, error) to stderr, as JSON lines (default: not logged)")
	fs.StringVar(&cfg.etcdDir, "etcd-dir", "", "cluster: the embedded etcd member's data `DIR` (default: .flashstor.sys/etcd on the node's first drive)")
	day := 24 * time.Hour
	if v := os.Getenv("FLASHSTORE_LIFECYCLE_DAY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return cfg, fmt.Errorf("server: FLASHSTORE_LIFECYCLE_DAY=%q is not a positive duration", v)
		}
		day = d
	}
	fs.DurationVar(&cfg.lifecycleDay, "lifecycle-day", day, "length of a lifecycle day, for tests (default $FLASHSTORE_LIFECYCLE_DAY or 24h)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: flashstor server [FLAGS] DRIVE...\n       flashstor server [FLAGS] http://HOST:PORT/DRIVE...   (a cluster: the same list on every node)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if cfg.multipartExpiry < 0 || cfg.multipartExpiryInterval <= 0 {
		return cfg, errors.New("server: --multipart-expiry must be 0 or more, --multipart-expiry-interval more than 0")
	}
	if cfg.formatCheckInterval <= 0 {
		return cfg, errors.New("server: --format-check-interval must be more than 0")
	}
	if cfg.lifecycleInterval < 0 || cfg.lifecycleDay <= 0 {
		return cfg, errors.New("server: --lifecycle-interval must be 0 or more, --lifecycle-day more than 0")
	}
	cfg.drives = fs.Args()
	if len(cfg.drives) == 0 {
		fs.Usage()
		return cfg, errors.New("server: no drives given")
	}
	return cfg, nil
}

// rootCreds are the root user's credentials.
type rootCreds struct {
	user, secret string
	// demo is set when the server chose the pair itself (none was given): only then may the
	// secret be printed, since it is public anyway. A secret from the environment is never
	// printed or logged: the output may be shipped to a log system.
	demo bool
}

// rootCredentials returns the root credentials from the environment, or the demo ones with a
// warning when none are set.
func rootCredentials(log *slog.Logger) (rootCreds, error) {
	user, pass := os.Getenv("FLASHSTORE_ROOT_USER"), os.Getenv("FLASHSTORE_ROOT_PASSWORD")
	switch {
	case user == "" && pass == "":
		log.Warn("FLASHSTORE_ROOT_USER and FLASHSTORE_ROOT_PASSWORD are not set: using the demo credentials; set them for anything but a local trial",
			"user", demoUser)
		return rootCreds{user: demoUser, secret: demoPassword, demo: true}, nil
	case user == "" || pass == "":
		return rootCreds{}, errors.New("set both FLASHSTORE_ROOT_USER and FLASHSTORE_ROOT_PASSWORD, or neither")
	case len(pass) < 8:
		return rootCreds{}, errors.New("FLASHSTORE_ROOT_PASSWORD must be at least 8 characters")
	}
	return rootCreds{user: user, secret: pass}, nil
}

func runServer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseServerFlags(args, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	root, err := rootCredentials(log)
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
	dcfg := deploy.Config{
		Drives: cfg.drives, Parity: cfg.parity, Log: log, OnBitrot: m.BitrotDetected,
		UploadExpiry: uploadExpiry(cfg, m),
	}
	dcfg.DriveOptions.RedoLog = cfg.driveRedoLog
	var dep *deploy.Deployment
	var node *clusterNode
	if isCluster(cfg.drives) {
		if node, err = startCluster(ctx, cfg, root, certs, dcfg, log); err != nil {
			return err
		}
		dep = node.node.Deployment
	} else {
		if dep, err = deploy.Open(ctx, dcfg); err != nil {
			return err
		}
		defer dep.Close()
	}
	alog, err := openAudit(cfg, certs, log)
	if err != nil {
		return err
	}
	if alog != nil {
		defer alog.Close() // after the server stopped: every record of the last requests is written
	}

	// A cluster keeps its identities in etcd, where every node's watch sees a change at
	// once (Reload below); one node keeps them in the object store.
	var idStore identity.Store = identity.NewObjectStore(dep, "iam")
	var etcdIDs *etcdstore.Store
	if node != nil {
		etcdIDs = etcdstore.New(node.node.Client(), "iam")
		idStore = etcdIDs
	}
	ids, err := identity.Open(ctx, identity.Config{
		Store: idStore, RootSecret: root.secret,
		PreviousRootSecret: os.Getenv("FLASHSTORE_PREVIOUS_ROOT_PASSWORD"), Account: accountID(dep.Layout.DeploymentID),
		// Drives below read quorum at start must not keep the server down: root and the
		// data serve what they can, IAM users once their record reads again.
		RetryEvery: 5 * time.Second,
		OnError: func(err error) {
			log.Error("IAM identities unreadable: only the root user is known until they read again", "err", err)
		},
	})
	if errors.Is(err, identity.ErrSealKey) {
		return errors.New("the IAM identities were sealed under another root password: start once with the old one in FLASHSTORE_PREVIOUS_ROOT_PASSWORD to reseal them under the new one")
	}
	if err != nil {
		return err
	}
	issuer := sts.NewIssuer(root.secret)
	handler, err := s3frontend.New(s3frontend.Config{
		Layer: dep, DeploymentID: dep.Layout.DeploymentID,
		Credentials: map[string]string{root.user: root.secret}, Region: cfg.region, Domain: cfg.domain, Log: log,
		Metrics: m, MetricsToken: cfg.metricsAuth, Audit: alog, LifecycleDay: cfg.lifecycleDay,
		Identities: ids, Issuer: issuer, QueryAPI: iamapi.New(ids, issuer, nil),
	})
	if err != nil {
		return err
	}
	scanner, err := s3frontend.NewLifecycleScanner(s3frontend.LifecycleConfig{Layer: dep, Day: cfg.lifecycleDay, Log: log})
	if err != nil {
		return err
	}
	var srv *s3frontend.Server
	if node != nil {
		srv = node.srv // serving the node API already, beside S3 (withNodeAPI's routing)
	} else {
		routed, serveTLS := withNodeAPI(handler, nil, certs)
		srv, err = s3frontend.NewServer(s3frontend.ServerConfig{
			Handler: routed, Transport: cfg.transport, HTTP: httpserver.Config{Logger: log}, TLS: serveTLS,
		})
		if err != nil {
			return err
		}
	}
	if err := registerCollectors(m, cfg, srv, dep, alog); err != nil {
		return err
	}
	if node != nil {
		if err := m.Register(collect.FeedRelay(node.feedStats)); err != nil {
			return err
		}
	}
	var ln net.Listener
	if node == nil {
		if ln, err = net.Listen("tcp", cfg.address); err != nil {
			return fmt.Errorf("listening on %s: %w", cfg.address, err)
		}
	} else {
		// The node listens already: its drives serve the other nodes.
		defer node.shutdown(context.Background())
	}
	closeLn := func() {
		if ln != nil {
			ln.Close()
		}
	}
	if node != nil && cfg.mount != "" {
		// The mount must see the other nodes' changes as it sees this node's.
		stopReceiving, err := node.node.Feed().Receive(ctx)
		if err != nil {
			closeLn()
			return err
		}
		defer stopReceiving()
	}
	unmount, err := mountIfAsked(ctx, cfg, dep, m, log)
	if err != nil {
		closeLn()
		return err
	}
	defer unmount()
	if err := dropPrivileges(cfg, dep, log); err != nil {
		closeLn()
		return err
	}

	hup, stopHangup := notifyHangup()
	defer stopHangup()
	bgCtx, stopBackground := context.WithCancel(context.Background())
	var background sync.WaitGroup
	background.Go(func() {
		dep.RunHealing(bgCtx, deploy.HealingOptions{Report: healReporter(m), FormatCheckInterval: cfg.formatCheckInterval})
	})
	background.Go(func() { dep.RunUploadExpiry(bgCtx) })
	if etcdIDs != nil {
		background.Go(func() {
			etcdIDs.Doc.Watch(bgCtx, func() {
				if err := ids.Reload(bgCtx); err != nil && bgCtx.Err() == nil {
					log.Warn("IAM identities in etcd unreadable: only the root user is known until they read again", "err", err)
				}
			}, etcdconfig.WatchConfig{OnError: func(err error) { log.Warn("IAM identities watch", "err", err) }})
		})
	}
	if cfg.lifecycleInterval > 0 {
		background.Go(func() { scanner.Run(bgCtx, cfg.lifecycleInterval) })
	}
	background.Go(func() { reloadOnHangup(bgCtx, hup, certs, alog, log) })
	defer func() { stopBackground(); background.Wait() }()

	served := make(chan error, 1)
	addr := cfg.address
	if node == nil {
		go func() { served <- srv.Serve(ln) }()
		addr = ln.Addr().String()
	} else {
		node.serveS3(handler)
		served = node.served
	}
	printWelcome(stdout, cfg, addr, root, dep)

	select {
	case err := <-served:
		return fmt.Errorf("serving S3: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing requests in flight", "grace", cfg.shutdownGrace)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownGrace)
	defer cancel()
	if node != nil {
		if err := node.shutdown(sctx); err != nil {
			log.Warn("shutdown did not finish in time; closing", "err", err)
		}
		return nil
	}
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown did not finish in time; closing", "err", err)
		srv.Close()
	}
	return nil
}

// uploadExpiry returns the expiry of incomplete multipart uploads the flags ask for,
// counted in m.
func uploadExpiry(cfg serverConfig, m *metrics.Metrics) deploy.UploadExpiryOptions {
	o := deploy.UploadExpiryOptions{Age: cfg.multipartExpiry, Interval: cfg.multipartExpiryInterval, Report: m.UploadsExpired}
	if o.Age == 0 {
		o.Age = -1 // the flag's 0 is never; the deployment's is its default
	}
	return o
}

// printWelcome tells the user how to reach the server. It shows the secret key only when
// it is the demo one; a secret given in the environment stays out of the output.
func printWelcome(w io.Writer, cfg serverConfig, addr string, root rootCreds, dep *deploy.Deployment) {
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
	secret, secretVar := "(the value of FLASHSTORE_ROOT_PASSWORD)", `"$FLASHSTORE_ROOT_PASSWORD"`
	if root.demo {
		secret, secretVar = root.secret+"  (demo credentials)", root.secret
	}
	fmt.Fprintf(w, "  Access key:   %s\n  Secret key:   %s\n", root.user, secret)
	if cfg.mount != "" {
		fmt.Fprintf(w, "  Mounted at:   %s\n", cfg.mount)
	}
	fmt.Fprintf(w, "  Try:          AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s aws --endpoint-url %s://%s s3 mb s3://demo\n", root.user, secretVar, scheme, addr)
	fmt.Fprintln(w, "  Stop with Ctrl-C (SIGINT) or SIGTERM: requests in flight finish, the mount is unmounted.")
}

// accountID is the deployment's 12-digit account id, the one of every IAM ARN: stable
// across restarts, distinct between deployments.
func accountID(deploymentID string) string {
	sum := sha256.Sum256([]byte("flashstor account " + deploymentID))
	return fmt.Sprintf("%012d", binary.BigEndian.Uint64(sum[:8])%1_000_000_000_000)
}
