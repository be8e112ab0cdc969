package spsc

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// item is a sequence-numbered value whose other words are derived from the sequence
// number, so that a torn or overwritten slot is detected.
type item struct{ seq, a, b, c uint64 }

func makeItem(seq uint64) item {
	a := seq * 0x9E3779B97F4A7C15
	return item{seq: seq, a: a, b: ^seq, c: a ^ (seq << 17)}
}

func (it item) intact() bool { return it == makeItem(it.seq) }

// TestStressLinearizable runs one producer and one consumer on one ring and checks the
// sequential specification of a bounded FIFO queue against what each side observed:
//
//   - every item arrives exactly once, in order, and intact;
//   - a failed TryPush is allowed only when the ring could have been full during the call:
//     the consumer publishes how many items it has popped, a lower bound on head, and if
//     that bound already left room before the call, the failure was spurious;
//   - a failed TryPop (or a short PopBatch) is allowed only when the ring could have been
//     empty: the producer publishes how many items it has pushed, a lower bound on tail.
//
// It runs under GOMAXPROCS 1 (the two sides interleave on one thread, preempted at random
// points) and 2 (they run in parallel), with a small ring so that it is often full and
// often empty.
func TestStressLinearizable(t *testing.T) {
	n := uint64(4_000_000)
	if raceEnabled || testing.Short() {
		n = 300_000
	}
	for _, procs := range []int{1, 2} {
		for _, capacity := range []int{1, 64} {
			t.Run(fmt.Sprintf("procs=%d/cap=%d", procs, capacity), func(t *testing.T) {
				prev := runtime.GOMAXPROCS(procs)
				t.Cleanup(func() { runtime.GOMAXPROCS(prev) })
				stress(t, New[item](capacity), n, 2*time.Minute)
			})
		}
	}
}

func stress(t *testing.T, r *Ring[item], n uint64, limit time.Duration) {
	deadline := time.Now().Add(limit)
	if d, ok := t.Deadline(); ok && d.Add(-10*time.Second).Before(deadline) {
		deadline = d.Add(-10 * time.Second)
	}
	var (
		pushed, popped atomic.Uint64 // published progress of each side
		stop           atomic.Bool   // set on the first violation or time-out
		wg             sync.WaitGroup
	)
	fail := func(format string, args ...any) {
		stop.Store(true)
		t.Errorf(format, args...)
	}
	capacity := uint64(r.Cap())

	wg.Add(2)
	go func() { // producer
		defer wg.Done()
		for i, spins := uint64(0), 0; i < n && !stop.Load(); {
			poppedBefore := popped.Load()
			if r.TryPush(makeItem(i)) {
				i++
				pushed.Store(i)
				continue
			}
			if poppedBefore+capacity > i {
				fail("TryPush of item %d failed with at least %d popped: the ring had room", i, poppedBefore)
				return
			}
			if spins++; spins%1024 == 0 && time.Now().After(deadline) {
				fail("producer timed out after %d items", i)
				return
			}
			runtime.Gosched()
		}
	}()
	go func() { // consumer
		defer wg.Done()
		batch := make([]item, 7)
		for h, spins := uint64(0), 0; h < n && !stop.Load(); {
			pushedBefore := pushed.Load()
			var got []item
			if h%3 == 0 {
				if v, ok := r.TryPop(); ok {
					batch[0] = v
					got = batch[:1]
				}
			} else {
				size := int(h%uint64(len(batch))) + 1
				got = batch[:r.PopBatch(batch[:size])]
				// pushedBefore may trail h: the producer publishes after it pushes.
				if want := min(uint64(size), max(pushedBefore, h)-h); uint64(len(got)) < want {
					fail("PopBatch(%d) at %d returned %d with at least %d pushed", size, h, len(got), pushedBefore)
					return
				}
			}
			if len(got) == 0 {
				if pushedBefore > h {
					fail("pop at %d found the ring empty with at least %d pushed", h, pushedBefore)
					return
				}
				if spins++; spins%1024 == 0 && time.Now().After(deadline) {
					fail("consumer timed out after %d items", h)
					return
				}
				runtime.Gosched()
				continue
			}
			for _, it := range got {
				if it.seq != h || !it.intact() {
					fail("item %d: got %+v, want %+v", h, it, makeItem(h))
					return
				}
				h++
			}
			popped.Store(h)
		}
	}()
	wg.Wait()
	if !t.Failed() && (pushed.Load() != n || popped.Load() != n) {
		t.Fatalf("pushed %d, popped %d, want %d each", pushed.Load(), popped.Load(), n)
	}
	if _, ok := r.TryPop(); ok {
		t.Fatal("ring not empty after the consumer took every item")
	}
}
