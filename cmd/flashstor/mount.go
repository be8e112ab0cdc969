package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/flashstor/flashstor/fusefs"
	"github.com/flashstor/flashstor/internal/metrics"
	"github.com/flashstor/flashstor/objstore/deploy"
)

// mountIfAsked mounts the buckets at cfg.mount when given, after detaching a dead mount a
// crash may have left there. The returned function unmounts; it is called at shutdown.
func mountIfAsked(ctx context.Context, cfg serverConfig, dep *deploy.Deployment, m *metrics.Metrics, log *slog.Logger) (func(), error) {
	if cfg.mount == "" {
		return func() {}, nil
	}
	if err := os.MkdirAll(cfg.mount, 0o755); err != nil {
		return nil, fmt.Errorf("--mount: %w", err)
	}
	if cleaned, err := fusefs.CleanStale(cfg.mount); err != nil {
		return nil, fmt.Errorf("--mount: a stale mount at %s: %w", cfg.mount, err)
	} else if cleaned {
		log.Warn("detached a stale mount left by an earlier run", "mount", cfg.mount)
	}
	srv, err := fusefs.Mount(cfg.mount, dep, fusefs.Options{
		Log:     log,
		Devices: cfg.mountDevices,
		// fsync mode: close commits without the disk, fsync and the flusher sync the drives.
		Durability:    cfg.mountDurability,
		SyncDrives:    dep.SyncDrives,
		FlushInterval: cfg.mountFlushInterval,
		// The write-behind table lives in this process: another node's S3 request would not
		// see a file closed here until its background commit, so a cluster node commits at
		// close (fsync mode keeps its deferred syncs).
		NoWriteBehind: isCluster(cfg.drives),
		Observe:       func(op string) func(time.Duration, bool) { return m.FUSEOp(op).Observe },
	})
	if err != nil {
		return nil, fmt.Errorf("--mount %s: %w", cfg.mount, err)
	}
	return func() {
		if err := srv.Unmount(); err != nil {
			// Busy (a shell sits in it): detach it lazily rather than leave it mounted; the
			// kernel ends it when the last user leaves.
			log.Warn("unmount failed; detaching lazily", "mount", cfg.mount, "err", err)
			if err := detach(cfg.mount); err != nil {
				log.Error("could not detach the mount", "mount", cfg.mount, "err", err)
			}
			return
		}
		srv.Wait()
	}, nil
}

// detach lazily unmounts dir: directly as root, else through fusermount3.
func detach(dir string) error {
	if os.Geteuid() == 0 {
		return syscall.Unmount(dir, syscall.MNT_DETACH)
	}
	out, err := exec.Command("fusermount3", "-u", "-z", dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("fusermount3 -u -z: %w: %s", err, out)
	}
	return nil
}
