package etcdwatch_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/stats"

	"github.com/flashstor/flashstor/objstore/cluster/etcdtest"
	"github.com/flashstor/flashstor/objstore/cluster/etcdwatch"
)

// The bound within which a watch whose member went silent must report a change again,
// well under the 10 to 15 s after which gRPC's keep-alive would drop the connection (the
// test clients have none: without the bounds they would wait for ever). With a heartbeat
// of 200 ms the watch is back in about a second.
const bound = 8 * time.Second

// change is one key reported by a watch.
type change struct {
	key string
	rev int64
}

// watcher is a running etcdwatch.Watch and what it reported.
type watcher struct {
	changes chan change
	mu      sync.Mutex
	errs    []error // GUARDED_BY(mu)
}

// start runs Watch of prefix through c until the test ends.
func start(t *testing.T, c *clientv3.Client, prefix string, heartbeat time.Duration) *watcher {
	t.Helper()
	w := &watcher{changes: make(chan change, 1024)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		etcdwatch.Watch(ctx, c, prefix, etcdwatch.Config{
			OnKey: func(key string, rev int64) {
				select {
				case w.changes <- change{key, rev}:
				default: // never full while the test puts and reads; the watch must not block at its end
				}
			},
			OnReset: func() {},
			OnError: func(err error) {
				w.mu.Lock()
				w.errs = append(w.errs, err)
				w.mu.Unlock()
			},
			Retry:     10 * time.Millisecond,
			Heartbeat: heartbeat,
		}, clientv3.WithPrefix())
	}()
	t.Cleanup(func() { cancel(); <-done })
	return w
}

// errors returns the errors the watch reported so far.
func (w *watcher) errors() []error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]error(nil), w.errs...)
}

// back fails t unless w, whose member went silent at silence, reports a change of key
// within bound and reported a break for want of an answer.
func (w *watcher) back(t *testing.T, direct *clientv3.Client, key string, silence time.Time) {
	t.Helper()
	if !w.reports(t, direct, key, bound) {
		t.Fatalf("the watch reported no change within %v: %v", bound, w.errors())
	}
	t.Logf("the watch reported a change %v after its member went silent", time.Since(silence).Round(time.Millisecond))
	for _, err := range w.errors() {
		if errors.Is(err, etcdwatch.ErrSilent) {
			return
		}
	}
	t.Errorf("the watch's break was not reported: %v", w.errors())
}

// await fails t unless ch is closed within 5 s.
func await(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: nothing within 5 s", what)
	}
}

// reports puts key through direct every 100 ms until w reports one of these puts, and
// tells whether it did within d.
func (w *watcher) reports(t *testing.T, direct *clientv3.Client, key string, d time.Duration) bool {
	t.Helper()
	deadline := time.After(d)
	put := time.NewTicker(100 * time.Millisecond)
	defer put.Stop()
	var first int64 // the revision of the first put
	for {
		select {
		case c := <-w.changes:
			if c.key == key && first != 0 && c.rev >= first {
				return true
			}
		case <-put.C:
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			resp, err := direct.Put(ctx, key, "v")
			cancel()
			if err != nil {
				t.Fatalf("put %s: %v", key, err)
			}
			if first == 0 {
				first = resp.Header.Revision
			}
		case <-deadline:
			return false
		}
	}
}

// A watch that hears of no change stays whole: its progress requests go on its own
// stream (they carry its stream's metadata) and are answered, so the quiet is not taken
// for silence over ten heartbeats.
func TestQuietWatchStaysWhole(t *testing.T) {
	srv := etcdtest.Start(t)
	w := start(t, srv.Client(t), "/etcdwatch-test/quiet/", 200*time.Millisecond)
	time.Sleep(2 * time.Second)
	if errs := w.errors(); len(errs) != 0 {
		t.Fatalf("a quiet watch broke: %v", errs)
	}
}

// A watch whose member goes silent reads etcd again to restart, on that member first:
// the read gives up within three heartbeats and the next attempt goes to another member,
// where the watch is whole again. The read used to wait until gRPC dropped the
// connection.
func TestRereadLeavesASilentMember(t *testing.T) {
	r := newRig(t)
	const prefix = "/etcdwatch-test/reread/"
	w := start(t, r.cli, prefix, 200*time.Millisecond)
	if !w.reports(t, r.direct, prefix+"before", 5*time.Second) {
		t.Fatal("the watch reported no change within 5 s")
	}
	// After the freeze, the client's first read is the re-read of the broken watch; it
	// has no other member to send it to yet.
	reread := r.calls.arm(rangeMethod, nil)
	r.silent.Freeze(true)
	silence := time.Now()
	defer r.silent.Freeze(false)
	await(t, reread, "the watch's read of etcd after its member's silence")
	r.srv.Spread(t, r.cli, 2)
	w.back(t, r.direct, prefix+"after", silence)
}

// A watch whose creation goes to a member that goes silent (etcd's client waits for the
// member to create it) gives up within three heartbeats, and the next attempt goes to
// another member. It used to wait until gRPC dropped the connection.
func TestCreationLeavesASilentMember(t *testing.T) {
	r := newRig(t)
	// The member goes silent as the watch's stream opens, before it asks for the watch.
	var silence time.Time
	opened := r.calls.arm(watchMethod, func() { r.silent.Freeze(true); silence = time.Now() })
	defer r.silent.Freeze(false)
	const prefix = "/etcdwatch-test/create/"
	w := start(t, r.cli, prefix, 200*time.Millisecond)
	await(t, opened, "the watch's stream")
	r.srv.Spread(t, r.cli, 2)
	w.back(t, r.direct, prefix+"after", silence)
}

