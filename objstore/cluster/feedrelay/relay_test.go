package feedrelay

import (
	"context"
	"fmt"
	"net"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/flashstor/flashstor/internal/httpserver"
	"github.com/flashstor/flashstor/objstore"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// A change published on node A has run through node B's subscribers when A's publish
// returns, with its fields intact; B does not send it back to A.
func TestRelayDeliversBeforeReturn(t *testing.T) {
	c := newEtcd(t)
	a := startNode(t, c, Config{}, nil)
	b := startNode(t, c, Config{}, nil)
	b.receive(t, a)
	a.receive(t, b)
	events := []objstore.Event{
		{Type: objstore.EventBucketCreated, Bucket: "bkt"},
		put("bkt", "dir/a.txt", "one"),
		{Type: objstore.EventMetadata, Bucket: "bkt", Key: "dir/a.txt", Info: put("bkt", "dir/a.txt", "one").Info},
		{Type: objstore.EventRename, Bucket: "bkt", Key: "dir/a.txt", NewKey: "dir/b.txt", Info: put("bkt", "dir/b.txt", "one").Info},
		{Type: objstore.EventRename, Bucket: "bkt", Key: "dir/", NewKey: "other/"},
		{Type: objstore.EventDelete, Bucket: "bkt", Key: "dir/b.txt"},
		{Type: objstore.EventBucketDeleted, Bucket: "bkt"},
	}
	for i, e := range events {
		a.layer.Publish(context.Background(), e)
		got := b.seen.get()
		if len(got) != i+1 {
			t.Fatalf("after publishing event %d on A, B saw %d events", i, len(got))
		}
		g := got[i]
		if _, ok := g.Origin.(origin); !ok {
			t.Errorf("event %d on B has origin %v, want the relay's", i, g.Origin)
		}
		g.Origin = nil
		if !reflect.DeepEqual(g, e) {
			t.Errorf("event %d: B saw %+v, want %+v", i, g, e)
		}
	}
	// Bucket-config events are not relayed (etcd's watch carries them).
	a.layer.Publish(context.Background(), objstore.Event{Type: objstore.EventBucketConfig, Bucket: "bkt"})
	// A round trip B -> A: had B sent A's events back, A would hold them before this one.
	b.layer.Publish(context.Background(), put("x-from-b", "k", "b"))
	got := a.seen.get()
	if len(got) != len(events)+2 || got[len(got)-1].Bucket != "x-from-b" {
		t.Fatalf("A saw %d events (last %+v), want its own %d and B's one", len(got), got[len(got)-1], len(events)+1)
	}
	if n := len(b.seen.get()); n != len(events)+1 {
		t.Fatalf("B saw %d events, want A's %d (no bucket-config) and its own", n, len(events))
	}
	if s := a.relay.Stats(); s.Sent != int64(len(events)) || s.TimedOut != 0 || s.Late != 0 || s.Lost != 0 {
		t.Fatalf("A's stats %+v", s)
	}
}

// Writers that come while a request is in flight go in the next request, together.
func TestRelayBatches(t *testing.T) {
	c := newEtcd(t)
	gate, entered := make(chan struct{}), make(chan struct{})
	var first sync.Once
	a := startNode(t, c, Config{Wait: time.Minute}, nil)
	b := startNode(t, c, Config{}, nil)
	b.layer.Subscribe("", func(objstore.Event) { first.Do(func() { close(entered); <-gate }) })
	b.receive(t, a)
	const writers = 50
	var wg sync.WaitGroup
	wg.Go(func() { a.layer.Publish(context.Background(), put("bkt", "first", "x")) })
	p := a.relay.byName[b.addr]
	<-entered // the first request is in flight, held in B's subscriber
	for i := range writers {
		wg.Go(func() { a.layer.Publish(context.Background(), put("bkt", fmt.Sprint("k", i), "x")) })
	}
	waitFor(t, "the writers queued", func() bool { return len(p.queue) == writers })
	close(gate)
	wg.Wait()
	if s := a.relay.Stats(); s.Sent != writers+1 || s.Batches != 2 {
		t.Fatalf("stats %+v: want %d events in 2 requests", s, writers+1)
	}
	if n := len(b.seen.get()); n != writers+1 {
		t.Fatalf("B saw %d events, want %d", n, writers+1)
	}
}

// A receiver that does not answer holds a writer up to the bound once; later writers do
// not wait for it until it answers again, and it still gets every event, in order.
func TestLateReceiverIsNotWaitedFor(t *testing.T) {
	c := newEtcd(t)
	release := make(chan struct{})
	hang := func(h httpserver.Handler) httpserver.Handler {
		return httpserver.HandlerFunc(func(w httpserver.ResponseWriter, r *httpserver.Request) {
			<-release
			h.ServeHTTP1(w, r)
		})
	}
	a := startNode(t, c, Config{Wait: 200 * time.Millisecond, RequestTimeout: time.Minute}, nil)
	b := startNode(t, c, Config{}, hang)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	b.receive(t, a)
	returnsWithinAMinute(t, "writes on A while B does not answer", func() {
		a.layer.Publish(context.Background(), put("bkt", "k1", "1"))
		a.layer.Publish(context.Background(), put("bkt", "k2", "2"))
	})
	if s := a.relay.Stats(); s.TimedOut != 1 || s.Late != 1 || s.Sent != 0 {
		t.Fatalf("stats %+v: want one write that timed out, the receiver late, nothing sent yet", s)
	}
	close(release)
	waitFor(t, "B answers again", func() bool { return a.relay.Stats().Back == 1 })
	a.layer.Publish(context.Background(), put("bkt", "k3", "3"))
	var keys []string
	for _, e := range b.seen.get() {
		keys = append(keys, e.Key)
	}
	if !reflect.DeepEqual(keys, []string{"k1", "k2", "k3"}) {
		t.Fatalf("B saw %v, want k1 k2 k3", keys)
	}
	if s := a.relay.Stats(); s.TimedOut != 1 || s.Lost != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// A receiver that is down costs a writer no wait past the bound; its events are lost, and
// once it is back it is told to resync.
func TestDownReceiverResyncs(t *testing.T) {
	c := newEtcd(t)
	a := startNode(t, c, Config{Wait: 200 * time.Millisecond}, nil)
	b := startNode(t, c, Config{}, nil)
	b.receive(t, a)
	b.srv.Close()
	returnsWithinAMinute(t, "a write on A while B is down", func() {
		a.layer.Publish(context.Background(), put("bkt", "lost", "1"))
	})
	if s := a.relay.Stats(); s.Late != 1 || s.Lost != 1 {
		t.Fatalf("stats %+v: want the receiver late and one event lost", s)
	}
	// B back on its address: the sender's probe reaches it and asks for a resync.
	ln, err := net.Listen("tcp", b.addr)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", b.addr, err)
	}
	srv, err := httpserver.New(httpserver.Config{Handler: b.relay})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	waitFor(t, "B resynced", func() bool {
		for _, e := range b.seen.get() {
			if e.Type == objstore.EventResync {
				return true
			}
		}
		return false
	})
	waitFor(t, "B no longer late", func() bool { return a.relay.Stats().Back == 1 })
}

// A receiver whose registration is lost (its lease revoked, as an expiry would) registers
// again, and its subscribers resync; the senders drop it and take it back.
func TestReceiverRegistersAgain(t *testing.T) {
	c := newEtcd(t)
	a := startNode(t, c, Config{}, nil)
	b := startNode(t, c, Config{}, nil)
	b.receive(t, a)
	resp, err := c.Get(context.Background(), ReceiverPrefix+b.addr)
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("B's receiver key: %v, %v", resp, err)
	}
	if _, err := c.Revoke(context.Background(), clientv3.LeaseID(resp.Kvs[0].Lease)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B resynced after registering again", func() bool {
		for _, e := range b.seen.get() {
			if e.Type == objstore.EventResync {
				return true
			}
		}
		return false
	})
	waitFor(t, "A sends to B again", func() bool { return slices.Contains(a.relay.Receivers(), b.addr) })
	a.layer.Publish(context.Background(), put("bkt", "after", "x"))
	if got := b.seen.get(); got[len(got)-1].Key != "after" {
		t.Fatalf("B's last event %+v, want the put after it registered again", got[len(got)-1])
	}
}
