package audit

import (
	"encoding/json"
	"runtime"
	"testing"
	"time"
)

// discardSink counts batches and keeps nothing.
type discardSink struct{ bytes int }

func (d *discardSink) WriteBatch(p []byte) error { d.bytes += len(p); return nil }
func (d *discardSink) Close() error              { return nil }

// BenchmarkEncode compares AppendJSON with encoding/json's Marshal of the same record in
// the same run (the reference it must match byte for byte).
func BenchmarkEncode(b *testing.B) {
	r := recordFor(12345)
	b.Run("AppendJSON", func(b *testing.B) {
		buf := make([]byte, 0, 1024)
		b.ReportAllocs()
		for b.Loop() {
			buf = AppendJSON(buf[:0], &r)
		}
		b.SetBytes(int64(len(buf)))
	})
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		var n int
		for b.Loop() {
			out, _ := json.Marshal(r)
			n = len(out)
		}
		b.SetBytes(int64(n))
	})
}

// BenchmarkEmit measures what a request pays to audit itself: Emit, the copy into a slot
// and the hand-off. When the ring fills, the timer stops while the consumer drains it, so
// every timed Emit is an accepted one (no drop).
func BenchmarkEmit(b *testing.B) {
	for _, mode := range []string{"producer", "shared"} {
		b.Run(mode, func(b *testing.B) {
			l, err := New(Config{Sink: &discardSink{}, RingSize: 1 << 14, Shards: 4})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			emit := l.Emit
			if mode == "producer" {
				emit = l.Producer().Emit
			}
			r := recordFor(12345)
			r.Time = time.Now()
			b.ReportAllocs()
			for b.Loop() {
				for !emit(&r) {
					b.StopTimer()
					for l.queued() {
						runtime.Gosched()
					}
					b.StartTimer()
				}
			}
		})
	}
}

// BenchmarkPipeline measures records per second through the whole log (Emit, the
// consumer's encoding, a sink that discards), the producer retrying when the ring is
// full: the consumer bounds it. Compare with BenchmarkEncode/AppendJSON, its floor.
func BenchmarkPipeline(b *testing.B) {
	l, err := New(Config{Sink: &discardSink{}, RingSize: 1024})
	if err != nil {
		b.Fatal(err)
	}
	p := l.Producer()
	r := recordFor(12345)
	r.Time = time.Now()
	b.ReportAllocs()
	for b.Loop() {
		for !p.Emit(&r) {
			runtime.Gosched()
		}
	}
	l.Close() // waits for the last records: part of the measure
}

// TestEmitDoesNotAllocate checks the steady state of the whole pipeline: Emit, the
// consumer's encoding and a sink that keeps nothing. Every record is accepted (Emit is
// retried while the ring is full), so the drop path does not hide an allocation.
func TestEmitDoesNotAllocate(t *testing.T) {
	l := newLog(t, Config{Sink: &discardSink{}, RingSize: 64})
	p := l.Producer()
	r := recordFor(3)
	r.Time = time.Now()
	emit := func() {
		for !p.Emit(&r) {
			runtime.Gosched()
		}
	}
	for i := 0; i < 3*64; i++ { // slots are reused in turn: this gives each one its storage
		emit()
	}
	before := l.Stats().Accepted
	if n := testing.AllocsPerRun(2000, emit); n > 0.01 {
		t.Fatalf("Emit allocates %v times per record", n)
	}
	if got := l.Stats().Accepted - before; got != 2001 {
		t.Fatalf("%d records accepted during the measure, want 2001", got)
	}
}
