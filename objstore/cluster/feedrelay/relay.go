package feedrelay

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/storage/remote"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Defaults of Config.
const (
	// DefaultWait bounds a writer's wait for the other nodes, as fusefs bounds its wait
	// for the kernel.
	DefaultWait = 2 * time.Second
	// DefaultHeartbeat is how often the watch of the receivers asks etcd for a progress
	// report (etcdwatch.Config.Heartbeat): three heartbeats without a word, and it
	// watches again, through another member.
	DefaultHeartbeat = 2 * time.Second
	// ProbeEvery is how often a sender whose last request failed tries again.
	ProbeEvery = time.Second
	// queueLen is how many events wait for one receiver before more are dropped (and the
	// receiver resynced).
	queueLen = 4096
)

// Layer is what the relay needs of its node's object layer: its feed, and a way to hand it
// the changes of other nodes (pool.Pool's PublishChange).
type Layer interface {
	Subscribe(bucket string, fn func(objstore.Event)) (cancel func())
	PublishChange(ctx context.Context, e objstore.Event)
}

// Config configures a node's relay.
type Config struct {
	// Self is this node as the list writes it (host:port).
	Self string
	// Scheme reaches the other nodes: "http" or "https".
	Scheme string
	// Secret is the cluster secret that signs node-to-node requests.
	Secret []byte
	// Transport carries the requests (the node's shared transport to other nodes).
	Transport http.RoundTripper
	// Wait bounds a writer's wait for the receiving nodes; 0: DefaultWait.
	Wait time.Duration
	// RequestTimeout bounds one request to a receiver; 0: five times Wait.
	RequestTimeout time.Duration
	// Heartbeat is the heartbeat of the watch of the receivers; 0: DefaultHeartbeat.
	Heartbeat time.Duration
	Log       *slog.Logger
}

// Stats counts what the relay did since it started.
type Stats struct {
	// Sent and Batches count the events and the requests that reached receivers.
	Sent, Batches int64
	// Received counts the events this node ran from other nodes.
	Received int64
	// Late counts the times a receiver was marked late (a writer stopped waiting for it);
	// Back the times one answered again.
	Late, Back int64
	// Lost counts events that did not reach a receiver (a failed request, a full queue).
	Lost int64
	// TimedOut counts the writes whose wait for the receivers ended at the bound.
	TimedOut int64
	// WatchStarts counts the starts of the watch of the receivers: one once it runs,
	// and one more each time it started again after a break (etcd unreachable, a silent
	// member, a compaction).
	WatchStarts int64
}

// Relay is a node's end of the cross-node feed: the sender of its changes to the nodes
// that receive them, and the handler (ServeHTTP1) of the changes other nodes send it.
type Relay struct {
	cfg    Config
	log    *slog.Logger
	auth   *remote.Verifier
	client *http.Client

	// layer is set by Start; the handler answers 503 before.
	layer atomic.Pointer[layerBox]
	// peers is the current set of receiving nodes, replaced whole under mu (copy on
	// write), read without it by writers.
	peers atomic.Pointer[[]*peer]
	mu    sync.Mutex
	// byName is guarded by mu: the sender of each receiving node.
	byName map[string]*peer

	sent, batches, received, late, back, lost, timedOut, watchStarts atomic.Int64

	etcd      *clientv3.Client
	cancelSub func()
	stopWatch context.CancelFunc
	watching  sync.WaitGroup
	closeOnce sync.Once
}

type layerBox struct{ l Layer }

// origin marks the events a relay publishes on its node, so that it does not send them on.
type origin struct{ from string }

