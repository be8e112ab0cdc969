package spsc

import (
	"runtime"
	"sync"
	"testing"
)

// BenchmarkPushPop measures one push and one pop on the same goroutine (the cost of the
// hand-off itself, no cache-line transfer), beside a buffered channel doing the same.
func BenchmarkPushPop(b *testing.B) {
	b.Run("ring", func(b *testing.B) {
		r := New[uint64](1024)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			r.TryPush(uint64(i))
			r.TryPop()
		}
	})
	b.Run("chan", func(b *testing.B) {
		c := make(chan uint64, 1024)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			select {
			case c <- uint64(i):
			default:
			}
			select {
			case <-c:
			default:
			}
		}
	})
}

// BenchmarkTransfer measures items per second from a producer goroutine to a consumer
// goroutine (ns/op is per item), beside a buffered channel of the same capacity. Both
// sides spin with runtime.Gosched when the queue is full or empty, as the audit log does.
func BenchmarkTransfer(b *testing.B) {
	b.Run("ring", func(b *testing.B) {
		r := New[uint64](1024)
		b.ReportAllocs()
		n := b.N
		var wg sync.WaitGroup
		wg.Add(1)
		b.ResetTimer()
		go func() {
			defer wg.Done()
			for i := 0; i < n; {
				if r.TryPush(uint64(i)) {
					i++
				} else {
					runtime.Gosched()
				}
			}
		}()
		buf := make([]uint64, 64)
		for got := 0; got < n; {
			k := r.PopBatch(buf)
			if k == 0 {
				runtime.Gosched()
			}
			got += k
		}
		wg.Wait()
	})
	b.Run("chan", func(b *testing.B) {
		c := make(chan uint64, 1024)
		b.ReportAllocs()
		n := b.N
		b.ResetTimer()
		go func() {
			for i := 0; i < n; i++ {
				c <- uint64(i)
			}
		}()
		for got := 0; got < n; got++ {
			<-c
		}
	})
}
