package feedrelay

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/cluster/etcdwatch"
	"github.com/flashstor/flashstor/objstore/cluster/leasekeep"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// ReceiverPrefix is the etcd prefix under which the nodes that receive other nodes'
// changes register (ReceiverPrefix + host:port).
const ReceiverPrefix = "/flashstor/v1/feed/receivers/"

// ReceiverTTL is the lease of a receiver's key: how long other nodes keep sending to a
// node that died.
const ReceiverTTL = 10 // seconds

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// Receive registers this node as a receiver of the other nodes' changes (a mount calls it
// before it serves): they send it their changes from when they see the key, a watch's
// delay after Receive returns. Should the registration be lost (its lease expired: the
// node was cut off from etcd for ReceiverTTL), Receive registers again and, since changes
// may have been missed meanwhile, has the node's subscribers resync. stop unregisters it.
func (r *Relay) Receive(ctx context.Context) (stop func(), err error) {
	if r.etcd == nil {
		return nil, fmt.Errorf("feedrelay: Receive before Start")
	}
	rctx, cancel := context.WithCancel(r.etcd.Ctx())
	lease, err := r.register(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Registered again: changes may have been missed while it was lost.
		leasekeep.KeepRegistered(rctx, r.etcd, lease, ReceiverTTL*time.Second, r.register, func(l clientv3.LeaseID) {
			lease = l
			if box := r.layer.Load(); box != nil {
				box.l.PublishChange(objstore.WithOrigin(rctx, origin{from: r.cfg.Self}), objstore.Event{Type: objstore.EventResync})
			}
		}, "this node's registration as a feed receiver", r.log)
	}()
	return func() {
		cancel()
		<-done
		dctx, dcancel := context.WithTimeout(context.Background(), 2*time.Second)
		r.etcd.Revoke(dctx, lease)
		dcancel()
	}, nil
}

// register puts this node's receiver key under a new lease, which the caller keeps alive.
func (r *Relay) register(ctx context.Context) (clientv3.LeaseID, error) {
	lease, err := r.etcd.Grant(ctx, ReceiverTTL)
	if err != nil {
		return 0, fmt.Errorf("feed receiver lease: %w", err)
	}
	if _, err := r.etcd.Put(ctx, ReceiverPrefix+r.cfg.Self, time.Now().UTC().Format(time.RFC3339), clientv3.WithLease(lease.ID)); err != nil {
		return 0, fmt.Errorf("registering as a feed receiver: %w", err)
	}
	return lease.ID, nil
}

// load reads the receivers registered now and sends to them (Start, before the watch).
func (r *Relay) load(ctx context.Context) error {
	resp, err := r.etcd.Get(ctx, ReceiverPrefix, clientv3.WithPrefix())
	if err != nil {
		return fmt.Errorf("reading the feed receivers: %w", err)
	}
	r.setReceivers(resp, false)
	return nil
}

// setReceivers makes the receivers of resp, a read of ReceiverPrefix, those the relay
// sends to: it drops the others and adds the new ones, which are asked to resync if
// missed (they registered while the watch was broken, and may have missed this node's
// changes since); a receiver it knew keeps its sender (and what is queued for it).
func (r *Relay) setReceivers(resp *clientv3.GetResponse, missed bool) {
	now := make(map[string]bool)
	for _, kv := range resp.Kvs {
		now[strings.TrimPrefix(string(kv.Key), ReceiverPrefix)] = true
	}
	r.mu.Lock()
	var gone []string
	for name := range r.byName {
		if !now[name] {
			gone = append(gone, name)
		}
	}
	r.mu.Unlock()
	for _, name := range gone {
		r.drop(name)
	}
	for name := range now {
		if p := r.add(name); p != nil && missed {
			r.log.Info("feed relay: a node registered while the receivers' watch was broken; asking it to resync", "receiver", name)
			p.resync()
		}
	}
}

// watch follows the receivers until ctx ends, through breaks of the watch and silent
// etcd members (package etcdwatch; see the package doc).
func (r *Relay) watch(ctx context.Context) {
	etcdwatch.Watch(ctx, r.etcd, ReceiverPrefix, etcdwatch.Config{
		OnKey:    func(key string, _ int64) { r.add(strings.TrimPrefix(key, ReceiverPrefix)) },
		OnDelete: func(key string, _ int64) { r.drop(strings.TrimPrefix(key, ReceiverPrefix)) },
		// No OnReset: through a break the relay keeps sending to the receivers it knows
		// (better than to none); the read before the watch starts again sets them right.
		// The first start follows Start's read by moments (the window of Receive's doc);
		// a later one follows a break of any length.
		OnLoad: func(resp *clientv3.GetResponse) {
			r.setReceivers(resp, r.watchStarts.Add(1) > 1)
		},
		OnError:   func(err error) { r.log.Warn("feed relay: the receivers' watch", "err", err) },
		Retry:     r.cfg.Heartbeat / 2,
		Heartbeat: r.cfg.Heartbeat,
	}, clientv3.WithPrefix())
}
