package audit

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Sink receives batches of encoded records from the consumer goroutine.
type Sink interface {
	// WriteBatch delivers p: whole records, one JSON object per line, each line ending in
	// '\n'. It is called by one goroutine at a time and must not keep p after it returns.
	// It may block (a slow sink makes the rings fill and records drop, never requests
	// wait). An error means the batch was not delivered; it is counted and not retried by
	// the log (a sink retries by itself if it can).
	WriteBatch(p []byte) error
	// Close releases the sink. WriteBatch is not called after it.
	Close() error
}

// Reopener is a Sink that can reopen its destination (log rotation).
type Reopener interface {
	Reopen() error
}

// Config configures a Log. Zero values take the defaults.
type Config struct {
	// Sink receives the batches. Required.
	Sink Sink
	// Shards is the number of shared shards behind Log.Emit (default 2 × GOMAXPROCS).
	Shards int
	// RingSize is the number of records a shard holds before it drops (default 1024,
	// rounded up to a power of two). A shard's slots cost about 300 bytes each.
	RingSize int
	// FlushBytes is the batch size at which the consumer writes to the sink without waiting
	// for the rings to be drained (default 256 KiB).
	FlushBytes int
	// PollInterval bounds how long the consumer sleeps when the rings are empty; producers
	// also wake it when they queue into an empty log (default 1s).
	PollInterval time.Duration
	// Log receives sink errors, at most one line per second (default: discarded).
	Log *slog.Logger
}

// Stats are a log's counters. Accepted = Written + Failed + (records still queued).
type Stats struct {
	Accepted      uint64 // records queued
	DroppedFull   uint64 // records dropped because their shard was full
	DroppedBusy   uint64 // records dropped by Log.Emit because every shared shard was busy
	DroppedClosed uint64 // records emitted after Close
	Written       uint64 // records in batches the sink accepted
	Failed        uint64 // records in batches the sink failed to deliver
	SinkErrors    uint64 // failed WriteBatch calls
}

// Dropped returns every record dropped before it was queued, for any reason.
func (s Stats) Dropped() uint64 { return s.DroppedFull + s.DroppedBusy + s.DroppedClosed }

// Log is an asynchronous audit log. Its methods are safe for concurrent use.
type Log struct {
	cfg Config

	// shared are the shards behind Emit. Fixed at New.
	shared []*Producer

	mu sync.Mutex
	// producers is every shard, shared and dedicated, for the consumer to drain. The slice
	// is replaced (never changed in place) under mu and published through the atomic
	// pointer, so that the consumer reads it without the lock.
	producers atomic.Pointer[[]*Producer]

	// sleeping is set by the consumer before it parks; a producer that queues a record
	// and sees it set wakes the consumer through wake (capacity 1).
	sleeping atomic.Bool
	wake     chan struct{}

	closed    atomic.Bool   // no more records are accepted
	closeOnce sync.Once     // runs the shutdown once
	quit      chan struct{} // closed by Close: the consumer drains and exits
	done      chan struct{} // closed by the consumer when it has exited
	closeErr  error         // the sink's Close error, set before done is closed

	droppedBusy                 atomic.Uint64
	written, failed, sinkErrors atomic.Uint64
	lastErrorLog                time.Time // consumer goroutine only
	batch                       []byte    // consumer goroutine only
	idx                         []uint32  // consumer goroutine only
}

// New starts a log and its consumer goroutine. Close stops it.
func New(cfg Config) (*Log, error) {
	if cfg.Sink == nil {
		return nil, errors.New("audit: no sink")
	}
	if cfg.Shards <= 0 {
		cfg.Shards = 2 * runtime.GOMAXPROCS(0)
	}
	if cfg.RingSize <= 0 {
		cfg.RingSize = 1024
	}
	if cfg.RingSize > 1<<20 {
		return nil, fmt.Errorf("audit: ring size %d above the limit of %d", cfg.RingSize, 1<<20)
	}
	if cfg.FlushBytes <= 0 {
		cfg.FlushBytes = 256 << 10
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	l := &Log{
		cfg:   cfg,
		wake:  make(chan struct{}, 1),
		quit:  make(chan struct{}),
		done:  make(chan struct{}),
		batch: make([]byte, 0, cfg.FlushBytes+4096),
		idx:   make([]uint32, 64),
	}
	l.shared = make([]*Producer, cfg.Shards)
	for i := range l.shared {
		l.shared[i] = newProducer(l, cfg.RingSize)
	}
	all := append([]*Producer(nil), l.shared...)
	l.producers.Store(&all)
	go l.run()
	return l, nil
}

// Producer returns a new shard for the exclusive use of one goroutine at a time (see
// Producer). Each call adds a shard that lives as long as the log: call it once per event
// loop or worker, not per request.
func (l *Log) Producer() *Producer {
	p := newProducer(l, l.cfg.RingSize)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed.Load() {
		p.busy.Store(true) // stopped from the start: every Emit drops
	}
	old := *l.producers.Load()
	all := append(append(make([]*Producer, 0, len(old)+1), old...), p)
	l.producers.Store(&all)
	return p
}

// Emit queues a copy of r on one of the shared shards and reports true, or drops it and
// reports false (every shard tried was full or in use by another goroutine, or the log is
// closed). It never blocks and may be called from any goroutine. A zero r.Time is set to
// now; r's strings may be reused by the caller as soon as Emit returns.
func (l *Log) Emit(r *Record) bool {
	n := len(l.shared)
	start := rand.IntN(n) // per-thread generator: no shared state between callers
	for k := 0; k < n; k++ {
		p := l.shared[(start+k)%n]
		if p.busy.CompareAndSwap(false, true) {
			ok := p.emitLocked(r)
			p.busy.Store(false)
			return ok
		}
	}
	if l.closed.Load() {
		l.shared[start].droppedClosed.Add(1)
	} else {
		l.droppedBusy.Add(1)
	}
	return false
}

// Reopen reopens the sink's destination if it can (a file sink after rotation: the binary
// calls it on SIGHUP). It returns nil for a sink that has nothing to reopen.
func (l *Log) Reopen() error {
	if r, ok := l.cfg.Sink.(Reopener); ok {
		return r.Reopen()
	}
	return nil
}

// Stats returns the log's counters.
func (l *Log) Stats() Stats {
	s := Stats{
		DroppedBusy: l.droppedBusy.Load(),
		Written:     l.written.Load(),
		Failed:      l.failed.Load(),
		SinkErrors:  l.sinkErrors.Load(),
	}
	for _, p := range *l.producers.Load() {
		s.Accepted += p.accepted.Load()
		s.DroppedFull += p.droppedFull.Load()
		s.DroppedClosed += p.droppedClosed.Load()
	}
	return s
}

// Close stops accepting records, waits for the consumer to write every record accepted
// so far, and closes the sink. It returns the sink's Close error. Later calls return the
// same.
func (l *Log) Close() error {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closed.Store(true)
		producers := *l.producers.Load()
		l.mu.Unlock()
		// Once every shard's lock is held, no Emit is in progress and none can start: all
		// that was accepted is in the full rings for the consumer's last drain.
		for _, p := range producers {
			p.stop()
		}
		close(l.quit)
	})
	<-l.done
	return l.closeErr
}

// wakeConsumer wakes the consumer if it is parked. Called by producers after they queue.
func (l *Log) wakeConsumer() {
	if l.sleeping.Load() && l.sleeping.CompareAndSwap(true, false) {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
}