// New builds a relay. Serve it (ServeHTTP1, under Prefix) from the start; it handles
// events once Start has given it the node's layer.
func New(cfg Config) (*Relay, error) {
	if cfg.Wait <= 0 {
		cfg.Wait = DefaultWait
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 5 * cfg.Wait
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.Scheme == "" {
		cfg.Scheme = "http"
	}
	if cfg.Transport == nil {
		cfg.Transport = http.DefaultTransport
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	auth, err := remote.NewVerifier(cfg.Secret)
	if err != nil {
		return nil, err
	}
	r := &Relay{cfg: cfg, log: cfg.Log, auth: auth, client: &http.Client{Transport: cfg.Transport, Timeout: cfg.RequestTimeout},
		byName: make(map[string]*peer)}
	r.peers.Store(new([]*peer))
	return r, nil
}

// Start subscribes to layer's feed and follows the receivers registered in etcd (c, the
// node's client, namespaced as the node's). It returns once the receivers registered now
// are known.
func (r *Relay) Start(ctx context.Context, layer Layer, c *clientv3.Client) error {
	if layer == nil || c == nil {
		return errors.New("feedrelay: Start needs the node's layer and etcd client")
	}
	r.etcd = c
	r.layer.Store(&layerBox{l: layer})
	r.cancelSub = layer.Subscribe("", r.onEvent)
	wctx, stop := context.WithCancel(context.Background())
	r.stopWatch = stop
	if err := r.load(ctx); err != nil {
		stop()
		r.cancelSub()
		return err
	}
	r.watching.Go(func() { r.watch(wctx) })
	return nil
}

// Close stops sending and receiving. Calls after the first do nothing.
func (r *Relay) Close() {
	r.closeOnce.Do(func() {
		if r.cancelSub != nil {
			r.cancelSub()
		}
		if r.stopWatch != nil {
			r.stopWatch()
		}
		r.watching.Wait()
		r.layer.Store(nil)
		r.mu.Lock()
		for name := range r.byName {
			r.dropLocked(name)
		}
		r.mu.Unlock()
	})
}

// Stats returns the relay's counters.
func (r *Relay) Stats() Stats {
	return Stats{Sent: r.sent.Load(), Batches: r.batches.Load(), Received: r.received.Load(),
		Late: r.late.Load(), Back: r.back.Load(), Lost: r.lost.Load(), TimedOut: r.timedOut.Load(), WatchStarts: r.watchStarts.Load()}
}

// Receivers lists the other nodes this relay sends to now.
func (r *Relay) Receivers() []string {
	var out []string
	for _, p := range *r.peers.Load() {
		out = append(out, p.name)
	}
	return out
}

// onEvent runs in the writer's call, for every change of this node: it queues the change
// for every receiving node and waits for those that are not late, up to cfg.Wait.
func (r *Relay) onEvent(e objstore.Event) {
	peers := *r.peers.Load()
	if len(peers) == 0 {
		return // the cost of a cluster without mounts: one atomic load
	}
	if _, ok := e.Origin.(origin); ok || !relayed(e.Type) {
		return
	}
	w := toWire(e)
	var waits []wait
	for _, p := range peers {
		if p.late.Load() {
			p.offer(item{ev: w})
			continue
		}
		done := make(chan struct{})
		if p.offer(item{ev: w, done: done}) {
			waits = append(waits, wait{p, done})
		}
	}
	if len(waits) == 0 {
		return
	}
	timer := time.NewTimer(r.cfg.Wait)
	defer timer.Stop()
	for i, wt := range waits {
		select {
		case <-wt.done:
			continue
		case <-timer.C:
		}
		r.timedOut.Add(1)
		for _, rest := range waits[i:] {
			select {
			case <-rest.done:
			default:
				rest.p.markLate()
			}
		}
		return
	}
}

type wait struct {
	p    *peer
	done chan struct{}
}

// add starts sending to node name, unless it is this node or known already, and returns
// its new sender (nil if none).
func (r *Relay) add(name string) *peer {
	if name == r.cfg.Self {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.byName[name]; ok {
		return nil
	}
	p := newPeer(r, name)
	r.byName[name] = p
	r.publishPeersLocked()
	r.log.Info("feed relay: node receives this node's changes", "receiver", name)
	return p
}

// drop stops sending to node name.
func (r *Relay) drop(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dropLocked(name) {
		r.log.Info("feed relay: node no longer receives this node's changes", "receiver", name)
	}
}

func (r *Relay) dropLocked(name string) bool {
	p, ok := r.byName[name]
	if !ok {
		return false
	}
	delete(r.byName, name)
	r.publishPeersLocked()
	p.stop()
	return true
}

func (r *Relay) publishPeersLocked() {
	ps := make([]*peer, 0, len(r.byName))
	for _, p := range r.byName {
		ps = append(ps, p)
	}
	r.peers.Store(&ps)
}
