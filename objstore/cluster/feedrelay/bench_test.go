package feedrelay

import (
	"context"
	"testing"
)

// BenchmarkPublishNoRelay is a publish on a feed without subscribers: the base of
// BenchmarkPublish.
func BenchmarkPublishNoRelay(b *testing.B) {
	l := &testLayer{}
	ev := put("bkt", "dir/key", "x")
	b.ReportAllocs()
	for range b.N {
		l.Publish(context.Background(), ev)
	}
}

// BenchmarkPublish is the relay's cost in a writer's call: with no receiver (what every
// write of a cluster without mounts pays) and with one receiver on loopback (a request
// per batch; writers in parallel share requests).
func BenchmarkPublish(b *testing.B) {
	for _, tc := range []struct {
		name      string
		receivers int
		parallel  bool
	}{{"receivers=0", 0, false}, {"receivers=1", 1, false}, {"receivers=1/writers=32", 1, true}} {
		b.Run(tc.name, func(b *testing.B) {
			c := newEtcd(b)
			a := startNode(b, c, Config{}, nil)
			a.stopSeeing() // the relay's cost alone
			for range tc.receivers {
				r := startNode(b, c, Config{}, nil)
				r.receive(b, a)
			}
			ev := put("bkt", "dir/key", "x")
			b.ReportAllocs()
			b.ResetTimer()
			if tc.parallel {
				b.SetParallelism(16)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						a.layer.Publish(context.Background(), ev)
					}
				})
			} else {
				for range b.N {
					a.layer.Publish(context.Background(), ev)
				}
			}
			b.StopTimer()
			s := a.relay.Stats()
			if s.Batches > 0 {
				b.ReportMetric(float64(s.Sent)/float64(s.Batches), "events/request")
			}
			if s.TimedOut != 0 || s.Lost != 0 {
				b.Fatalf("stats %+v", s)
			}
		})
	}
}
