package nslock

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore/optiming"
)

func TestExclusion(t *testing.T) {
	var m Map
	var inside, readers atomic.Int32
	var wg sync.WaitGroup
	ctx := context.Background()
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				if (g+i)%3 == 0 {
					unlock, err := m.Lock(ctx, "b/k", "b/other")
					if err != nil {
						t.Error(err)
						return
					}
					if inside.Add(1) != 1 || readers.Load() != 0 {
						t.Error("a writer shares the lock")
					}
					inside.Add(-1)
					unlock()
				} else {
					unlock, err := m.RLock(ctx, "b/k")
					if err != nil {
						t.Error(err)
						return
					}
					readers.Add(1)
					if inside.Load() != 0 {
						t.Error("a reader shares the lock with a writer")
					}
					readers.Add(-1)
					unlock()
				}
			}
		}(g)
	}
	wg.Wait()
	if n := m.Len(); n != 0 {
		t.Fatalf("%d lock entries left after every holder left", n)
	}
}

func TestCancelledWait(t *testing.T) {
	var m Map
	unlock, err := m.Lock(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := m.RLock(ctx, "k"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("RLock while write-locked: %v, want deadline exceeded", err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	// Taking "a" then failing on "k" must release "a".
	if _, err := m.Lock(ctx2, "a", "k"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock: %v", err)
	}
	unlock()
	unlock() // a second call is harmless
	u2, err := m.Lock(context.Background(), "a", "k")
	if err != nil {
		t.Fatalf("locks not released after a cancelled wait: %v", err)
	}
	u2()
	if n := m.Len(); n != 0 {
		t.Fatalf("%d entries left", n)
	}
}

func TestWriterNotStarved(t *testing.T) {
	var m Map
	ctx := context.Background()
	r1, _ := m.RLock(ctx, "k")
	got := make(chan struct{})
	go func() {
		u, err := m.Lock(ctx, "k")
		if err == nil {
			u()
		}
		close(got)
	}()
	// Wait until the writer is queued, then check that a new reader waits behind it.
	deadline := time.Now().Add(5 * time.Second)
	for {
		m.mu.Lock()
		e := m.locks["k"]
		m.mu.Unlock()
		e.lock.mu.Lock()
		waiting := e.lock.writersWaiting
		e.lock.mu.Unlock()
		if waiting == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("writer never queued")
		}
		time.Sleep(time.Millisecond)
	}
	ctx2, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := m.RLock(ctx2, "k"); err == nil {
		t.Fatal("a new reader overtook a waiting writer")
	}
	r1()
	<-got
}

func TestAcquireMixedNoDeadlock(t *testing.T) {
	var m Map
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			a, b := "a", "b"
			if g%2 == 1 {
				a, b = b, a
			}
			for i := 0; i < 300; i++ {
				// Copy a -> b and b -> a at once: read one key, write the other.
				u, err := m.Acquire(ctx, []string{b}, []string{a, b})
				if err != nil {
					t.Error(err)
					return
				}
				u()
			}
		}(g)
	}
	wg.Wait()
	if m.Len() != 0 {
		t.Fatalf("%d entries left", m.Len())
	}
}

