package audit

import (
	"sync/atomic"
	"time"

	"github.com/flashstor/flashstor/internal/spsc"
)

// Producer is one shard of the audit log: the producer side of two SPSC rings. Records
// from one Producer are written in the order it emitted them.
//
// A Producer from Log.Producer belongs to one goroutine at a time (an event loop, a
// worker); handing it to another goroutine needs a happens-before edge, as for any value
// that is not safe for concurrent use.
type Producer struct {
	log *Log

	// busy is the shard's try-lock: held by Emit while it fills a slot, and by Close for
	// good once it has stopped the shard. For a dedicated Producer it is never contended
	// except by Close; for a shared shard it keeps two goroutines from producing at once.
	busy atomic.Bool

	// free holds the indices of empty slots (produced by the consumer goroutine, consumed
	// here); full holds the indices of filled slots, in emission order (produced here,
	// consumed by the consumer goroutine). INVARIANT: every slot index is in exactly one of
	// free, full, or the hands of the side that popped it.
	free, full *spsc.Ring[uint32]
	slots      []slot

	accepted, droppedFull, droppedClosed atomic.Uint64
}

func newProducer(l *Log, size int) *Producer {
	p := &Producer{log: l, free: spsc.New[uint32](size), full: spsc.New[uint32](size)}
	p.slots = make([]slot, p.free.Cap())
	for i := range p.slots {
		p.free.TryPush(uint32(i)) // before any goroutine sees p: no concurrent consumer yet
	}
	return p
}

// Emit queues a copy of r and reports true, or drops it and reports false when the shard
// has no free slot or the log is closed. It never blocks. A zero r.Time is set to now.
// r's strings may be reused by the caller as soon as Emit returns.
func (p *Producer) Emit(r *Record) bool {
	if !p.busy.CompareAndSwap(false, true) {
		// Only Close holds a dedicated Producer's lock for long.
		p.droppedClosed.Add(1)
		return false
	}
	ok := p.emitLocked(r)
	p.busy.Store(false)
	return ok
}

// emitLocked queues r; the caller holds p.busy.
func (p *Producer) emitLocked(r *Record) bool {
	if p.log.closed.Load() {
		p.droppedClosed.Add(1)
		return false
	}
	i, ok := p.free.TryPop()
	if !ok {
		p.droppedFull.Add(1)
		return false
	}
	s := &p.slots[i]
	s.fill(r)
	if s.rec.Time.IsZero() {
		s.rec.Time = time.Now()
	}
	p.full.TryPush(i) // never full: it has room for every slot
	p.accepted.Add(1)
	p.log.wakeConsumer()
	return true
}

// stop takes the shard's lock for good, waiting for an Emit in progress (a few
// microseconds at most) to finish. Called by Close once closed is set.
func (p *Producer) stop() {
	for !p.busy.CompareAndSwap(false, true) {
		time.Sleep(10 * time.Microsecond)
	}
}
