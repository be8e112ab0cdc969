// Package spsc is a lock-free, bounded, single-producer/single-consumer FIFO ring buffer.
//
// One goroutine at a time may produce (TryPush) and one goroutine at a time may consume
// (TryPop, PopBatch); the two may run in parallel without any lock. A ring may change
// producer (or consumer) goroutine only through a happens-before edge (a mutex, a channel
// or an atomic flag handed from the old owner to the new one). Two producers at once, or
// two consumers at once, corrupt the ring: the race detector reports it.
//
// Memory ordering: the producer writes a slot and then publishes it by storing the tail
// index; the consumer loads the tail before it reads the slot, and stores the head index
// only after it has copied (and cleared) the slot. Go's sync/atomic operations are
// sequentially consistent, which gives the release/acquire pairs this needs. The producer's
// and the consumer's indices sit on separate cache lines, each next to the other side's
// cached copy, so that the two sides do not write to a shared line in steady state.
package spsc

import (
	"fmt"
	"math/bits"
	"sync/atomic"
)

// cacheLine is the padding unit. 128 bytes covers the adjacent-line prefetcher of x86 and
// the 128-byte lines of some arm64 cores.
const cacheLine = 128

// MaxCapacity is the largest capacity New accepts.
const MaxCapacity = 1 << 30

// Ring is a bounded SPSC FIFO queue of T. The zero value is not usable: call New.
type Ring[T any] struct {
	_ [cacheLine]byte

	// Consumer's line. head is the index of the next slot to read: written only by the
	// consumer, read by the producer. cachedTail is the consumer's last view of tail, used
	// so that it loads the shared tail only when the ring looks empty.
	head       atomic.Uint64
	cachedTail uint64
	_          [cacheLine - 16]byte

	// Producer's line. tail is the index of the next slot to write: written only by the
	// producer, read by the consumer. cachedHead is the producer's last view of head.
	tail       atomic.Uint64
	cachedHead uint64
	_          [cacheLine - 16]byte

	// Read-only after New. INVARIANT: len(buf) is a power of two and mask == len(buf)-1;
	// head <= tail <= head+len(buf); slots [head, tail) (mod len(buf)) hold queued items.
	mask uint64
	buf  []T
	_    [cacheLine - 32]byte
}

// New returns an empty ring that holds capacity items, rounded up to a power of two.
// It panics if capacity is below 1 or above MaxCapacity, as make does for a bad size.
func New[T any](capacity int) *Ring[T] {
	if capacity < 1 || capacity > MaxCapacity {
		panic(fmt.Sprintf("spsc: capacity %d out of range [1, %d]", capacity, MaxCapacity))
	}
	n := uint64(1) << bits.Len64(uint64(capacity-1))
	return &Ring[T]{mask: n - 1, buf: make([]T, n)}
}

// Cap returns the number of items the ring holds when full.
func (r *Ring[T]) Cap() int { return len(r.buf) }

// Len returns the number of queued items. From any goroutine other than the producer or
// the consumer it is only an estimate: the two sides move while it is read.
func (r *Ring[T]) Len() int {
	// head first: tail only grows and never falls behind head, so a tail loaded after
	// head is never smaller than it.
	h := r.head.Load()
	t := r.tail.Load()
	return int(t - h)
}

// TryPush appends v and reports true, or reports false at once when the ring is full.
// It never blocks and never allocates. Producer only.
func (r *Ring[T]) TryPush(v T) bool {
	t := r.tail.Load() // only this goroutine writes tail: a plain view of our own index
	if t-r.cachedHead >= uint64(len(r.buf)) {
		r.cachedHead = r.head.Load()
		if t-r.cachedHead >= uint64(len(r.buf)) {
			return false
		}
	}
	r.buf[t&r.mask] = v
	r.tail.Store(t + 1) // publishes the slot to the consumer
	return true
}

// TryPop removes and returns the oldest item, or reports false at once when the ring is
// empty. The slot is cleared so that the ring does not keep what v points to alive.
// Consumer only.
func (r *Ring[T]) TryPop() (v T, ok bool) {
	h := r.head.Load()
	if h == r.cachedTail {
		r.cachedTail = r.tail.Load()
		if h == r.cachedTail {
			return v, false
		}
	}
	slot := &r.buf[h&r.mask]
	v = *slot
	var zero T
	*slot = zero
	r.head.Store(h + 1) // hands the slot back to the producer
	return v, true
}

// PopBatch removes up to len(dst) of the oldest items into dst, in order, and returns how
// many it removed (0 when the ring is empty). It publishes the new head once for the whole
// batch. Consumer only.
func (r *Ring[T]) PopBatch(dst []T) int {
	h := r.head.Load()
	avail := r.cachedTail - h
	if avail < uint64(len(dst)) {
		r.cachedTail = r.tail.Load()
		avail = r.cachedTail - h
	}
	n := min(avail, uint64(len(dst)))
	if n == 0 {
		return 0
	}
	// Copy in at most two runs: up to the end of buf, then from its start.
	start := h & r.mask
	first := min(n, uint64(len(r.buf))-start)
	copy(dst, r.buf[start:start+first])
	clear(r.buf[start : start+first])
	if first < n {
		copy(dst[first:n], r.buf[:n-first])
		clear(r.buf[:n-first])
	}
	r.head.Store(h + n)
	return int(n)
}