// waitQueued waits until some acquisition of name is blocked behind the holder of its lock,
// that is until the entry has a holder and a waiter.
func waitQueued(t *testing.T, m *Map, name string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		m.mu.Lock()
		e := m.locks[name]
		refs := 0
		if e != nil {
			refs = e.refs
		}
		m.mu.Unlock()
		if refs >= 2 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no acquisition of %q queued", name)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestLockWaitTiming(t *testing.T) {
	tests := []struct {
		name    string
		acquire func(m *Map, ctx context.Context) (Unlock, error)
	}{
		{"Lock", func(m *Map, ctx context.Context) (Unlock, error) { return m.Lock(ctx, "a", "k") }},
		{"RLock", func(m *Map, ctx context.Context) (Unlock, error) { return m.RLock(ctx, "k") }},
		{"Acquire", func(m *Map, ctx context.Context) (Unlock, error) {
			return m.Acquire(ctx, []string{"z"}, []string{"k"})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Map
			bg := context.Background()
			holderUnlock, err := m.Lock(bg, "k")
			if err != nil {
				t.Fatal(err)
			}
			defer holderUnlock()

			// A free lock is taken without waiting, and with no clock read reports none.
			var free optiming.Timing
			u, err := m.Lock(&optiming.Context{Context: bg, Timing: &free}, "free")
			if err != nil {
				t.Fatal(err)
			}
			u()
			if got := free.LockWait(); got != 0 {
				t.Errorf("uncontended acquisition reported a wait of %v", got)
			}

			var timing optiming.Timing
			type result struct {
				unlock Unlock
				err    error
				wall   time.Duration
			}
			done := make(chan result, 1)
			go func() {
				start := time.Now()
				u, err := tt.acquire(&m, &optiming.Context{Context: bg, Timing: &timing})
				done <- result{u, err, time.Since(start)}
			}()
			waitQueued(t, &m, "k")
			time.Sleep(50 * time.Millisecond) // hold the lock a while with the waiter blocked
			holderUnlock()
			var r result
			select {
			case r = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("waiter never got the lock")
			}
			if r.err != nil {
				t.Fatal(r.err)
			}
			r.unlock()
			if got := timing.LockWait(); got <= 0 || got > r.wall {
				t.Errorf("LockWait = %v after a blocked acquisition of %v, want in (0, %v]", got, r.wall, r.wall)
			}
		})
	}
}

func TestCancelledWaitTiming(t *testing.T) {
	var m Map
	unlock, err := m.Lock(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	var timing optiming.Timing
	ctx, cancel := context.WithTimeout(&optiming.Context{Context: context.Background(), Timing: &timing}, 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := m.Lock(ctx, "k"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock while write-locked: %v, want deadline exceeded", err)
	}
	wall := time.Since(start)
	if got := timing.LockWait(); got <= 0 || got > wall {
		t.Errorf("LockWait = %v after giving up a wait of %v, want in (0, %v]", got, wall, wall)
	}
}

// The benchmarks measure the uncontended paths that every object operation takes, so that
// a change to the lock shows in their ns/op and allocs/op.
func BenchmarkLock(b *testing.B) {
	var m Map
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		unlock, err := m.Lock(ctx, "bucket/key")
		if err != nil {
			b.Fatal(err)
		}
		unlock()
	}
}

// BenchmarkLockTimed is BenchmarkLock with a Timing attached: an uncontended acquisition
// must cost no more with one than without.
func BenchmarkLockTimed(b *testing.B) {
	var m Map
	ctx := &optiming.Context{Context: context.Background(), Timing: new(optiming.Timing)}
	b.ReportAllocs()
	for b.Loop() {
		unlock, err := m.Lock(ctx, "bucket/key")
		if err != nil {
			b.Fatal(err)
		}
		unlock()
	}
}

func BenchmarkRLock(b *testing.B) {
	var m Map
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		unlock, err := m.RLock(ctx, "bucket/key")
		if err != nil {
			b.Fatal(err)
		}
		unlock()
	}
}

func BenchmarkAcquireCopy(b *testing.B) {
	var m Map
	ctx := context.Background()
	writes, reads := []string{"bucket/dst"}, []string{"bucket/src"}
	b.ReportAllocs()
	for b.Loop() {
		unlock, err := m.Acquire(ctx, writes, reads)
		if err != nil {
			b.Fatal(err)
		}
		unlock()
	}
}

func BenchmarkRLockParallel(b *testing.B) {
	var m Map
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			unlock, err := m.RLock(ctx, "bucket/key")
			if err != nil {
				b.Error(err)
				return
			}
			unlock()
		}
	})
}

// An uncontended acquisition of a bucket and a key reuses the entries the last one left
// and replaces no channel: it allocates its record and its Unlock only.
func TestUncontendedAcquireAllocations(t *testing.T) {
	var m Map
	ctx := context.Background()
	names := []string{"\x00bucket/b", "b/key"}
	n := testing.AllocsPerRun(100, func() {
		unlock, err := m.Acquire(ctx, nil, names)
		if err != nil {
			t.Fatal(err)
		}
		unlock()
	})
	if n > 2 {
		t.Fatalf("Acquire and unlock allocate %v times, want at most 2", n)
	}
	if m.Len() != 0 {
		t.Fatalf("%d names left in the map", m.Len())
	}
}

