// Package etcdwatch follows a key or a prefix in etcd through breaks of the watch, and
// tells a silent etcd member from a quiet one: the one watch loop of the cluster's caches
// (the bucket settings and identities of etcdconfig, the set owners of owner) and of the
// feed relay's list of receivers (feedrelay).
//
// Watch starts from the revision of a linearizable read, so no change after that read is
// missed, and reports each changed key. A break (a compacted revision, a member that lost
// its leader, a cancelled stream, a member that went silent) is reported as a reset around
// the gap: the caller drops what it cached at the break, and again once the watch is whole,
// so nothing filled during the gap outlives it. A caller that keeps which keys exist
// rather than a cache (the feed relay keeps sending to the receivers it knows through a
// break) is told puts and deletes apart (Config.OnDelete) and is given the keys that the
// read before each (re)start found (Config.OnLoad), from which the changes follow.
//
// # A silent member
//
// etcd's client sends a request on a connection to a member that stopped answering
// without closing it (a paused process, a host cut off without a reset) and waits until
// gRPC's keep-alive fails the connection, 10 to 15 s later. Watch does not wait so long:
//
//   - The watch asks for a progress report every heartbeat (Config.Heartbeat) and takes
//     three heartbeats without a word for a break.
//   - The read before each (re)start, and the creation of the watch (etcd's client waits
//     for the member's answer), are bounded by three heartbeats, the same rule: the next
//     attempt is a new request, which the client's round-robin balancer sends to the next
//     member.
//   - Each attempt watches on a gRPC stream of its own. etcd's client shares one stream
//     among the watches whose contexts carry the same metadata, and keeps a stream open
//     while a watch on it still waits for its creation: a watch restarted on a silent
//     stream would rejoin it, and so would every later attempt, until gRPC drops the
//     connection. A metadata value of its own for each attempt (flashstor-watch-stream)
//     opens a new stream, which the balancer sends to the next member too.
//
// So a watch whose member went silent is whole again, through another member, three to
// four heartbeats after the silence began (and Config.Retry), plus three for each read or
// creation that the balancer sends to the silent member again.
//
// A watch whose creation timed out leaves its stream behind in etcd's client (v3.7.3): a
// stream is closed once its last watch is gone, and a watch cancelled before the member
// created it is never counted gone. Each such attempt costs a goroutine or two and an
// idle gRPC stream (moved to another member once gRPC drops the silent connection) until
// the client closes. A fresh stream per attempt trades that for never rejoining a silent
// stream; a Watcher per attempt (clientv3.NewWatcher, closed after) would leave nothing
// behind, but it would bypass a namespaced client's Watcher (cluster.Config.EtcdNamespace).
package etcdwatch

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/metadata"
)

// Config tells Watch what to report.
type Config struct {
	// OnKey is called with each key that changed under the prefix (put, or deleted
	// unless OnDelete is set), and the revision of the change.
	OnKey func(key string, rev int64)
	// OnDelete, if set, is called in OnKey's place with each key deleted (by a delete or
	// with its lease): for a caller that keeps which keys exist, not a cache to drop.
	OnDelete func(key string, rev int64)
	// OnReset, if set, is called when the changes cannot be told key by key: once the
	// watch has started (what changed before it is unknown), when it breaks, and once it
	// is whole again. Everything under the prefix may have changed.
	OnReset func()
	// OnLoad, if set, makes the read before each (re)start read the keys under the
	// prefix, not just count them, and is given that read once the watch from its
	// revision is created (after OnReset): the state from which the changes reported next
	// follow, for a caller that keeps which keys exist rather than drop a cache. The
	// first change reported may be the read's last one again (the watch starts at the
	// read's revision, see Watch), which a caller that sets its state from the read
	// applies without effect.
	OnLoad func(*clientv3.GetResponse)
	// OnError, if set, is told why the watch broke or could not start (for the log).
	OnError func(error)
	// Retry is the wait between attempts to watch again; one second when zero.
	Retry time.Duration
	// Heartbeat is how often the watch asks etcd for a progress report; a watch that
	// hears nothing for three heartbeats (its member silent or unreachable) is taken as
	// broken, and the read and the creation of each attempt wait three heartbeats at
	// most. Two seconds when zero.
	Heartbeat time.Duration
}

