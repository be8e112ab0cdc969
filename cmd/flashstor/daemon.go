package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/flashstor/flashstor/internal/audit"
	"github.com/flashstor/flashstor/internal/metrics"
	"github.com/flashstor/flashstor/internal/metrics/collect"
	"github.com/flashstor/flashstor/internal/privsep"
	"github.com/flashstor/flashstor/internal/tlsconf"
	"github.com/flashstor/flashstor/objstore/deploy"
	"github.com/flashstor/flashstor/objstore/erasureset"
	"github.com/flashstor/flashstor/objstore/format"
	"github.com/flashstor/flashstor/objstore/pool"
	"github.com/flashstor/flashstor/objstore/storage"
	"github.com/flashstor/flashstor/objstore/storage/local"
	"github.com/flashstor/flashstor/s3frontend"
	"github.com/prometheus/client_golang/prometheus"
)

// loadCerts reads --certs-dir, or returns nil without one. A missing, malformed or
// mismatched pair fails start-up.
func loadCerts(cfg serverConfig) (*tlsconf.Store, error) {
	if cfg.certsDir == "" {
		return nil, nil
	}
	store, err := tlsconf.Load(cfg.certsDir)
	if err != nil {
		return nil, fmt.Errorf("--certs-dir: %w", err)
	}
	return store, nil
}

// serverTLS is the TLS configuration of the S3 endpoint, nil without certificates.
func serverTLS(certs *tlsconf.Store) *tls.Config {
	if certs == nil {
		return nil
	}
	return certs.ServerConfig()
}

// openAudit starts the audit log asked for by --audit-file or --audit-webhook, or returns
// nil when neither is given. The webhook trusts the roots of --certs-dir's CAs/ besides the
// system's.
func openAudit(cfg serverConfig, certs *tlsconf.Store, log *slog.Logger) (*audit.Log, error) {
	var sink audit.Sink
	switch {
	case cfg.auditFile != "" && cfg.auditWebhook != "":
		return nil, fmt.Errorf("give --audit-file or --audit-webhook, not both")
	case cfg.auditFile != "":
		f, err := audit.OpenFile(cfg.auditFile)
		if err != nil {
			return nil, fmt.Errorf("--audit-file: %w", err)
		}
		sink = f
	case cfg.auditWebhook != "":
		client := &http.Client{Timeout: 10 * time.Second}
		if certs != nil {
			client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: certs.RootCAs(), MinVersion: tls.VersionTLS12}}
		}
		w, err := audit.NewWebhook(audit.WebhookConfig{
			URL: cfg.auditWebhook, Client: client, AuthToken: os.Getenv("FLASHSTORE_AUDIT_WEBHOOK_TOKEN"),
		})
		if err != nil {
			return nil, fmt.Errorf("--audit-webhook: %w", err)
		}
		sink = w
	default:
		return nil, nil
	}
	l, err := audit.New(audit.Config{Sink: sink, Log: log})
	if err != nil {
		sink.Close()
		return nil, fmt.Errorf("audit log: %w", err)
	}
	return l, nil
}

// registerCollectors adds the statistics kept by the transport, the drives and the audit
// log to the server's metrics. Drives are labelled by position, and by path too with
// --metrics-drive-paths.
func registerCollectors(m *metrics.Metrics, cfg serverConfig, srv *s3frontend.Server, dep *deploy.Deployment, alog *audit.Log) error {
	if srv.Stats() != nil { // the epoll transport keeps these; net/http does not
		if err := m.Register(collect.HTTPServer(srv)); err != nil {
			return err
		}
		if err := m.Register(collect.Arena(srv.ArenaPool())); err != nil {
			return err
		}
	}
	// Every position of every set: a left-out drive's slot stands there, not the drive.
	drives := func() []collect.PlacedDrive {
		var out []collect.PlacedDrive
		for s, set := range dep.Sets() {
			for i, d := range set.Drives() {
				if cd, ok := d.(collect.Drive); ok {
					out = append(out, collect.PlacedDrive{Drive: cd, Set: s, Index: i})
				}
			}
		}
		return out
	}
	if err := m.Register(collect.Drives(drives, cfg.metricsDrivePaths)); err != nil {
		return err
	}
	sets := func() []collect.Set {
		hs := dep.SetHealth()
		out := make([]collect.Set, len(hs))
		for i, h := range hs {
			out[i] = collect.Set{Index: h.Set, Drives: h.Drives, Usable: h.Usable, ReadQuorum: h.ReadQuorum, WriteQuorum: h.WriteQuorum}
		}
		return out
	}
	if err := m.Register(collect.Sets(sets)); err != nil {
		return err
	}
	if err := registerWriteBehind(m, dep); err != nil {
		return err
	}
	if alog != nil {
		return m.Register(collect.Audit(alog))
	}
	return nil
}

