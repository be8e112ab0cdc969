// Package etcdwatch follows a key or a prefix in etcd through breaks of the watch, and
// tells a silent etcd member from a quiet one: the one watch loop of the cluster's caches
// (the bucket settings and identities of etcdconfig, the set owners of owner).
//
// Watch starts from the revision of a linearizable read, so no change after that read is
// missed, and reports each changed key. A break (a compacted revision, a member that lost
// its leader, a cancelled stream, a member that went silent) is reported as a reset around
// the gap: the caller drops what it cached at the break, and again once the watch is whole,
// so nothing filled during the gap outlives it.
package etcdwatch

import (
	"context"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Config tells Watch what to report.
type Config struct {
	// OnKey is called with each key that changed (put or deleted) under the prefix, and
	// the revision of the change.
	OnKey func(key string, rev int64)
	// OnReset is called when the changes cannot be told key by key: once the watch has
	// started (what changed before it is unknown), when it breaks, and once it is whole
	// again. Everything under the prefix may have changed.
	OnReset func()
	// OnError, if set, is told why the watch broke or could not start (for the log).
	OnError func(error)
	// Retry is the wait between attempts to watch again; one second when zero.
	Retry time.Duration
	// Heartbeat is how often the watch asks etcd for a progress report; a watch that
	// hears nothing for three heartbeats (its member silent or unreachable) is taken as
	// broken. Two seconds when zero.
	Heartbeat time.Duration
}

// The breaks of a watch that etcd did not explain.
var (
	ErrClosed = errors.New("etcdwatch: watch closed")
	ErrSilent = errors.New("etcdwatch: no word from etcd for three heartbeats")
)

// Watch follows key (with clientv3.WithPrefix in opts, the keys under it) until ctx
// ends, reporting to cfg's callbacks from the calling goroutine (see the package doc).
// cfg.OnKey and cfg.OnReset are required.
func Watch(ctx context.Context, c *clientv3.Client, key string, cfg Config, opts ...clientv3.OpOption) {
	if cfg.Retry <= 0 {
		cfg.Retry = time.Second
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 2 * time.Second
	}
	report := func(err error) {
		if cfg.OnError != nil && ctx.Err() == nil {
			cfg.OnError(err)
		}
	}
	for ctx.Err() == nil {
		resp, err := c.Get(ctx, key, append(opts, clientv3.WithCountOnly())...)
		if err != nil {
			report(fmt.Errorf("etcdwatch: reading %s to watch it: %w", key, err))
			sleep(ctx, cfg.Retry)
			continue
		}
		rev := resp.Header.Revision
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		// From rev itself, not rev+1: etcd sends no progress report to a watch that starts
		// past its current revision, and the heartbeat needs them. A change at rev is
		// reported once more, which costs a cache miss.
		ch := c.Watch(wctx, key, append(opts, clientv3.WithRev(rev))...)
		cfg.OnReset()
		err = follow(wctx, c, ch, cfg.OnKey, cfg.Heartbeat)
		cancel()
		if ctx.Err() != nil {
			return
		}
		report(fmt.Errorf("etcdwatch: watch of %s broke: %w", key, err))
		cfg.OnReset() // drop what the broken watch may have left stale
		sleep(ctx, cfg.Retry)
	}
}

// follow reports the events of ch until it breaks, and returns why. Every heartbeat it
// asks for a progress report, so that a silent etcd is told from a quiet one.
func follow(ctx context.Context, c *clientv3.Client, ch clientv3.WatchChan, onKey func(string, int64), heartbeat time.Duration) error {
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	heard := time.Now()
	for {
		select {
		case resp, ok := <-ch:
			if !ok {
				return ErrClosed
			}
			if err := resp.Err(); err != nil {
				return err
			}
			if resp.Canceled {
				return ErrClosed
			}
			heard = time.Now()
			for _, ev := range resp.Events {
				onKey(string(ev.Kv.Key), ev.Kv.ModRevision)
			}
		case <-tick.C:
			if time.Since(heard) > 3*heartbeat {
				return ErrSilent
			}
			// The request may wait for a stream being re-established: bounded, and its
			// answer (or its lack) is judged above.
			go func() {
				rctx, cancel := context.WithTimeout(ctx, heartbeat)
				defer cancel()
				c.RequestProgress(rctx)
			}()
		}
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
