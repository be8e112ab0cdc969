// Package arena provides per-connection bump allocators made of reusable 64 KiB blocks.
//
// A Pool hands out fixed-size blocks and keeps a bounded free list of them, so blocks are
// reused across connections instead of being garbage collected. An Arena is a bump allocator
// over blocks taken from a Pool: allocation is a pointer bump, and Reset forgets every
// allocation at once (O(1) in the number of allocations). Memory returned by an Arena is
// valid only until the next Reset or Release of that Arena.
//
// Built with -tags arenadebug, every allocation is tracked with its caller and Reset reports
// each allocation that is still referenced from outside the arena (a leak: a view that
// outlived its request). See Pool.SetLeakHandler. Detection asks the garbage collector
// (weak pointers after a forced collection), so it is exact for heap references but can,
// rarely, report a false positive when a stale pointer sits in a goroutine frame that the
// runtime scans conservatively (an asynchronously preempted one). A real leak repeats on
// every request that takes the leaking path; a single report under heavy load may not.
package arena

import (
	"sync"
	"sync/atomic"
)

// BlockSize is the size in bytes of every block a Pool hands out.
const BlockSize = 64 << 10

// Pool is a bounded free list of BlockSize blocks shared by many arenas (and by the I/O
// buffers of a server's connections). It is safe for concurrent use. The zero value is not
// usable; call NewPool.
type Pool struct {
	// mu guards free.
	mu sync.Mutex
	// free holds blocks ready for reuse. INVARIANT: len(free) <= maxFree, and every element
	// has len == cap == BlockSize.
	free [][]byte
	// maxFree bounds how many idle blocks the pool keeps; more are left to the GC.
	maxFree int

	inUse     atomic.Int64 // blocks handed out and not yet returned
	allocated atomic.Int64 // blocks ever created with make (pool misses)
	oversize  atomic.Int64 // allocations larger than a block, served from the heap

	leaks debugState // arenadebug: leak handler and count; empty otherwise
}

// NewPool returns a Pool that keeps at most maxFree idle blocks (maxFree*64 KiB of memory)
// for reuse. maxFree <= 0 keeps none.
func NewPool(maxFree int) *Pool {
	if maxFree < 0 {
		maxFree = 0
	}
	return &Pool{maxFree: maxFree}
}

// Get returns a block of exactly BlockSize bytes whose contents are unspecified. The caller
// owns it until it passes it back to Put.
func (p *Pool) Get() []byte {
	p.inUse.Add(1)
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		p.mu.Unlock()
		return b
	}
	p.mu.Unlock()
	p.allocated.Add(1)
	return make([]byte, BlockSize)
}

// Put returns a block obtained from Get. The caller must not use b afterwards. Blocks of any
// other size are ignored.
func (p *Pool) Put(b []byte) {
	if cap(b) != BlockSize {
		return
	}
	p.inUse.Add(-1)
	b = b[:BlockSize]
	p.mu.Lock()
	if len(p.free) < p.maxFree {
		p.free = append(p.free, b)
	}
	p.mu.Unlock()
}

// PoolStats is a snapshot of a Pool's counters.
type PoolStats struct {
	InUse     int64 // blocks handed out by Get and not yet Put back
	Pooled    int64 // idle blocks kept for reuse
	Allocated int64 // blocks created because the free list was empty
	Oversize  int64 // arena allocations larger than BlockSize, served from the heap
	Leaks     int64 // allocations reported as leaked (arenadebug builds only)
}

// Stats returns a snapshot of the pool's counters.
func (p *Pool) Stats() PoolStats {
	p.mu.Lock()
	pooled := len(p.free)
	p.mu.Unlock()
	return PoolStats{
		InUse:     p.inUse.Load(),
		Pooled:    int64(pooled),
		Allocated: p.allocated.Load(),
		Oversize:  p.oversize.Load(),
		Leaks:     p.leaks.count.Load(),
	}
}