// registerWriteBehind exports the counters of the mount's write-behind (fsync mode): puts
// taken, committed, failed, dropped and superseded in the background, and what is pending
// now.
func registerWriteBehind(m *metrics.Metrics, dep *deploy.Deployment) error {
	const sub = "writebehind"
	for _, c := range []struct {
		result string
		get    func(pool.WriteBehindStats) int64
	}{
		{"taken", func(s pool.WriteBehindStats) int64 { return s.Taken }},
		{"committed", func(s pool.WriteBehindStats) int64 { return s.Committed }},
		{"failed", func(s pool.WriteBehindStats) int64 { return s.Failed }},
		{"dropped", func(s pool.WriteBehindStats) int64 { return s.Dropped }},
		{"superseded", func(s pool.WriteBehindStats) int64 { return s.Superseded }},
	} {
		f := prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: sub, Name: "puts_total",
			Help: "Small files and directory markers the mount handed to the write-behind (taken), and their background commits that succeeded or failed; " +
				"dropped: a mkdir's marker that another writer made first; superseded: replaced by a later put of the key before its commit.",
			ConstLabels: prometheus.Labels{"result": c.result}},
			func() float64 { return float64(c.get(dep.WriteBehindStats())) })
		if err := m.Register(f); err != nil {
			return err
		}
	}
	for _, g := range []struct {
		name, help string
		get        func(pool.WriteBehindStats) int64
	}{
		{"pending", "Puts of the write-behind not yet committed.", func(s pool.WriteBehindStats) int64 { return int64(s.Pending) }},
		{"pending_bytes", "Memory of the write-behind's pending puts.", func(s pool.WriteBehindStats) int64 { return s.Bytes }},
	} {
		f := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: metrics.Namespace, Subsystem: sub, Name: g.name, Help: g.help},
			func() float64 { return float64(g.get(dep.WriteBehindStats())) })
		if err := m.Register(f); err != nil {
			return err
		}
	}
	return nil
}

// healReporter counts the heals of the background healer in m.
func healReporter(m *metrics.Metrics) func(erasureset.HealResult, error) {
	return func(r erasureset.HealResult, err error) {
		switch {
		case err != nil:
			m.Healed(false)
		case r.Dangling:
			m.DanglingRemoved()
		case len(r.Healed) > 0:
			m.Healed(true)
		}
	}
}

// dropPrivileges switches to FLASHSTORE_RUN_USER / FLASHSTORE_RUN_GROUP when they are set,
// once everything that needs root is done. What start-up created as root under the drives'
// system folders and the audit file become the run user's first; every drive must then be
// writable by it, except a drive left out because it could not be read (missing, not a
// directory, unreadable): the deployment starts without it, and healing brings it back
// once the operator has made it usable, by the run user too.
func dropPrivileges(cfg serverConfig, dep *deploy.Deployment, log *slog.Logger) error {
	drives, err := format.Expand(cfg.drives)
	if err != nil {
		return err
	}
	unreadable := make(map[string]bool)
	for _, o := range dep.LeftOut() {
		unreadable[o.Drive] = o.Reason == format.ReasonReadFailed
	}
	pc := privsep.FromEnv()
	for _, d := range drives {
		if abs, err := filepath.Abs(d); err == nil && unreadable[abs] {
			if pc.User != "" {
				log.Warn("left-out drive not checked for the run user: it must be made writable by it to come back", "drive", abs, "user", pc.User)
			}
			continue
		}
		sys := filepath.Join(d, storage.SysVolume)
		pc.Dirs = append(pc.Dirs, d, sys)
		pc.Adopt = append(pc.Adopt, sys)
		// Adopting skips a tree root does not own: on a restart the system folder is the
		// run user's, but the folders the drive recreated at this start are root's.
		for _, sub := range local.RecreatedDirs() {
			pc.Adopt = append(pc.Adopt, filepath.Join(sys, sub))
		}
	}
	if cfg.auditFile != "" {
		pc.Adopt = append(pc.Adopt, cfg.auditFile)
	}
	res, err := privsep.Drop(pc)
	if err != nil {
		return fmt.Errorf("dropping privileges: %w", err)
	}
	if res.Dropped {
		log.Info("dropped privileges", "uid", res.UID, "gid", res.GID, "threads", res.Threads)
	}
	return nil
}

// notifyHangup starts catching SIGHUP (which would otherwise end the process).
func notifyHangup() (<-chan os.Signal, func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	return hup, func() { signal.Stop(hup) }
}

// reloadOnHangup reloads the certificates and reopens the audit file on every signal from
// hup until ctx ends. Connections already established keep their certificates.
func reloadOnHangup(ctx context.Context, hup <-chan os.Signal, certs *tlsconf.Store, alog *audit.Log, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		if certs != nil {
			if err := certs.Reload(); err != nil {
				log.Error("SIGHUP: certificates not reloaded; the old ones stay in use", "err", err)
			} else {
				log.Info("SIGHUP: certificates reloaded")
			}
		}
		if alog != nil {
			if err := alog.Reopen(); err != nil {
				log.Error("SIGHUP: audit file not reopened; the old one stays in use", "err", err)
			} else {
				log.Info("SIGHUP: audit file reopened")
			}
		}
	}
}
