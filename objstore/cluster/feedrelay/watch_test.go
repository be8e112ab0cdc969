package feedrelay

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore/cluster/etcdtest"
)

// heartbeat is the heartbeat of the receivers' watch in these tests: a silent member is
// left about a second after it went silent.
const heartbeat = 200 * time.Millisecond

// A relay whose etcd member goes silent (its connection stays open, as a paused process's
// does) sees, through another member, a receiver registered and one unregistered
// meanwhile: its watch hears nothing for three heartbeats, breaks, reads the receivers
// again and watches again, each step bounded, the next attempt on another member. It
// used to send to the old receivers, and not to the new one, until gRPC's keep-alive
// dropped the connection (never, with the test's client, which has none).
func TestReceiversWatchLeavesASilentMember(t *testing.T) {
	srv := etcdtest.Start(t)
	ns := newNamespace()
	direct := inNamespace(srv.Client(t), ns)
	silent := srv.Proxy(t)
	// Its only endpoint is the proxy until Spread: Start reads the receivers through it,
	// and its watch starts there.
	cli := inNamespace(etcdtest.ClientOf(t, silent.Endpoints), ns)
	a := startNode(t, cli, Config{Heartbeat: heartbeat}, nil)
	b := startNode(t, direct, Config{}, nil)
	c := startNode(t, direct, Config{}, nil)
	stopB, err := b.relay.Receive(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "A sends to B", func() bool { return slices.Contains(a.relay.Receivers(), b.addr) })
	srv.Spread(t, cli, 2)
	silent.Freeze(true)
	silence := time.Now()
	defer silent.Freeze(false)
	c.receive(t) // through direct: another member
	stopB()
	// Expected about a second (three heartbeats, a read, a creation, a retry, plus three
	// heartbeats for each attempt sent to the silent member again); the bound is well
	// above it and well below the 10 to 15 s of gRPC's keep-alive.
	const bound = 10 * time.Second
	deadline := time.Now().Add(bound)
	for {
		got := a.relay.Receivers()
		if slices.Equal(got, []string{c.addr}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v after its member went silent A sends to %v, want only %s (B %s unregistered)", bound, got, c.addr, b.addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("A sends to the new receivers %v after its member went silent", time.Since(silence).Round(time.Millisecond))
	if s := a.relay.Stats(); s.WatchStarts < 2 {
		t.Errorf("stats %+v: want the receivers' watch started again", s)
	}
	// And C's mount gets A's changes before A's write returns.
	a.layer.Publish(context.Background(), put("bkt", "after-silence", "x"))
	if got := c.seen.get(); len(got) == 0 || got[len(got)-1].Key != "after-silence" {
		t.Fatalf("C saw %+v, want A's put", got)
	}
}

// A quiet watch of the receivers on a healthy member is not restarted: its heartbeat's
// progress requests are answered, so ten heartbeats without a change are not taken for
// silence.
func TestQuietReceiversWatchIsNotRestarted(t *testing.T) {
	c := newEtcd(t)
	a := startNode(t, c, Config{Heartbeat: heartbeat}, nil)
	b := startNode(t, c, Config{}, nil)
	b.receive(t, a)
	waitFor(t, "A's watch started", func() bool { return a.relay.Stats().WatchStarts > 0 })
	time.Sleep(10 * heartbeat)
	if s := a.relay.Stats(); s.WatchStarts != 1 {
		t.Fatalf("stats %+v: the receivers' watch started %d times over ten quiet heartbeats, want once", s, s.WatchStarts)
	}
	if got := a.relay.Receivers(); !slices.Equal(got, []string{b.addr}) {
		t.Fatalf("A sends to %v, want %s", got, b.addr)
	}
}
