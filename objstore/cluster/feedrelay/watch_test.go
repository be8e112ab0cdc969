package feedrelay

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/cluster/etcdtest"
)

// heartbeat is the heartbeat of the receivers' watch in these tests: a silent member is
// left about a second after it went silent.
const heartbeat = 200 * time.Millisecond

// A relay whose etcd member goes silent (its connection stays open, as a paused process's
// does) sees, through another member, a receiver registered and one unregistered
// meanwhile: its watch hears nothing for three heartbeats, breaks, reads the receivers
// again and watches again, each step bounded, the next attempt on another member; the
// new receiver, found by that read, is told to resync. The relay used to send to the old
// receivers, and not to the new one, until gRPC's keep-alive dropped the connection
// (never, with the test's client, which has none).
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
	// The watch breaks three heartbeats after the silence at the earliest, and reads the
	// receivers again after that: C, registered before, is found by that read.
	registered := time.Since(silence)
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
	// C may have missed A's changes before A knew of it: it is told to resync, and its
	// mount gets A's changes before A's write returns.
	a.layer.Publish(context.Background(), put("bkt", "after-silence", "x"))
	var types []objstore.EventType
	for _, e := range c.seen.get() {
		types = append(types, e.Type)
	}
	want := []objstore.EventType{objstore.EventResync, objstore.EventPut}
	if registered >= 2*heartbeat {
		// A loaded machine: the read may have come before C's registration, and the
		// watch have told A of C (no resync then).
		t.Logf("C registered %v after the silence: not checking its resync", registered)
		want = want[1:]
		types = slices.DeleteFunc(types, func(t objstore.EventType) bool { return t == objstore.EventResync })
	}
	if !slices.Equal(types, want) {
		t.Fatalf("C saw events %v, want %v", types, want)
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