// The breaks of a watch that etcd did not explain.
var (
	ErrClosed = errors.New("etcdwatch: watch closed")
	ErrSilent = errors.New("etcdwatch: no word from etcd for three heartbeats")
)

// streamKey is the gRPC metadata key whose value is each attempt's own, so that each
// attempt watches on a stream of its own (see the package doc). etcd ignores it.
const streamKey = "flashstor-watch-stream"

// Watch follows key (with clientv3.WithPrefix in opts, the keys under it) until ctx
// ends, reporting to cfg's callbacks from the calling goroutine (see the package doc).
// cfg.OnKey is required.
func Watch(ctx context.Context, c *clientv3.Client, key string, cfg Config, opts ...clientv3.OpOption) {
	if cfg.Retry <= 0 {
		cfg.Retry = time.Second
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 2 * time.Second
	}
	if cfg.OnDelete == nil {
		cfg.OnDelete = cfg.OnKey
	}
	if cfg.OnReset == nil {
		cfg.OnReset = func() {}
	}
	report := func(err error) {
		if cfg.OnError != nil && ctx.Err() == nil {
			cfg.OnError(err)
		}
	}
	opts = slices.Clip(opts) // each append below gets its own array
	read := append(opts, clientv3.WithCountOnly())
	if cfg.OnLoad != nil {
		read = opts
	}
	for ctx.Err() == nil {
		rctx, cancel := context.WithTimeout(ctx, 3*cfg.Heartbeat)
		resp, err := c.Get(rctx, key, read...)
		cancel()
		if err != nil {
			report(fmt.Errorf("etcdwatch: reading %s to watch it: %w", key, err))
			sleep(ctx, cfg.Retry)
			continue
		}
		rev := resp.Header.Revision
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		wctx = metadata.AppendToOutgoingContext(wctx, streamKey, strconv.FormatUint(rand.Uint64(), 36))
		// etcd's client returns from Watch once the member created the watch: bounded as
		// the read.
		late := time.AfterFunc(3*cfg.Heartbeat, cancel)
		// From rev itself, not rev+1: etcd sends no progress report to a watch that starts
		// past its current revision, and the heartbeat needs them. A change at rev is
		// reported once more, which costs a cache miss.
		ch := c.Watch(wctx, key, append(opts, clientv3.WithRev(rev))...)
		if !late.Stop() {
			cancel()
			report(fmt.Errorf("etcdwatch: watch of %s not created: %w", key, ErrSilent))
			sleep(ctx, cfg.Retry)
			continue
		}
		cfg.OnReset()
		if cfg.OnLoad != nil {
			cfg.OnLoad(resp)
		}
		err = follow(wctx, c, ch, cfg)
		cancel()
		if ctx.Err() != nil {
			return
		}
		report(fmt.Errorf("etcdwatch: watch of %s broke: %w", key, err))
		cfg.OnReset() // drop what the broken watch may have left stale
		sleep(ctx, cfg.Retry)
	}
}

// follow reports the events of ch to cfg until it breaks, and returns why. Every
// heartbeat it asks for a progress report, so that a silent etcd is told from a quiet one.
func follow(ctx context.Context, c *clientv3.Client, ch clientv3.WatchChan, cfg Config) error {
	heartbeat := cfg.Heartbeat
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
				if ev.Type == clientv3.EventTypeDelete {
					cfg.OnDelete(string(ev.Kv.Key), ev.Kv.ModRevision)
				} else {
					cfg.OnKey(string(ev.Kv.Key), ev.Kv.ModRevision)
				}
			}
		case <-tick.C:
			if time.Since(heard) > 3*heartbeat {
				return ErrSilent
			}
			// The request may wait for a stream being re-established: bounded, and its
			// answer (or its lack) is judged above. ctx carries the attempt's stream key,
			// so the request goes on the watch's own stream.
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