// TestLockHeldTiming checks that an acquisition with write locks reports, at release, at
// least the time between its acquisition and its release, once however often it is
// released, and that one of read locks only reports nothing.
func TestLockHeldTiming(t *testing.T) {
	var m Map
	var timing optiming.Timing
	ctx := &optiming.Context{Context: context.Background(), Timing: &timing}
	u, err := m.Acquire(ctx, []string{"k"}, []string{"bucket"})
	if err != nil {
		t.Fatal(err)
	}
	const held = 20 * time.Millisecond
	time.Sleep(held)
	u()
	u()
	got := timing.LockHeld()
	if got < held {
		t.Errorf("write lock held for %v reported %v", held, got)
	}
	u, err = m.RLock(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Millisecond)
	u()
	if after := timing.LockHeld(); after != got {
		t.Errorf("a read lock added %v to the write locks' held time", after-got)
	}
	timing.Reset()
	if timing.LockHeld() != 0 || timing.LockWait() != 0 {
		t.Errorf("Reset left %v held, %v waited", timing.LockHeld(), timing.LockWait())
	}
}

// waitWaiting waits until name's lock has the given numbers of waiting writers and readers.
func waitWaiting(t *testing.T, m *Map, name string, writers, readers int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		w, r := -1, -1
		m.mu.Lock()
		if e := m.locks[name]; e != nil {
			e.lock.mu.Lock()
			w, r = e.lock.writersWaiting, e.lock.readersWaiting
			e.lock.mu.Unlock()
		}
		m.mu.Unlock()
		if w == writers && r == readers {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q has %d writers and %d readers waiting, want %d and %d", name, w, r, writers, readers)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestReaderNotStarvedByWriters queues a writer, a reader and another writer behind a
// writer: when the first writer leaves, the reader that waited for it enters before both
// queued writers (a stream of writers would otherwise hold readers back for ever), and the
// writers enter once it leaves.
func TestReaderNotStarvedByWriters(t *testing.T) {
	var m Map
	ctx := context.Background()
	first, err := m.Lock(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	acquire := func(write bool) <-chan Unlock {
		got := make(chan Unlock, 1)
		go func() {
			var u Unlock
			var err error
			if write {
				u, err = m.Lock(ctx, "k")
			} else {
				u, err = m.RLock(ctx, "k")
			}
			if err != nil {
				t.Error(err)
				close(got)
				return
			}
			got <- u
		}()
		return got
	}
	w1 := acquire(true)
	waitWaiting(t, &m, "k", 1, 0)
	r := acquire(false)
	waitWaiting(t, &m, "k", 1, 1)
	w2 := acquire(true)
	waitWaiting(t, &m, "k", 2, 1)
	first()
	var ru Unlock
	select {
	case ru = <-r:
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting reader did not enter after the writer it waited for left")
	}
	select {
	case <-w1:
		t.Fatal("a queued writer entered while the reader held the lock")
	case <-w2:
		t.Fatal("a queued writer entered while the reader held the lock")
	default:
	}
	ru()
	for range 2 { // the writers enter one after the other, in either order
		select {
		case u := <-w1:
			u()
		case u := <-w2:
			u()
		case <-time.After(10 * time.Second):
			t.Fatal("a queued writer did not enter after the reader left")
		}
	}
}

// TestCancelledGrantedReader: a waiting reader granted entry that gives up instead does not
// keep the writers behind it out.
func TestCancelledGrantedReader(t *testing.T) {
	var m Map
	ctx := context.Background()
	first, _ := m.Lock(ctx, "k")
	w := make(chan Unlock, 1)
	go func() {
		u, err := m.Lock(ctx, "k")
		if err == nil {
			w <- u
		}
	}()
	waitWaiting(t, &m, "k", 1, 0)
	rctx, cancel := context.WithCancel(ctx)
	rdone := make(chan error, 1)
	go func() {
		_, err := m.RLock(rctx, "k")
		rdone <- err
	}()
	waitWaiting(t, &m, "k", 1, 1)
	cancel()
	if err := <-rdone; err == nil {
		t.Fatal("a cancelled reader got the lock")
	}
	first()
	select {
	case u := <-w:
		u()
	case <-time.After(10 * time.Second):
		t.Fatal("the writer did not enter after the cancelled reader left")
	}
}