// A watch whose member goes silent restarts on a stream of its own, though another watch
// of the same client holds its stream open on that member (a watch without a heartbeat,
// as etcd's client shares one stream among the watches with the same context metadata).
// The restarted watch used to join the silent stream again, at every attempt.
func TestRestartLeavesASilentStream(t *testing.T) {
	r := newRig(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	other := r.cli.Watch(clientv3.WithRequireLeader(ctx), "/etcdwatch-test/other/", clientv3.WithPrefix(), clientv3.WithCreatedNotify())
	select {
	case <-other:
	case <-time.After(5 * time.Second):
		t.Fatal("the other watch: not created within 5 s")
	}
	const prefix = "/etcdwatch-test/stream/"
	w := start(t, r.cli, prefix, 200*time.Millisecond)
	if !w.reports(t, r.direct, prefix+"before", 5*time.Second) {
		t.Fatal("the watch reported no change within 5 s")
	}
	r.srv.Spread(t, r.cli, 2)
	r.silent.Freeze(true)
	silence := time.Now()
	defer r.silent.Freeze(false)
	w.back(t, r.direct, prefix+"after", silence)
}

// The gRPC methods of a read and of a watch.
const (
	rangeMethod = "/etcdserverpb.KV/Range"
	watchMethod = "/etcdserverpb.Watch/Watch"
)

// rig is an etcd, a client of it, and the client of the watches, whose one endpoint is
// the proxy silent, and whose calls to it calls sees.
type rig struct {
	srv         *etcdtest.Server
	direct, cli *clientv3.Client
	silent      *etcdtest.Proxy
	calls       *calls
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{srv: etcdtest.Start(t)}
	r.direct, r.silent = r.srv.Client(t), r.srv.Proxy(t)
	r.calls = &calls{to: strings.TrimPrefix(r.silent.Endpoints[0], "http://")}
	var err error
	r.cli, err = clientv3.New(clientv3.Config{Endpoints: r.silent.Endpoints, DialTimeout: 5 * time.Second,
		Logger: zap.NewNop(), DialOptions: []grpc.DialOption{grpc.WithStatsHandler(r.calls)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.cli.Close() })
	return r
}

// calls is a gRPC stats handler that tells, once armed, when the client opens a call of
// one method to the address to: which member a request went to.
type calls struct {
	to string
	mu sync.Mutex
	// method is the call armed for ("": none), then what to run when it opens (before
	// its first message goes out), and opened what to close then. GUARDED_BY(mu).
	method string
	then   func()
	opened chan struct{}
}

// arm makes h run then (if not nil) when the client next opens a call of method to h.to,
// and close the channel returned.
func (h *calls) arm(method string, then func()) <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.method, h.then, h.opened = method, then, make(chan struct{})
	return h.opened
}

func (h *calls) HandleRPC(_ context.Context, s stats.RPCStats) {
	out, ok := s.(*stats.OutHeader)
	if !ok || !out.Client || out.RemoteAddr == nil || out.RemoteAddr.String() != h.to {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.method == "" || out.FullMethod != h.method {
		return
	}
	if h.then != nil {
		h.then()
	}
	close(h.opened)
	h.method = ""
}

func (h *calls) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context   { return ctx }
func (h *calls) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (h *calls) HandleConn(context.Context, stats.ConnStats)                       {}

// A watch with OnLoad and OnDelete is given the keys read before it starts, then the puts
// and the deletes after them, told apart (what the feed relay keeps its receivers by).
func TestLoadThenPutsAndDeletes(t *testing.T) {
	c := etcdtest.Start(t).Client(t)
	const prefix = "/etcdwatch-test/load/"
	ctx := context.Background()
	for _, k := range []string{"a", "b"} {
		if _, err := c.Put(ctx, prefix+k, "v"); err != nil {
			t.Fatal(err)
		}
	}
	type event struct {
		what, key string
		rev       int64
	}
	events := make(chan event, 64)
	send := func(e event) {
		select {
		case events <- e:
		default: // never full while the test reads; the watch must not block at its end
		}
	}
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		etcdwatch.Watch(wctx, c, prefix, etcdwatch.Config{
			OnKey:    func(key string, rev int64) { send(event{"put", key, rev}) },
			OnDelete: func(key string, rev int64) { send(event{"delete", key, rev}) },
			OnLoad: func(resp *clientv3.GetResponse) {
				var keys []string
				for _, kv := range resp.Kvs {
					keys = append(keys, string(kv.Key))
				}
				send(event{"load " + strings.Join(keys, " "), "", resp.Header.Revision})
			},
			Retry:     10 * time.Millisecond,
			Heartbeat: 200 * time.Millisecond,
		}, clientv3.WithPrefix())
	}()
	defer func() { cancel(); <-done }()
	next := func() event {
		t.Helper()
		select {
		case e := <-events:
			return e
		case <-time.After(5 * time.Second):
			t.Fatal("nothing reported within 5 s")
			return event{}
		}
	}
	load := next()
	if want := "load " + prefix + "a " + prefix + "b"; load.what != want {
		t.Fatalf("first report %+v, want %q", load, want)
	}
	if _, err := c.Delete(ctx, prefix+"a"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(ctx, prefix+"c", "v"); err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 2 {
		e := next()
		if e.rev <= load.rev {
			continue // the read's last change, reported again
		}
		got = append(got, e.what+" "+strings.TrimPrefix(e.key, prefix))
	}
	if want := []string{"delete a", "put c"}; !slices.Equal(got, want) {
		t.Fatalf("reported %q after the load, want %q", got, want)
	}
}
