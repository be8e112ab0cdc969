// Package leasekeep keeps an etcd lease alive when the etcd member that its keep-alive
// stream goes to stops answering.
//
// etcd's client keeps every lease of a client alive on one stream, on one connection to
// one member. When that member stops answering without closing the connection (a paused
// process, a host cut off without a reset), gRPC drops the connection only once its own
// keep-alive gives up, 10 to 15 s later (it allows no shorter), and etcd's client gives
// up on the lease's stream after a TTL without an answer: a node with a 10 s lease loses
// it to another node's pause, though two members of three answer. Keep refreshes the
// lease itself meanwhile, on streams the client's round-robin balancer sends to the other
// members.
package leasekeep

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// ErrLeaseGone means etcd no longer has the lease: it expired or was revoked.
var ErrLeaseGone = errors.New("leasekeep: the lease is gone")

// Keep keeps lease id, of time to live ttl, alive until etcd says it is gone
// (ErrLeaseGone), no member acknowledged it for a whole ttl (it may have expired), or ctx
// ends (ctx's error). acked, if not nil, is called with the time of each acknowledgement
// (or of the sending of the refresh it answers): the lease lives at least ttl after it.
// log receives one warning per stretch of failed refreshes.
func Keep(ctx context.Context, cli *clientv3.Client, id clientv3.LeaseID, ttl time.Duration, acked func(time.Time), log *slog.Logger) error {
	if acked == nil {
		acked = func(time.Time) {}
	}
	ka, err := cli.KeepAlive(ctx, id)
	if err != nil {
		return fmt.Errorf("leasekeep: keep-alive of lease %x: %w", id, err)
	}
	// etcd's client sends a keep-alive every third of the TTL; once one is a tenth of the
	// TTL late, a refresh goes out, and waits for its member a twentieth of the TTL (0.5 s
	// for 10 s: etcd answers in milliseconds), so that several members are tried before
	// the lease could expire. A user of acked that trusts the lease for half a TTL (the
	// owner's terms) sees the refresh land before it stops trusting.
	late, wait := ttl/3+ttl/10, ttl/20
	tick := time.NewTicker(wait / 2)
	defer tick.Stop()
	heard := time.Now()
	due := heard.Add(late) // of the next refresh of Keep's own
	warned := false
	for {
		select {
		case resp, ok := <-ka:
			switch {
			case !ok && ctx.Err() != nil:
				return ctx.Err()
			case !ok:
				// etcd's client gave up on the stream (or the lease is gone): a refresh
				// of Keep's own tells which, at once.
				ka, due = nil, time.Now()
			case resp.TTL <= 0:
				return ErrLeaseGone
			default:
				heard, warned = time.Now(), false
				due = heard.Add(late)
				acked(heard)
			}
		case <-tick.C:
			if time.Now().Before(due) {
				continue
			}
			sent := time.Now()
			kctx, cancel := context.WithTimeout(ctx, wait)
			_, err := cli.KeepAliveOnce(kctx, id)
			cancel()
			switch {
			case err == nil:
				heard, warned = sent, false
				due = sent.Add(late)
				acked(sent)
				if ka == nil {
					// A new stream, on whichever member answers now.
					if ka, err = cli.KeepAlive(ctx, id); err != nil {
						return fmt.Errorf("leasekeep: keep-alive of lease %x: %w", id, err)
					}
				}
			case errors.Is(err, rpctypes.ErrLeaseNotFound):
				return ErrLeaseGone
			case ctx.Err() != nil:
				return ctx.Err()
			case time.Since(heard) > ttl:
				return fmt.Errorf("leasekeep: no etcd member acknowledged lease %x for %v: %w", id, ttl, err)
			case !warned:
				warned = true
				log.Warn("etcd lease: its keep-alive stream is late; refreshing it on another member failed", "lease", fmt.Sprintf("%x", id), "err", err)
			}
		}
	}
}

// KeepRegistered keeps a registration alive until ctx ends: a key put under lease first,
// of time to live ttl. It keeps the lease alive with Keep and, whenever the lease is lost
// (etcd unreachable for a whole ttl, the lease revoked), registers again with register (a
// new lease and the key under it), once a second until it works, each attempt bounded by
// half the ttl, then tells registered the new lease. what names the registration in log.
func KeepRegistered(ctx context.Context, cli *clientv3.Client, first clientv3.LeaseID, ttl time.Duration,
	register func(context.Context) (clientv3.LeaseID, error), registered func(clientv3.LeaseID), what string, log *slog.Logger) {
	lease := first
	for {
		err := Keep(ctx, cli, lease, ttl, nil, log)
		for ctx.Err() == nil {
			log.Warn("etcd lease: a registration was lost with its lease; registering again", "what", what, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			rctx, cancel := context.WithTimeout(ctx, ttl/2)
			lease, err = register(rctx)
			cancel()
			if err == nil {
				registered(lease)
				break
			}
		}
		if ctx.Err() != nil {
			return
		}
	}
}
