package deploy_test

import (
	"bytes"
	"context"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore"
)

// BenchmarkGetUnderOverwriteStorm reads a 1 MiB key while writers overwrite it without a
// pause, and reports the GET latency's percentiles beside those of the same GET with no
// writer, in the same run. "paced" writers send their bodies as a network client would (64
// KiB, then a millisecond's pause), so that a body takes at least 16 ms to arrive; "fast"
// writers hand theirs over at memory speed. A write that held its key's lock while its
// body arrived made every GET wait for a whole transfer; one that locks only to commit
// makes it wait for a commit at most.
//
//	go test -run '^$' -bench GetUnderOverwriteStorm -benchtime 300x ./objstore/deploy/
func BenchmarkGetUnderOverwriteStorm(b *testing.B) {
	const size = 1 << 20
	for _, storm := range []struct {
		name    string
		writers int
		paced   bool
	}{{"quiet", 0, false}, {"paced-1writer", 1, true}, {"fast-4writers", 4, false}, {"paced-4writers", 4, true}} {
		b.Run(storm.name, func(b *testing.B) {
			l := benchLayer(b, 4, 2, -1)
			ctx := context.Background()
			if _, err := l.PutObject(ctx, "bench", "hot", bytes.NewReader(randomBytes(size, 1)), size, objstore.PutOptions{}); err != nil {
				b.Fatal(err)
			}
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for w := range storm.writers {
				body := randomBytes(size, uint64(2+w))
				wg.Go(func() {
					for {
						select {
						case <-stop:
							return
						default:
						}
						var r io.Reader = bytes.NewReader(body)
						if storm.paced {
							r = &pacedReader{r: r, chunk: 64 << 10, pause: time.Millisecond}
						}
						if _, err := l.PutObject(ctx, "bench", "hot", r, size, objstore.PutOptions{}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			lat := make([]time.Duration, 0, b.N)
			buf := bytes.NewBuffer(make([]byte, 0, size))
			b.SetBytes(size)
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				h, err := l.OpenObject(ctx, "bench", "hot")
				if err != nil {
					b.Fatal(err)
				}
				buf.Reset()
				if _, err := h.WriteRange(ctx, buf, 0, h.Info().Size); err != nil {
					b.Fatal(err)
				}
				h.Close()
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			close(stop)
			wg.Wait()
			slices.Sort(lat)
			b.ReportMetric(float64(percentile(lat, 50).Microseconds()), "p50-µs")
			b.ReportMetric(float64(percentile(lat, 99).Microseconds()), "p99-µs")
			b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-µs")
		})
	}
}

// percentile returns the p-th percentile of sorted durations.
func percentile(sorted []time.Duration, p int) time.Duration {
	return sorted[min(len(sorted)-1, len(sorted)*p/100)]
}

// pacedReader hands out at most chunk bytes per Read, pausing before each but the first:
// a body arriving over a network.
type pacedReader struct {
	r       io.Reader
	chunk   int
	pause   time.Duration
	started bool
}

func (p *pacedReader) Read(b []byte) (int, error) {
	if p.started {
		time.Sleep(p.pause)
	}
	p.started = true
	return p.r.Read(b[:min(len(b), p.chunk)])
}
