package nslock

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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
