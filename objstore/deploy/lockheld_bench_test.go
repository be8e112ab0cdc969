package deploy_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/flashstor/flashstor/objstore"
	"github.com/flashstor/flashstor/objstore/optiming"
)

// BenchmarkPutLockHeld reports, beside a put's time, how long it held its key's write lock
// (optiming's LockHeld, measured by the namespace locks). Before writes locked only to
// commit, the lock was held for the whole put: held/put was 1.
//
//	go test -run '^$' -bench PutLockHeld -benchtime 200x ./objstore/deploy/
func BenchmarkPutLockHeld(b *testing.B) {
	for _, size := range []int{4 << 10, 1 << 20, 16 << 20} {
		b.Run(human(size), func(b *testing.B) {
			l := benchLayer(b, 4, 2, -1)
			body := randomBytes(size, 1)
			var timing optiming.Timing
			ctx := &optiming.Context{Context: context.Background(), Timing: &timing}
			var held time.Duration
			b.SetBytes(int64(size))
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				timing.Reset()
				if _, err := l.PutObject(ctx, "bench", fmt.Sprintf("k%d", i%8), bytes.NewReader(body), int64(size), objstore.PutOptions{}); err != nil {
					b.Fatal(err)
				}
				held += timing.LockHeld()
			}
			total := time.Since(start)
			b.ReportMetric(float64(held.Microseconds())/float64(b.N), "held-µs/op")
			b.ReportMetric(float64(held)/float64(total), "held/put")
		})
	}
}
