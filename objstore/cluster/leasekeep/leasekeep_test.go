package leasekeep_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore/cluster/etcdtest"
	"github.com/flashstor/flashstor/objstore/cluster/leasekeep"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Whole seconds (etcd grants in seconds), and long enough that the race detector on a
// loaded machine does not stretch a refresh (a twentieth of it) past the lease: at 2 s the
// lease lapsed once in a CI run.
const ttl = 5 * time.Second

// kept is a lease of ttl kept by Keep in the background.
type kept struct {
	id     clientv3.LeaseID
	cancel context.CancelFunc
	done   chan struct{}
	err    error // Keep's result, once done is closed
}

// keep grants a lease of ttl through cli and keeps it with Keep until t ends.
func keep(t *testing.T, cli *clientv3.Client) *kept {
	t.Helper()
	g, err := cli.Grant(context.Background(), int64(ttl/time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	k := &kept{id: g.ID, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(k.done)
		k.err = leasekeep.Keep(ctx, cli, g.ID, ttl, nil, slog.New(slog.DiscardHandler))
	}()
	t.Cleanup(func() { cancel(); <-k.done })
	return k
}

// The member that the keep-alive stream went to falls silent (its connection stays open,
// nothing comes back: a paused process) after the client learned of two other endpoints:
// the lease lives on past two TTLs, as long as the client did not give up on the stream.
func TestKeepThroughASilentMember(t *testing.T) {
	srv := etcdtest.Start(t)
	silent := srv.Proxy(t)
	cli := etcdtest.ClientOf(t, silent.Endpoints) // no gRPC keep-alive: the connection never drops
	k := keep(t, cli)
	others := srv.Spread(t, cli, 2)
	silent.Freeze(true)
	defer silent.Freeze(false)
	time.Sleep(2 * ttl)
	select {
	case <-k.done:
		t.Fatalf("Keep returned while two endpoints of three answered: %v", k.err)
	default:
	}
	probe := etcdtest.ClientOf(t, others[0].Endpoints)
	resp, err := probe.TimeToLive(context.Background(), k.id)
	if err != nil || resp.TTL <= 0 {
		t.Fatalf("the lease after two TTLs with its stream's member silent: %v, %v", resp, err)
	}
}

// A revoked lease ends Keep with ErrLeaseGone.
func TestKeepEndsWhenTheLeaseIsGone(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	k := keep(t, cli)
	if _, err := cli.Revoke(context.Background(), k.id); err != nil {
		t.Fatal(err)
	}
	select {
	case <-k.done:
		if !errors.Is(k.err, leasekeep.ErrLeaseGone) {
			t.Fatalf("Keep of a revoked lease: %v, want ErrLeaseGone", k.err)
		}
	case <-time.After(3 * ttl):
		t.Fatal("Keep of a revoked lease still running after three TTLs")
	}
}
